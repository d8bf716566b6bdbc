"""Signing: declared messages are signed with the enterprise's key, wrapped and put in the outbox.

The signature is computed before the first write of the transaction, so a slow key (an IC
card manages about four signatures a second) never holds the database's write lock. The
signed message, its envelope, the outbox row and the status changes commit together: a
crash before the commit leaves the message pending, after it the relay will send it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.codes import EXPORT_RECEIVER_ID
from gateway.core import logs, metrics
from gateway.core.config import KeyConfig
from gateway.core.db import Database
from gateway.core.history import OUTBOX, Change, Notifier, Source, record, record_all
from gateway.core.models import (
    MESSAGES,
    Enterprise,
    Message,
    document_refs_of,
    documents_of,
    utcnow,
)
from gateway.core.status import Status
from gateway.errors import ConfigError, GatewayError, SigningError
from signers import FileKey, KeyBackend, Suite, get_suite, register_suite, sign
from transports.envelope import wrap
from transports.topology import Topology

log = logging.getLogger(__name__)


class Keyring:
    """Key backends per enterprise, loaded once: loading a key costs ~70 ms, signing ~1 ms."""

    def __init__(
        self,
        algorithms: dict[str, dict[str, str]] | None = None,
        configured: dict[str, KeyConfig] | None = None,
    ) -> None:
        self._keys: dict[int, tuple[KeyBackend, Suite]] = {}
        self._lock = threading.Lock()
        self._algorithms = algorithms or {}
        #: key configs from the config file: the database binding never holds a card PIN
        self._configured = configured or {}

    def for_enterprise(self, ent: Enterprise) -> tuple[KeyBackend, Suite]:
        with self._lock:
            found = self._keys.get(ent.id)
            if found is None:
                found = self._load(ent)
                self._keys[ent.id] = found
            return found

    def _load(self, ent: Enterprise) -> tuple[KeyBackend, Suite]:
        bind = ent.key_binding or {}
        if bind.get("backend") == "card":
            from gateway.core.card_keys import card_key_config

            key = card_key_config(bind, self._configured.get(ent.code))
            return load_key_config(key, self._algorithms)
        if not bind.get("key_file"):
            raise ConfigError(f"enterprise {ent.code} has no signing key bound")
        key = KeyConfig(
            backend=str(bind.get("backend", "file")),
            key_file=Path(bind["key_file"]),
            cert_file=Path(bind["cert_file"]) if bind.get("cert_file") else None,
            password_file=Path(bind["password_file"]) if bind.get("password_file") else None,
            suite=str(bind.get("suite", "rsa-sha1")),
        )
        return load_key_config(key, self._algorithms)

    def parallelism(self, ent: Enterprise) -> int:
        """How many signatures the enterprise's key makes at once (a card pool: its cards)."""
        try:
            key, _suite = self.for_enterprise(ent)
        except GatewayError:
            return 1
        return int(getattr(key, "size", 1))

    def forget(self, enterprise_id: int) -> None:
        with self._lock:
            self._keys.pop(enterprise_id, None)


def suite_for(name: str, overrides: dict[str, dict[str, str]] | None = None) -> Suite:
    """The named suite, with the algorithm URIs the configuration overrides (deployed practice
    differs, e.g. an SM2 URI under the w3.org namespace)."""
    suite = get_suite(name)
    changes = (overrides or {}).get(name)
    if not changes:
        return suite
    custom = replace(suite, **{k: v for k, v in changes.items() if k in _URI_FIELDS})
    if custom != suite:
        register_suite(custom, replace=True)
    return custom


_URI_FIELDS = ("signature_uri", "digest_uri")


def load_key_config(
    key: KeyConfig, overrides: dict[str, dict[str, str]] | None = None
) -> tuple[KeyBackend, Suite]:
    if key.backend == "card":
        from gateway.core.card_keys import load_card_key

        return load_card_key(key), suite_for(key.suite, overrides)
    if key.backend != "file":
        raise ConfigError(f"key backend {key.backend!r} is not available (known: file, card)")
    if key.key_file is None:
        raise ConfigError("no key_file configured")
    backend = FileKey.from_config(key.key_file, key.cert_file, password_file=key.password_file)
    return backend, suite_for(key.suite, overrides)


@dataclass(frozen=True)
class Pending:
    """A message waiting for its signature, as the worker reads it (Core, not the ORM)."""

    id: int
    enterprise_id: int
    msg_type: str
    original: bytes


@dataclass(frozen=True)
class Signed:
    message_id: int
    signed: bytes
    envelope: bytes
    cop_msg_id: str


