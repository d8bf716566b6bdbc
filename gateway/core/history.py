"""Status changes: the only place a document's status is written (R-COM-4).

Every change is appended to the history and queued as a notification to the enterprise in
the same transaction (the outbox), so an enterprise is told of every change exactly when it
is committed — never of one that was rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from gateway.core.models import (
    DOCUMENTS,
    DocRef,
    Document,
    Enterprise,
    Outbox,
    StatusChange,
    utcnow,
)
from transports.topology import Topology

if TYPE_CHECKING:
    from gateway.core.webhooks import WebhookOutbox


class Source:
    GATEWAY = "gateway"
    CUSTOMS = "customs"
    OPS = "ops"


@dataclass(frozen=True)
class Change:
    to: StrEnum
    source: str
    info: str | None = None
    receipt_id: int | None = None
    return_status: str | None = None
    return_time: str | None = None


class Notifier:
    """Status notifications to each enterprise, through the outbox.

    The changes of one transaction are gathered in the session and written as one outbox
    row per enterprise just before the commit (`Database.before_commit`): a batch of 100
    records signed together is one notification, not 100 publishes with confirms.
    """

    KEY = "pending_notifications"

    def __init__(self, topology: Topology, webhooks: WebhookOutbox | None = None) -> None:
        self.topology = topology
        #: the enterprises' webhooks: a delivery row per notification, in the same transaction
        self.webhooks = webhooks
        self._codes: dict[int, str] = {}

    def enterprise_code(self, session: Session, enterprise_id: int) -> str:
        code = self._codes.get(enterprise_id)
        if code is None:
            ent = session.get(Enterprise, enterprise_id)
            code = ent.code if ent else str(enterprise_id)
            self._codes[enterprise_id] = code
        return code

    def queue(self, session: Session, doc: Document, entry: StatusChange) -> None:
        pending = session.info.setdefault(self.KEY, {})
        pending.setdefault(doc.enterprise_id, []).append((doc, entry))

    def queue_json(self, session: Session, enterprise_id: int, change: dict[str, object]) -> None:
        """Queue a change already in its notification form (the batch paths: `record_all`)."""
        pending = session.info.setdefault(self.KEY, {})
        pending.setdefault(enterprise_id, []).append(change)

    def flush(self, session: Session) -> None:
        pending: dict[int, list[Any]] = session.info.pop(self.KEY, {})
        if any(isinstance(c, tuple) for changes in pending.values() for c in changes):
            session.flush()  # new documents get their ids
        for enterprise_id, queued in pending.items():
            changes = [c if isinstance(c, dict) else _change_json(*c) for c in queued]
            code = self.enterprise_code(session, enterprise_id)
            first = changes[0]
            message_id = f"status-{first['document_id']}-{first['at']}-{len(changes)}"
            self.send(session, code, {"enterprise": code, "changes": changes}, message_id)
            if self.webhooks is not None:
                self.webhooks.queue(session, enterprise_id, code, changes)

    def send(self, session: Session, code: str, body: dict[str, Any], message_id: str) -> None:
        """One JSON notification to enterprise `code`, through the outbox (this transaction)."""
        # A Core INSERT, not session.add: this runs just before the commit, where an ORM
        # object would cost a unit-of-work flush of its own (measured: ~1 ms a transaction).
        session.execute(
            insert(OUTBOX).values(
                exchange=self.topology.notify_exchange,
                routing_key=code,
                message_id=message_id,
                body=json.dumps(body, ensure_ascii=False).encode(),
                headers={},
                content_type="application/json",
                created_at=utcnow(),
                attempts=0,
            )
        )


def _change_json(doc: Document | DocRef, entry: StatusChange | dict[str, Any]) -> dict[str, object]:
    row = entry if isinstance(entry, dict) else {k: getattr(entry, k) for k in _ENTRY_FIELDS}
    return {
        "document_id": doc.id,
        "kind": doc.kind,
        "business_key": doc.business_key,
        "pre_no": doc.pre_no,
        "from": row["from_status"],
        "to": row["to_status"],
        "source": row["source"],
        "at": row["at"].isoformat(),
        "return_status": row["return_status"],
        "return_time": row["return_time"],
        "receipt_id": row["receipt_id"],
        "info": row["info"],
        "customs_numbers": dict(doc.customs_numbers or {}),
    }


_ENTRY_FIELDS = (
    "from_status", "to_status", "source", "at", "return_status", "return_time", "receipt_id", "info"
)  # fmt: skip


def record(
    session: Session,
    doc: Document,
    change: Change,
    notifier: Notifier | None,
    *,
    initial: bool = False,
) -> None:
    """Move `doc` to `change.to`, append the history entry and queue the notification."""
    entry = StatusChange(
        at=utcnow(),
        from_status=None if initial else doc.status,
        to_status=change.to.value,
        source=change.source,
        receipt_id=change.receipt_id,
        return_status=change.return_status,
        return_time=change.return_time,
        info=change.info,
        applied=True,
    )
    doc.status = change.to.value
    doc.status_info = change.info
    doc.updated_at = entry.at
    _attach(session, doc, entry)
    if notifier is not None:
        notifier.queue(session, doc, entry)


def _attach(session: Session, doc: Document, entry: StatusChange) -> None:
    # A new document's history is an empty list already in memory; an existing one's is
    # not loaded, and need not be: the foreign key is enough.
    if doc.id is None:
        doc.history.append(entry)
    else:
        entry.document_id = doc.id
        session.add(entry)


def record_ignored(session: Session, doc: Document, change: Change, why: str) -> None:
    """Keep a receipt that did not move the record (late, duplicate, after a final state)."""
    session.add(
        StatusChange(
            document_id=doc.id,
            at=utcnow(),
            from_status=doc.status,
            to_status=doc.status,
            source=change.source,
            receipt_id=change.receipt_id,
            return_status=change.return_status,
            return_time=change.return_time,
            info=f"not applied: {why}; receipt said {change.to.value}: {change.info or ''}",
            applied=False,
        )
    )


# --- the batch form: many documents, a few statements ------------------------------------------

HISTORY: Table = StatusChange.__table__  # type: ignore[assignment]
OUTBOX: Table = Outbox.__table__  # type: ignore[assignment]


def record_all(
    session: Session,
    changes: Sequence[tuple[DocRef, Change]],
    notifier: Notifier | None,
    *,
    at: datetime | None = None,
) -> None:
    """`record` for many documents: the same statuses, history rows and notifications, in
    one executemany UPDATE and one executemany INSERT. A document whose `status` is None was
    created by this transaction with its status already written (intake): its history entry
    starts from nothing, as `record(initial=True)` does.

    Why: through the ORM every document cost its share of a unit-of-work flush (most of the
    signing worker's and the relay's time for messages of many records)."""
    if not changes:
        return
    when = at or utcnow()
    _update_statuses(session, [(d, c) for d, c in changes if d.status is not None], when)
    rows = [_history_row(doc, change, when) for doc, change in changes]
    session.execute(insert(HISTORY), rows)
    if notifier is not None:
        for (doc, _change), row in zip(changes, rows, strict=True):
            notifier.queue_json(session, doc.enterprise_id, _change_json(doc, row))


def _update_statuses(
    session: Session, changes: Sequence[tuple[DocRef, Change]], when: datetime
) -> None:
    if not changes:
        return
    # One executemany: sqlite3 loops in C, psycopg pipelines the statements.
    stmt = (
        update(DOCUMENTS)
        .where(DOCUMENTS.c.id == bindparam("doc_id"))
        .values(status=bindparam("to"), status_info=bindparam("info"), updated_at=when)
    )
    rows = [{"doc_id": d.id, "to": c.to.value, "info": c.info} for d, c in changes]
    session.execute(stmt, rows)


def _history_row(doc: DocRef, change: Change, when: datetime) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "at": when,
        "from_status": doc.status,
        "to_status": change.to.value,
        "source": change.source,
        "receipt_id": change.receipt_id,
        "return_status": change.return_status,
        "return_time": change.return_time,
        "info": change.info,
        "applied": True,
    }
