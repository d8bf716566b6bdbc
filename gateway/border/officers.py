"""Customs officers (海关关员) and their login by IC card and PIN (R-BDR-1, issue 14 item 4).

An officer is registered with the card the data centre made for them: its card number and
the SHA-256 of its certificate. Login reads the card in the officer's reader over PC/SC
(the same card stack as the enterprises' signing cards: `signers.card.CardKey`), presents the
PIN and has the card sign a fresh random challenge, which is verified against the registered
certificate: the card is there, it is the registered one, and the PIN is right. A wrong PIN is
refused with the tries left (the card locks after three, as real cards do); the PIN is never
stored or logged.

Every officer action is recorded in the core's audit log (`gateway.core.audit`): actor
`officer:<officer no>`, the action, the resident's masked ID number, the outcome.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.border.people_models import BrdOfficer, BrdSession
from gateway.border.sessions import end, new_token, purge, token_hash
from gateway.core import audit
from gateway.core.db import Database
from gateway.errors import (
    CardError,
    CardLocked,
    InvalidInput,
    LoginRefused,
    NotFound,
    SessionExpired,
    WrongPin,
)
from signers import get_suite, sm2
from signers.algorithms import KeyType
from signers.card import CardKey
from signers.keys import certificate_key_type


@dataclass(frozen=True)
class Officer:
    id: int
    officer_no: str
    name: str
    district: str

    @property
    def actor(self) -> str:
        return f"officer:{self.officer_no}"


def cert_digest(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def register(
    session: Session, officer_no: str, name: str, district: str, card_number: str,
    certificate: x509.Certificate,
) -> None:  # fmt: skip
    """Register (or update) an officer and the card they log in with."""
    if not officer_no or len(officer_no) > 20 or len(district) != 4 or not district.isdigit():
        raise InvalidInput("officer no.: 1 to 20 characters; district: 4 digits (关区代码)")
    row = session.scalar(select(BrdOfficer).where(BrdOfficer.officer_no == officer_no))
    if row is None:
        row = BrdOfficer(officer_no=officer_no)
        session.add(row)
    row.name, row.district, row.card_number = name, district, card_number
    row.cert_sha256, row.enabled = cert_digest(certificate), True
    session.flush()


def read_card(reader: str, pin: str) -> tuple[str, x509.Certificate]:
    """The card number and certificate of the card in `reader`, once the card has proved,
    with the PIN, that it holds the certificate's key."""
    try:
        card = CardKey(reader=reader, pin=pin)
        try:
            challenge = secrets.token_bytes(32)
            suite = get_suite("sm2-sm3" if card.key_type == KeyType.SM2 else "rsa-sha256")
            signature = card.sign(challenge, suite)
            number, cert = card.card_number or "", card.certificate
        finally:
            card.close()
    except WrongPin as exc:
        raise LoginRefused("wrong_pin", exc.message.split(": ", 1)[-1]) from None
    except CardLocked:
        raise LoginRefused("card_locked", "the card is locked (too many wrong PINs)") from None
    except CardError as exc:
        raise LoginRefused("card", f"the officer card could not be read: {exc.message}") from None
    if not _verified(cert, signature, challenge):
        raise LoginRefused("card", "the card's signature does not match its certificate")
    return number, cert


def _verified(cert: x509.Certificate, signature: bytes, challenge: bytes) -> bool:
    if certificate_key_type(cert) == KeyType.SM2:  # cryptography knows no SM2 curve
        return sm2.verify(cert, signature, challenge)
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        return False
    try:
        public.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def login(session: Session, reader: str, pin: str, now: datetime) -> tuple[str, Officer]:
    """Card + PIN → a session token (shown once) for the registered officer."""
    number, cert = read_card(reader, pin)
    row = session.scalar(select(BrdOfficer).where(BrdOfficer.card_number == number))
    if row is None or not row.enabled:
        raise LoginRefused("unknown_officer", f"card {number} belongs to no enabled officer")
    if row.cert_sha256 != cert_digest(cert):
        raise LoginRefused("card_mismatch", f"card {number} carries another certificate than "
                           "the one registered for the officer")  # fmt: skip
    purge(session, now)
    token, digest = new_token()
    session.add(BrdSession(token_hash=digest, officer_id=row.id, created_at=now, last_seen_at=now))
    return token, _officer(row)


def _officer(row: BrdOfficer) -> Officer:
    return Officer(row.id, row.officer_no, row.name, row.district)


def touch(session: Session, token: str | None, now: datetime, idle: timedelta) -> Officer:
    """The officer of a live session, its idle clock restarted."""
    row = session.scalar(select(BrdSession).where(BrdSession.token_hash == token_hash(token or "")))
    if row is None or row.officer_id is None or row.ended_at is not None:
        raise SessionExpired("no such officer session, or it ended: log in with the card again")
    if now - row.last_seen_at > idle:
        end(row, now, "timeout")
        raise SessionExpired("长时间不操作系统，提示超时: log in with the card again")
    officer = session.get(BrdOfficer, row.officer_id)
    if officer is None or not officer.enabled:
        end(row, now, "refused")
        raise SessionExpired("the officer is no longer enabled")
    row.last_seen_at = now
    return _officer(officer)


def logout(session: Session, token: str, now: datetime) -> None:
    row = session.scalar(select(BrdSession).where(BrdSession.token_hash == token_hash(token)))
    if row is None or row.officer_id is None:
        raise SessionExpired("no such officer session")
    if row.ended_at is None:
        end(row, now, "logout")


def by_number(session: Session, officer_no: str) -> Officer:
    row = session.scalar(select(BrdOfficer).where(BrdOfficer.officer_no == officer_no))
    if row is None:
        raise NotFound(f"no officer {officer_no!r}")
    return _officer(row)


@contextmanager
def recorded(db: Database, officer: Officer, action: str, target: str) -> Iterator[audit.Action]:
    """One officer action, recorded however it ends (`target`: a masked ID number or a query's
    conditions, never a full ID number or anything biometric)."""
    with audit.audited(db, officer.actor, action, target) as done:
        yield done