class SigningWorker:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        topology: Topology,
        notifier: Notifier | None,
        on_signed: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.topology = topology
        self.notifier = notifier
        self.on_signed = on_signed
        self.wake = threading.Event()

    def run_once(self, limit: int = 100) -> int:
        """Sign up to `limit` pending messages, written in one transaction."""
        with self.db.session() as session:
            m = MESSAGES.c
            stmt = (
                select(m.id, m.enterprise_id, m.msg_type, m.original)
                .where(m.state == PENDING)
                .order_by(m.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            msgs = [Pending(*row) for row in session.execute(stmt)]
            # Every signature first, every write after: SQLite's write lock is taken only
            # once the (possibly slow, card-backed) signing is done.
            outcomes = list(zip(msgs, self._sign_all(session, msgs), strict=True))
            self._queue(session, [(msg, out) for msg, out in outcomes if isinstance(out, Signed)])
            for msg, out in outcomes:
                if not isinstance(out, Signed):
                    self._fail(session, msg, out)
        if msgs and self.on_signed:
            self.on_signed()
        return len(msgs)

    def _sign_all(self, session: Session, msgs: list[Pending]) -> list[Signed | GatewayError]:
        """Signatures for `msgs`; with a pool of cards as many at once as it has cards (a
        card takes about 0.24 s: one after another, a pool would sign no faster than one)."""
        ents = [session.get(Enterprise, msg.enterprise_id) for msg in msgs]
        width = max((self.keyring.parallelism(e) for e in ents if e is not None), default=1)
        if width <= 1 or len(msgs) <= 1:
            return [self._sign_or_error(msg, ent) for msg, ent in zip(msgs, ents, strict=True)]
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="signer") as pool:
            return list(pool.map(self._sign_or_error, msgs, ents))

    def _sign_or_error(self, msg: Pending, ent: Enterprise | None) -> Signed | GatewayError:
        assert ent is not None
        try:
            return self._sign(msg, ent)
        except GatewayError as exc:
            return exc

    def run(self, stop: threading.Event, idle: float = 0.5) -> None:
        while not stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # a worker loop must survive a DB outage
                log.exception("signing loop failed; retrying")
                done = 0
            if not done:
                self.wake.wait(idle)
                self.wake.clear()

    @logs.with_context(lambda _self, msg, ent: {"message_id": msg.id, "enterprise": ent.code})
    @metrics.timed("signing", lambda _signed: "signed")
    def _sign(self, msg: Pending, ent: Enterprise) -> Signed:
        key, suite = self.keyring.for_enterprise(ent)
        root = xmlsafe.parse(msg.original).getroot()
        signed = sign(root, key, suite)
        env = wrap(signed, msg_type=msg.msg_type, sender_id=ent.dxp_id)
        return Signed(msg.id, signed, env.body, env.cop_msg_id)

    def _queue(self, session: Session, batch: list[tuple[Pending, Signed]]) -> None:
        """The signed messages, their outbox rows and their documents' "signed", in a few
        statements for the whole batch (per message through the ORM, this was most of the
        worker's time)."""
        if not batch:
            return
        now = utcnow()
        session.execute(_SIGNED, [_signed_row(out, now) for _msg, out in batch])
        session.execute(insert(OUTBOX), [self._outbox_row(msg, out, now) for msg, out in batch])
        docs = document_refs_of(session, [msg.id for msg, _out in batch], PENDING)
        changes = [
            (doc, Change(Status.SIGNED, Source.GATEWAY, f"signed, CopMsgId {out.cop_msg_id}"))
            for msg, out in batch
            for doc in docs.get(msg.id, ())
        ]
        record_all(session, changes, self.notifier, at=now)

    def _outbox_row(self, msg: Pending, out: Signed, now: datetime) -> dict[str, object]:
        return {
            "exchange": self.topology.outbound_exchange,
            "routing_key": EXPORT_RECEIVER_ID,
            "message_id": out.cop_msg_id,
            "body": out.envelope,
            "headers": {"msg_type": msg.msg_type},
            "content_type": "application/xml",
            "gateway_message_id": out.message_id,
            "created_at": now,
            "attempts": 0,
        }

    @logs.with_context(lambda _self, _session, msg, _exc: {"message_id": msg.id})
    def _fail(self, session: Session, msg: Pending, exc: GatewayError) -> None:
        # A misconfigured key is as much a signing failure to the enterprise as a pulled card.
        log.warning("signing message %s failed: %s", msg.id, exc.message)
        reason = f"signing failed: {exc.message} (retry with `customs-gateway retry {msg.id}`)"
        session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == msg.id)
            .values(
                state=Status.SIGNING_FAILED.value,
                error=reason,
                attempts=MESSAGES.c.attempts + 1,
            )
        )
        change = Change(Status.SIGNING_FAILED, Source.GATEWAY, reason)
        docs = document_refs_of(session, [msg.id], PENDING).get(msg.id, [])
        record_all(session, [(doc, change) for doc in docs], self.notifier)

    def retry(self, message_id: int) -> bool:
        """Put a message that failed to sign back in the queue (ops action)."""
        with self.db.session() as session:
            msg = session.get(Message, message_id)
            if msg is None or msg.state != Status.SIGNING_FAILED.value:
                return False
            msg.state = Status.PENDING_SIGN.value
            change = Change(Status.PENDING_SIGN, Source.OPS, "signing retried")
            for doc in documents_of(session, message_id, Status.SIGNING_FAILED.value):
                record(session, doc, change, self.notifier)
        self.wake.set()
        return True


PENDING = Status.PENDING_SIGN.value
_SIGNED = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("message_id"))
    .values(
        signed=bindparam("b_signed"),
        envelope=bindparam("b_envelope"),
        cop_msg_id=bindparam("b_cop_msg_id"),
        state=Status.SIGNED.value,
        signed_at=bindparam("b_at"),
        error=None,
        attempts=MESSAGES.c.attempts + 1,
    )
)


def _signed_row(out: Signed, now: datetime) -> dict[str, object]:
    return {
        "message_id": out.message_id,
        "b_signed": out.signed,
        "b_envelope": out.envelope,
        "b_cop_msg_id": out.cop_msg_id,
        "b_at": now,
    }


__all__ = ["Keyring", "SigningError", "SigningWorker"]
