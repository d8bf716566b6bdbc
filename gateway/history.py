"""Status changes: the only place a document's status is written (R-COM-4).

Every change is appended to the history and queued as a notification to the enterprise in
the same transaction (the outbox), so an enterprise is told of every change exactly when it
is committed — never of one that was rolled back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import Document, Enterprise, Outbox, StatusChange, utcnow
from gateway.status import Status
from transports.topology import Topology


class Source:
    GATEWAY = "gateway"
    CUSTOMS = "customs"
    OPS = "ops"


@dataclass(frozen=True)
class Change:
    to: Status
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

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
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

    def flush(self, session: Session) -> None:
        pending: dict[int, list[tuple[Document, StatusChange]]] = session.info.pop(self.KEY, {})
        if pending:
            session.flush()  # new documents get their ids
        for enterprise_id, pairs in pending.items():
            changes = [_change_json(doc, entry) for doc, entry in pairs]
            code = self.enterprise_code(session, enterprise_id)
            first = changes[0]
            message_id = f"status-{first['document_id']}-{first['at']}-{len(changes)}"
            self.send(session, code, {"enterprise": code, "changes": changes}, message_id)

    def send(self, session: Session, code: str, body: dict[str, Any], message_id: str) -> None:
        """One JSON notification to enterprise `code`, through the outbox (this transaction)."""
        session.add(
            Outbox(
                exchange=self.topology.notify_exchange,
                routing_key=code,
                message_id=message_id,
                body=json.dumps(body, ensure_ascii=False).encode(),
                content_type="application/json",
            )
        )


def _change_json(doc: Document, entry: StatusChange) -> dict[str, object]:
    return {
        "document_id": doc.id,
        "kind": doc.kind,
        "business_key": doc.business_key,
        "pre_no": doc.pre_no,
        "from": entry.from_status,
        "to": entry.to_status,
        "source": entry.source,
        "at": entry.at.isoformat(),
        "return_status": entry.return_status,
        "info": entry.info,
        "customs_numbers": dict(doc.customs_numbers or {}),
    }


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
