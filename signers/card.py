"""The IC-card key backend: SignedInfo is signed on the enterprise's card, over PC/SC.

The card is found by reader name or by card number (every reader is asked). Before every
signature the backend checks that the card in the reader is the one bound to the enterprise
— same card number, same certificate (R-COM-3) — and that the certificate is in its validity
period; then it verifies the PIN and lets the card sign: RSA over a DigestInfo the backend
hashes (SHA-1 or SHA-256), SM2 over the message itself (the card computes SM3 with Z for the
user id 1234567812345678). The PIN comes from the configuration or a secret file (read at
each use, so a corrected file takes effect without a restart) and is never logged.

A PIN the card refused is never presented again: each try burns one of the card's three, and
retrying declarations would lock the card within minutes. Fix the PIN (file), then retry.

Every failure is a `CardError`, a `SigningError`: the declaration waits in signing_failed with
the reason, retryable, nothing sent.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from devices import iccard, pcsc
from gateway.errors import (
    CardAbsent,
    CardError,
    CardLocked,
    CardMismatch,
    CardRemoved,
    CardTimeout,
    CertificateExpired,
    ConfigError,
    ReaderGone,
    WrongPin,
)
from signers.algorithms import KeyType, Suite, hash_algorithm
from signers.keys import certificate_key_type, serial_hex

log = logging.getLogger(__name__)

# The card errors live in the one tree (gateway/errors.py); importable from here as before.
__all__ = [
    "CardAbsent",
    "CardError",
    "CardKey",
    "CardLocked",
    "CardMismatch",
    "CardRemoved",
    "CardTimeout",
    "CertificateExpired",
    "Health",
    "ReaderGone",
    "WrongPin",
]


@dataclass(frozen=True)
class Health:
    """What ops see of one card."""

    reader: str | None
    card_number: str | None
    present: bool
    serial: str | None = None
    subject: str | None = None
    not_after: datetime | None = None
    days_left: int | None = None
    valid: bool = False
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["not_after"] = self.not_after.isoformat() if self.not_after else None
        return out


class CardKey:
    """A `KeyBackend` on one enterprise IC card."""

    def __init__(
        self,
        *,
        reader: str | None = None,
        card_number: str | None = None,
        pin: str | None = None,
        pin_file: str | Path | None = None,
        certificate: x509.Certificate | None = None,
    ) -> None:
        if not reader and not card_number:
            raise ConfigError("a card key needs a reader or a card number")
        if (pin is None) == (pin_file is None):
            raise ConfigError("give the card PIN as `pin` or as `pin_file` (one of them)")
        self._reader = reader
        self._card_number = card_number
        self._pin_value = pin
        self._pin_file = Path(pin_file) if pin_file else None
        self._bound_certificate = certificate
        self._refused_pin: str | None = None
        self._conn: Any = None
        self._connected_reader: str | None = None
        self._lock = threading.Lock()
        with self._lock:
            self._certificate = self._with_session(self._read_certificate)
        key_type = certificate_key_type(self._certificate)
        if key_type is None:
            raise ConfigError(f"{self.describe()}: the card's key is neither RSA nor SM2")
        self._key_type = key_type
        self._check_binding_certificate(self._certificate)
        log.info("card key ready: %s", self.describe())

    # --- KeyBackend ---------------------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def key_type(self) -> str:
        return self._key_type

    @property
    def card_number(self) -> str | None:
        return self._card_number

    @property
    def reader(self) -> str | None:
        return self._connected_reader or self._reader

    def sign(self, data: bytes, suite: Suite) -> bytes:
        if suite.key_type != self._key_type:
            raise ConfigError(
                f"suite {suite.name} needs an {suite.key_type} key; the card's is {self._key_type}"
            )
        if self._key_type == KeyType.SM2 and suite.hash_name != "sm3":
            raise ConfigError(f"suite {suite.name}: SM2 signs with SM3, not {suite.hash_name}")
        with self._lock:
            return self._with_session(lambda: self._sign_on_card(data, suite))

    def describe(self) -> str:
        where = self.reader or f"card {self._card_number}"
        cert = getattr(self, "_certificate", None)
        if cert is None:
            return f"IC card in {where}"
        return (
            f"IC card {self._card_number} in {where} ({certificate_key_type(cert)}, serial "
            f"{serial_hex(cert)}, {cert.subject.rfc4514_string()}, valid until "
            f"{cert.not_valid_after_utc:%Y-%m-%d})"
        )

    def __repr__(self) -> str:
        return f"<CardKey {self.describe()}>"

    def health(self, warn_days: int = 30) -> Health:
        """Card present, certificate valid, days to expiry — without presenting the PIN."""
        with self._lock:
            try:
                cert = self._with_session(self._read_certificate)
            except CardError as exc:
                return Health(self.reader, self._card_number, False, problem=exc.message)
        now = datetime.now(UTC)
        days = (cert.not_valid_after_utc - now).days
        valid = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        problem = None if valid else "certificate expired or not yet valid"
        if valid and days < warn_days:
            problem = f"certificate expires in {days} days"
        return Health(
            self.reader,
            self._card_number,
            True,
            serial_hex(cert),
            cert.subject.rfc4514_string(),
            cert.not_valid_after_utc,
            days,
            valid,
            problem,
        )

    def close(self) -> None:
        with self._lock:
            self._drop()

    # --- a card session -----------------------------------------------------------------------

    def _with_session(self, job: Any) -> Any:
        """Run `job` on a selected card; a reset card (re-inserted, or reset by another
        program) gets one new session. Device errors become CardErrors."""
        for attempt in (1, 2):
            try:
                self._open()
                return job()
            except pcsc.CardReset as exc:
                where = self._where()
                self._drop()
                if attempt == 2:
                    raise CardRemoved(f"{where}: the card keeps being reset") from exc
            except pcsc.DeviceError as exc:
                where = self._where()
                self._drop()
                raise _card_error(exc, where) from exc
        raise AssertionError("unreachable")

    def _open(self) -> None:
        if self._conn is not None:
            return
        readers = [self._reader] if self._reader else pcsc.reader_names()
        if not readers:
            raise pcsc.ReaderGone("no card reader connected")
        last: pcsc.DeviceError = pcsc.NoCard(f"no card {self._card_number} in any reader")
        for name in readers:
            try:
                self._conn, self._connected_reader = pcsc.connect(name), name
                number = self._select()
            except (pcsc.NoCard, pcsc.CardStatus) as exc:
                self._drop()
                last = exc
                continue
            if self._card_number is None or number == self._card_number:
                if self._card_number is None:
                    self._card_number = number
                return
            self._drop()
            if self._reader:
                raise CardMismatch(
                    f"当前卡号 {number} 与用户注册信息卡号 {self._card_number} 不一致: the card "
                    f"in {name} is not the one bound to this enterprise (R-COM-3)"
                )
        raise last

    def _select(self) -> str:
        """Select the e-port application; the card number of the card in the reader."""
        self._apdu(b"\x00\xa4\x04\x00" + bytes([len(iccard.AID)]) + iccard.AID)
        return self._apdu(b"\x80\xca\x01\x01\x00").decode()

    def _drop(self) -> None:
        if self._conn is not None:
            pcsc.disconnect(self._conn)
        self._conn = self._connected_reader = None

    def _where(self) -> str:
        return f"card {self._card_number or '?'} in {self.reader or 'no reader'}"

    def _apdu(self, command: bytes) -> bytes:
        data, status = pcsc.transmit(self._conn, self.reader or "?", command)
        if status != iccard.SW_OK:
            raise pcsc.CardStatus(f"card answered {status:04X}", status)
        return data

    def _read_certificate(self) -> x509.Certificate:
        size = int.from_bytes(self._apdu(b"\x80\xca\x01\x02\x00"), "big")
        der = b""
        while len(der) < size:
            der += self._apdu(b"\x00\xb0" + len(der).to_bytes(2, "big") + b"\x00")
        return x509.load_der_x509_certificate(der)

    def _check_binding_certificate(self, cert: x509.Certificate) -> None:
        bound = self._bound_certificate
        if bound is not None and bound.public_bytes(Encoding.DER) != cert.public_bytes(
            Encoding.DER
        ):
            raise CardMismatch(
                f"{self._where()}: the card's certificate (serial {serial_hex(cert)}) is not "
                f"the one registered for the enterprise (serial {serial_hex(bound)}) (R-COM-3)"
            )

    def _sign_on_card(self, data: bytes, suite: Suite) -> bytes:
        # The card in the reader now may not be the one read at start-up (R-COM-3): select
        # and check it for every signature (a few APDUs, well under a millisecond each).
        number = self._select()
        if number != self._card_number:
            raise CardMismatch(
                f"当前卡号 {number} 与用户注册信息卡号 {self._card_number} 不一致: another card "
                f"is in {self.reader} (R-COM-3)"
            )
        cert = self._read_certificate()
        self._check_binding_certificate(cert)
        if cert.public_bytes(Encoding.DER) != self._certificate.public_bytes(Encoding.DER):
            raise CardMismatch(f"{self._where()}: another card was inserted (R-COM-3)")
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateExpired(
                f"{self._where()}: certificate serial {serial_hex(cert)} is valid from "
                f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}; "
                "renew the card's certificate"
            )
        self._verify_pin()
        mode, payload = self._payload(data, suite)
        return self._sign_apdus(mode, payload)

    def _pin(self) -> str:
        if self._pin_file is None:
            assert self._pin_value is not None
            return self._pin_value
        try:
            return self._pin_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read the card PIN file {self._pin_file}") from exc

    def _verify_pin(self) -> None:
        pin = self._pin()
        digest = hashlib.sha256(pin.encode()).hexdigest()
        if digest == self._refused_pin:
            raise WrongPin(
                f"{self._where()}: the configured PIN was refused before; it is not presented "
                "again (each try uses one of the card's 3) — correct the PIN, then retry"
            )
        command = b"\x00\x20\x00\x00" + bytes([len(pin.encode())]) + pin.encode()
        try:
            self._apdu(command)
        except pcsc.CardStatus as exc:
            if exc.sw == iccard.SW_LOCKED:
                raise CardLocked(
                    f"{self._where()}: the card is locked (too many wrong PINs); "
                    "it must be unlocked at the e-port service desk"
                ) from exc
            if exc.sw & 0xFFF0 == 0x63C0:
                self._refused_pin = digest
                raise WrongPin(
                    f"{self._where()}: wrong PIN, {exc.sw & 0x0F} tries left before the card locks"
                ) from exc
            raise

    def _payload(self, data: bytes, suite: Suite) -> tuple[int, bytes]:
        if self._key_type == KeyType.SM2:
            return iccard.SIGN_SM2_SM3, data
        prefix = iccard.DIGEST_INFO.get(suite.hash_name)
        if prefix is None:
            raise ConfigError(f"the card signs RSA over SHA-1 or SHA-256, not {suite.hash_name}")
        hasher = hashes.Hash(hash_algorithm(suite.hash_name))
        hasher.update(data)
        return iccard.SIGN_RSA_DIGESTINFO, prefix + hasher.finalize()

    def _sign_apdus(self, mode: int, payload: bytes) -> bytes:
        chunks = [payload[i : i + 255] for i in range(0, len(payload), 255)] or [b""]
        for chunk in chunks[:-1]:
            self._apdu(bytes([0x90, 0x2A, 0x9E, mode, len(chunk)]) + chunk)
        last = chunks[-1]
        return self._apdu(bytes([0x80, 0x2A, 0x9E, mode, len(last)]) + last + b"\x00")


def _card_error(exc: pcsc.DeviceError, where: str) -> CardError:
    text = f"{where}: {exc}"
    if isinstance(exc, pcsc.CardRemoved):
        return CardRemoved(f"{where}: the card was pulled during signing; nothing was sent")
    if isinstance(exc, pcsc.NoCard):
        return CardAbsent(text)
    if isinstance(exc, pcsc.ReaderGone):
        return ReaderGone(text)
    if isinstance(exc, pcsc.CardStatus):
        return CardError(f"{where}: the card refused a command (SW {exc.sw:04X})")
    return CardError(text)
