"""Turning customs receipts into status changes (R-COM-4).

Receipts are correlated by business keys (ceb-messages.md), never by the receipt guid; a
CEB900 by the CopMsgId of the envelope it answers. They are applied in returnTime order: one
older than the last applied is kept in the history but does not move the record, and nothing
moves a record out of a final state. A receipt that matches nothing is stored for ops.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gateway.codes import ExchangeErrorCode
from gateway.core import logs, metrics, registry
from gateway.core.db import Database
from gateway.core.history import Change, Notifier, Source, record, record_ignored
from gateway.core.kinds import DocumentKind, key_text
from gateway.core.models import Document, Enterprise, Message, Receipt, StatusChange, documents_of
from gateway.core.status import Status, later_in_lifecycle, status_for_return, status_of
from gateway.errors import InvalidMessage, ReceiptError
from receipts.parse import (
    ParsedReceipt,
    ParsedSummaryResult,
    ReceiptEntity,
    exchange_code,
    parse_message,
)
from transports.envelope import Unwrapped, unwrap

log = logging.getLogger(__name__)

#: statuses in which no declaration of the record is with customs: receipts cannot apply
NOT_AT_CUSTOMS = frozenset({Status.SAVED, Status.PENDING_SIGN, Status.SIGNING_FAILED})


@dataclass(frozen=True)
class Outcome:
    receipt_id: int | None
    outcome: str  # matched / partly_matched / unmatched / unreadable / duplicate / future
    applied: int = 0


#: status changes only from the gateway's own steps and customs' receipts
RULE = "R-COM-4"
#: kept for ops, applied to nothing: not from customs (gateway/core/receipt_trust.py), or
#: stamped further ahead of our clock than `amqp.max_clock_skew`
UNTRUSTED, FUTURE = "untrusted", "future"


class ReceiptProcessor:
    def __init__(
        self, db: Database, notifier: Notifier | None, *, max_clock_skew: float | None = None
    ) -> None:
        self.db = db
        self.notifier = notifier
        #: seconds a returnTime may lie ahead of now; None: no limit (tests of other rules)
        self.max_clock_skew = max_clock_skew

    def keep_untrusted(self, body: bytes, env: Unwrapped | None, why: str) -> Outcome:
        """A delivery that did not come from customs: kept for ops, never applied."""
        log.warning("receipts queue: message not from customs kept for ops: %s", why)
        with self.db.session() as session:
            row = Receipt(
                raw=body,
                sha256=hashlib.sha256(body).hexdigest(),
                msg_type=env.msg_type[:20] if env else None,
                cop_msg_id=env.cop_msg_id[:255] if env else None,
                parsed={},
                error=why,
                outcome=UNTRUSTED,
            )
            session.add(row)
            session.flush()
            return Outcome(row.id, UNTRUSTED)

    def _future(self, parsed: ParsedReceipt) -> str | None:
        """Why the receipt is kept unapplied: a returnTime too far ahead of our clock (a
        forged or broken stamp would otherwise make every real receipt "not newer")."""
        if self.max_clock_skew is None:
            return None
        limit = datetime.now(UTC) + timedelta(seconds=self.max_clock_skew)
        for entity in parsed.entities:
            if entity.return_time is not None and entity.return_time > limit:
                return (
                    f"returnTime: {entity.fields.get('returnTime')} lies more than "
                    f"{self.max_clock_skew:g} s (amqp.max_clock_skew) ahead of the gateway's "
                    f"clock: kept for ops, not applied ({RULE})"
                )
        return None

    @metrics.timed("receipt", lambda outcome: outcome.outcome)
    def handle_envelope(self, body: bytes) -> Outcome:
        """One delivery from the receipts queue: a DxpMsg around a receipt."""
        try:
            env = unwrap(body)
        except InvalidMessage as exc:
            return self._unreadable(body, None, f"envelope cannot be read: {exc.message}")
        return self.handle(env.data, cop_msg_id=env.cop_msg_id, receiver_ids=env.receiver_ids)

    @logs.with_context(lambda _self, _data, cop_msg_id=None, **_kw: {"cop_msg_id": cop_msg_id})
    def handle(
        self, data: bytes, cop_msg_id: str | None = None, receiver_ids: Sequence[str] = ()
    ) -> Outcome:
        """`receiver_ids` (the envelope's) name the enterprise the receipt is addressed to:
        it picks the record where two enterprises use one key (`key_per_owner` kinds)."""
        try:
            parsed = parse_message(data)
        except ReceiptError as exc:
            return self._unreadable(data, cop_msg_id, exc.message)
        with self.db.session() as session:
            digest = hashlib.sha256(data).hexdigest()
            if _seen(session, digest):
                return Outcome(None, "duplicate")
            if isinstance(parsed, ParsedSummaryResult):
                return self._summary_result(session, data, digest, parsed, cop_msg_id)
            row = _store(session, data, digest, parsed, cop_msg_id)
            if (ahead := self._future(parsed)) is not None:
                row.outcome, row.error = FUTURE, ahead
                return Outcome(row.id, FUTURE)
            owner = _addressee(session, receiver_ids)
            applied, matched = self._apply_all(session, parsed, row.id, owner)
            row.outcome = _outcome(matched, len(parsed.entities))
            return Outcome(row.id, row.outcome, applied)

    def _summary_result(
        self,
        session: Session,
        data: bytes,
        digest: str,
        parsed: ParsedSummaryResult,
        cop_msg_id: str | None,
    ) -> Outcome:
        """CEB792 (R-ECX-8): no receipt of a record, but a result the business system that
        declares it applies (`BusinessSystem.results`); kept as unmatched when none does."""
        handler = registry.result_handler(parsed.message_type)
        if handler is None:
            row = _keep(session, data, digest, parsed.message_type, cop_msg_id)
            return Outcome(row.id, row.outcome)
        done = handler(session, data, digest, parsed, cop_msg_id, self.notifier)
        return Outcome(done.receipt_id, done.outcome, done.finalised)

    def keep_crashed(self, body: bytes, exc: Exception) -> Outcome:
        """A delivery its handler crashed on, kept as unreadable for ops with the reason, so
        that it is acked: redelivering it would crash the same way until it is dead-lettered
        (issue 11). The reason is one line, never a traceback (the log has that)."""
        try:
            env = unwrap(body)
            data, cop_msg_id = env.data, env.cop_msg_id[:255]  # the column's length
        except InvalidMessage:
            data, cop_msg_id = body, None
        return self._unreadable(
            data, cop_msg_id, f"the receipt handler failed: {crash_reason(exc)}"
        )

    def _unreadable(self, data: bytes, cop_msg_id: str | None, why: str) -> Outcome:
        log.warning("unreadable receipt kept for ops: %s", why)
        with self.db.session() as session:
            row = Receipt(
                raw=data,
                sha256=hashlib.sha256(data).hexdigest(),
                cop_msg_id=cop_msg_id,
                parsed={},
                error=why,
                outcome="unreadable",
            )
            session.add(row)
            session.flush()
            return Outcome(row.id, "unreadable")

    def _apply_all(
        self, session: Session, parsed: ParsedReceipt, receipt_id: int, owner: int | None
    ) -> tuple[int, int]:
        applied = matched = 0
        # Apply in returnTime order so one receipt message with several steps ends right.
        entities = sorted(parsed.entities, key=lambda e: _return_time(e) or "")
        live = _live_documents(session, entities, owner)
        for entity in entities:
            docs = _correlate(session, entity, live, owner)
            matched += bool(docs)
            for kind, doc in docs:
                if owner is not None and doc.enterprise_id != owner:
                    # Addressed to another enterprise than the record's own: not customs'
                    # answer to this record's declarant.
                    why = f"ReceiverId: addressed to another enterprise than the record's ({RULE})"
                    record_ignored(session, doc, _as_info(entity, receipt_id), why)
                    continue
                applied += self._apply(session, kind, doc, entity, receipt_id)
        return applied, matched

    @logs.with_context(
        lambda _self, _s, _kind, doc, _entity, receipt_id: {
            "document_id": doc.id,
            "receipt_id": receipt_id,
        }
    )
    def _apply(
        self,
        session: Session,
        kind: DocumentKind,
        doc: Document,
        entity: ReceiptEntity,
        receipt_id: int,
    ) -> int:
        change = _change(entity, receipt_id, kind)
        if change is None:
            said = _as_info(entity, receipt_id)
            if not _repeated(session, doc, said):
                record_ignored(session, doc, said, "unknown returnStatus")
            return 0
        if change.return_time is None:  # no order to apply it in: never out of order
            raw = entity.fields.get("returnTime", "")
            malformed = f"returnTime: {raw!r} is not a time (yyyyMMddHHmmssfff), not applied"
            record_ignored(session, doc, change, f"{malformed} ({RULE})")
            return 0
        why = _refusal(kind, doc, change)
        if why:
            if not _repeated(session, doc, change):
                record_ignored(session, doc, change, why)
            return 0
        doc.last_return_time = change.return_time or doc.last_return_time
        if change.to == Status.STORED and entity.return_time is not None:
            doc.stored_at = entity.return_time  # 入库时间: what stored-time queries bound
        doc.customs_numbers = {**(doc.customs_numbers or {}), **entity.assigned_numbers()}
        record(session, doc, change, self.notifier)
        if kind.after_change is not None:
            kind.after_change(session, doc, change, entity.fields, self.notifier)
        return 1


#: longest crash reason kept with an unreadable receipt
MAX_REASON = 300


def crash_reason(exc: Exception) -> str:
    """The exception's type and the first line of its text: a database error's text goes on
    with the statement and its parameters, which belong in the log, not in an API answer."""
    cause = getattr(exc, "orig", None) or exc  # the driver's error behind SQLAlchemy's
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}"
    return text[:MAX_REASON]


def _keep(
    session: Session, data: bytes, digest: str, msg_type: str, cop_msg_id: str | None
) -> Receipt:
    row = Receipt(raw=data, sha256=digest, msg_type=msg_type, cop_msg_id=cop_msg_id,
                  parsed={}, outcome="unmatched")  # fmt: skip
    session.add(row)
    session.flush()
    return row


def _seen(session: Session, digest: str) -> bool:
    # Kept-not-applied rows do not count: customs' real copy must still apply.
    stmt = select(Receipt.id).where(
        Receipt.sha256 == digest, Receipt.outcome.not_in(("unreadable", UNTRUSTED))
    )
    return session.scalar(stmt.limit(1)) is not None


def _store(
    session: Session, data: bytes, digest: str, parsed: ParsedReceipt, cop_msg_id: str | None
) -> Receipt:
    row = Receipt(
        raw=data,
        sha256=digest,
        msg_type=parsed.message_type,
        cop_msg_id=cop_msg_id,
        parsed={"guid": parsed.guid, "entities": [_entity_json(e) for e in parsed.entities]},
        outcome="unmatched",
    )
    session.add(row)
    session.flush()
    return row


def _entity_json(entity: ReceiptEntity) -> dict[str, object]:
    fields = {k: v for k, v in entity.fields.items() if k != "oriBizMessage"}
    return {"kind": entity.kind, "fields": fields}


def _outcome(matched: int, total: int) -> str:
    if matched == total:
        return "matched"
    return "partly_matched" if matched else "unmatched"


def _return_time(entity: ReceiptEntity) -> str | None:
    """returnTime as 17 digits, so that string order is time order; None when it is no real
    time (parsed strictly: `receipts.parse.parse_return_time`)."""
    at = entity.return_time
    if at is None:
        return None
    return at.strftime("%Y%m%d%H%M%S") + f"{at.microsecond // 1000:03d}"


def _change(entity: ReceiptEntity, receipt_id: int, kind: DocumentKind) -> Change | None:
    if entity.kind == "MessageReturn":
        status: StrEnum | None = _exchange_failure(entity.return_info)
    elif kind.receipt_statuses is not None:  # the kind's own codes (appointments)
        code = entity.return_status.strip()
        status = Status.STORE_FAILED if code.startswith("-") else kind.receipt_statuses.get(code)
    else:
        status = status_for_return(entity.return_status)
    if status is None:
        return None
    return Change(
        status,
        Source.CUSTOMS,
        entity.return_info,
        receipt_id,
        entity.return_status,
        _return_time(entity),
    )


def _as_info(entity: ReceiptEntity, receipt_id: int) -> Change:
    return Change(
        Status.SENT,
        Source.CUSTOMS,
        entity.return_info,
        receipt_id,
        entity.return_status,
        _return_time(entity),
    )


def _exchange_failure(return_info: str) -> Status:
    """CEB900: security codes (1000-1999) are signature failures, the rest format failures."""
    code = exchange_code(return_info)
    try:
        family = ExchangeErrorCode(code).family if code else "format"
    except ValueError:
        family = "security" if code and 1000 <= int(code) < 2000 else "format"
    return Status.SECURITY_FAILED if family == "security" else Status.FORMAT_FAILED


def _repeated(session: Session, doc: Document, change: Change) -> bool:
    """The record has had this step from customs already (same returnStatus, same returnTime):
    a receipt that says it again, under a new guid, adds nothing to its history. Asked only of
    receipts that would not move the record, so applying one costs no extra query. A
    byte-identical copy never gets this far (`_seen`)."""
    if change.return_time is None:
        return False  # no time to tell two receipts apart: keep each
    h = StatusChange
    stmt = select(h.id).where(
        h.document_id == doc.id,
        h.source == Source.CUSTOMS,
        h.return_status == change.return_status,
        h.return_time == change.return_time,
    )
    return session.scalar(stmt.limit(1)) is not None


def _refusal(kind: DocumentKind, doc: Document, change: Change) -> str | None:
    current = status_of(doc.status)
    if kind.is_final(current):
        return f"the record is already {current.value}, a final state"
    if current in NOT_AT_CUSTOMS:
        return f"the record is {current.value}: no declaration of it is with customs"
    last, new = doc.last_return_time, change.return_time
    if new and last and new == last and later_in_lifecycle(change.to, current):
        return None  # same millisecond: the later lifecycle step wins
    if new and last and new <= last:
        return f"returnTime {new} is not newer than the last applied {last}"
    return None


#: business keys looked up in one statement (a receipt message holds up to 100 entities)
LOOKUP_CHUNK = 500

#: None: two enterprises' records of a per-owner key and no addressee to choose between them
LiveDocuments = dict[tuple[str, str], Document | None]


def _addressee(session: Session, receiver_ids: Sequence[str]) -> int | None:
    """The enterprise a receipt is addressed to (its exchange id), when exactly one is."""
    if not receiver_ids:
        return None
    stmt = select(Enterprise.id).where(Enterprise.dxp_id.in_(list(receiver_ids)))
    found = list(session.scalars(stmt.limit(2)))
    return found[0] if len(found) == 1 else None


def _in_scope(stmt: Select[Any], kind: DocumentKind, owner: int | None) -> Select[Any]:
    """Records of a per-owner key: the addressee's only (issue 11, finding 3)."""
    if kind.key_per_owner and owner is not None:
        return stmt.where(Document.key_scope == owner)
    return stmt


def _live_documents(
    session: Session, entities: list[ReceiptEntity], owner: int | None
) -> LiveDocuments:
    """The live record of every entity's business key, by (kind, business key): one locked
    query per kind instead of one per entity. Each of those per-entity queries also flushed
    the previous entity's changes first (autoflush), a round trip or two per receipt entity:
    most of the receipt consumer's time on PostgreSQL. Rows are locked in id order, so two
    consumers locking overlapping sets cannot deadlock."""
    wanted: dict[str, set[str]] = {}
    kinds: dict[str, DocumentKind] = {}
    for entity in entities:
        kind = _entity_kind(entity)
        if kind is not None:
            key = key_text(entity.key(kind.receipt_key_fields))
            wanted.setdefault(kind.name, set()).add(key)
            kinds[kind.name] = kind
    found: LiveDocuments = {}
    for name, keys in wanted.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            stmt = (
                select(Document)
                .where(
                    Document.kind == name,
                    Document.business_key.in_(ordered[start : start + LOOKUP_CHUNK]),
                    Document.status != Status.DELETED.value,
                )
                .order_by(Document.id)
                .with_for_update()
            )
            for doc in session.scalars(_in_scope(stmt, kinds[name], owner)):
                at = (name, doc.business_key)
                found[at] = None if at in found else doc
    return found


def _entity_kind(entity: ReceiptEntity) -> DocumentKind | None:
    if entity.kind == "MessageReturn":
        return None
    return registry.for_receipt_entity(entity.kind)


def _correlate(
    session: Session, entity: ReceiptEntity, live: LiveDocuments, owner: int | None
) -> list[tuple[DocumentKind, Document]]:
    if entity.kind == "MessageReturn":
        return _by_cop_msg_id(session, entity.fields.get("oriCopMsgId", ""))
    kind = _entity_kind(entity)
    if kind is None:
        return []
    key = entity.key(kind.receipt_key_fields)
    found = (kind.name, key_text(key))
    doc = live[found] if found in live else _by_key(session, kind, key, owner)
    return [(kind, doc)] if doc is not None else []


def _by_key(
    session: Session, kind: DocumentKind, key: tuple[str, ...], owner: int | None
) -> Document | None:
    base = _in_scope(select(Document).where(Document.kind == kind.name), kind, owner)
    # The live record first; a deleted one still takes its own late receipts into its history.
    # Two queries, not one ordered by "is deleted": only a query that says status != deleted
    # can use the partial unique index on (kind, business_key); the single query scanned the
    # whole table, so every receipt got slower as the table grew.
    exact = base.where(Document.business_key == key_text(key))
    # Locked: two consumers applying receipts of one record must not both read the old state.
    live = exact.where(Document.status != Status.DELETED.value).limit(1).with_for_update()
    found = session.scalars(live).first()
    if found is None:
        latest = exact.order_by(Document.id.desc()).limit(1).with_for_update()
        found = session.scalars(latest).first()
    if found is not None or key[-1]:
        return found
    # An optional trailing key field (payNo) left out of the receipt: match on the rest.
    prefix = key_text(key[:-1]) + "|"
    live = base.where(
        Document.business_key.startswith(prefix, autoescape=True),
        Document.status != Status.DELETED.value,
    )
    rows = list(session.scalars(live.limit(2)))
    return rows[0] if len(rows) == 1 else None


def _by_cop_msg_id(session: Session, cop_msg_id: str) -> list[tuple[DocumentKind, Document]]:
    msg = session.scalar(select(Message).where(Message.cop_msg_id == cop_msg_id))
    kind = registry.for_message(msg.msg_type) if msg is not None else None
    if msg is None or kind is None:
        return []
    return [(kind, d) for d in documents_of(session, msg.id)]
