"""Read-side queries shared by the HTTP API and the CLI. Every query is scoped to the caller:
an enterprise sees only its own records; an admin sees all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.core.enterprises import Caller
from gateway.core.models import Document, Enterprise, Message, Receipt, StatusChange
from gateway.errors import NotFound

MAX_PAGE_SIZE = 500
#: history entries in a document view when the caller names no page size: every record's
#: whole history fits, but one customs flooded with receipts no longer makes a 3 MB answer
HISTORY_PAGE_SIZE = 200
MAX_HISTORY_PAGE_SIZE = 1000
#: a page number whose offset still fits a BIGINT
MAX_HISTORY_PAGE = 2**63 // MAX_HISTORY_PAGE_SIZE
S = TypeVar("S", bound=Select)


def _scoped(stmt: S, caller: Caller, column: Any) -> S:
    return stmt if caller.is_admin else stmt.where(column == caller.enterprise_id)


def get_document(session: Session, caller: Caller, doc_id: int) -> Document:
    doc = session.get(Document, doc_id)
    if doc is None or not (caller.is_admin or doc.enterprise_id == caller.enterprise_id):
        # The same answer for "absent" and "another enterprise's": existence is not leaked.
        raise NotFound(f"no document {doc_id} visible to this caller")
    return doc


def get_message(session: Session, caller: Caller, message_id: int) -> Message:
    msg = session.get(Message, message_id)
    if msg is None or not (caller.is_admin or msg.enterprise_id == caller.enterprise_id):
        raise NotFound(f"no message {message_id} visible to this caller")
    return msg


def zoned(at: datetime) -> datetime:
    """A stored time with its zone: the columns hold UTC, and SQLite returns it without one
    (issue 17, item 6: every time shown carries its zone)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def history_view(entry: StatusChange) -> dict[str, Any]:
    return {
        "at": zoned(entry.at).isoformat(),
        "from": entry.from_status,
        "to": entry.to_status,
        "source": entry.source,
        "return_status": entry.return_status,
        "return_time": entry.return_time,
        "receipt_id": entry.receipt_id,
        "info": entry.info,
        "applied": entry.applied,
    }


def document_summary(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "kind": doc.kind,
        "business_key": doc.business_key,
        "status": doc.status,
        "status_info": doc.status_info,
        "pre_no": doc.pre_no,
        "customs_numbers": doc.customs_numbers,
        "created_at": zoned(doc.created_at).isoformat(),
        "updated_at": zoned(doc.updated_at).isoformat(),
    }


def document_view(
    session: Session,
    caller: Caller,
    doc_id: int,
    history_page: int = 1,
    history_page_size: int = HISTORY_PAGE_SIZE,
    *,
    history_last: int | None = None,
) -> dict[str, Any]:
    """One record, its versions and a page of its history, oldest first (`history_last`:
    the newest that many entries instead, still oldest first)."""
    doc = get_document(session, caller, doc_id)
    out = document_summary(doc)
    out["enterprise"] = session.get(Enterprise, doc.enterprise_id).code  # type: ignore[union-attr]
    out.update(_history_page(session, doc.id, history_page, history_page_size, history_last))
    out["versions"] = [
        {
            "number": v.number,
            "app_type": v.app_type,
            "app_status": v.app_status,
            "record_guid": v.record_guid,
            "message_id": v.message_id,
            "cop_msg_id": v.message.cop_msg_id,
            "message_state": v.message.state,
            "archived": archived_parts(v.message),
        }
        for v in doc.versions
    ]
    return out


def _history_page(
    session: Session, doc_id: int, page: int, size: int, last: int | None
) -> dict[str, Any]:
    entries = select(StatusChange).where(StatusChange.document_id == doc_id)
    total = session.scalar(select(func.count()).select_from(entries.subquery())) or 0
    if last is not None:
        size = max(1, min(last, MAX_HISTORY_PAGE_SIZE))
        offset, shown_page = max(0, total - size), None
    else:
        size = max(1, min(size, MAX_HISTORY_PAGE_SIZE))
        shown_page = max(1, min(page, MAX_HISTORY_PAGE))
        offset = (shown_page - 1) * size
    rows = session.scalars(entries.order_by(StatusChange.id).offset(offset).limit(size))
    return {
        "history": [history_view(h) for h in rows],
        "history_total": total,
        "history_page": shown_page,
        "history_page_size": size,
    }


def archived_parts(msg: Message) -> list[str]:
    parts = ["original"]
    parts += [p for p in ("signed", "envelope") if getattr(msg, p) is not None]
    return parts


def message_part(session: Session, caller: Caller, message_id: int, part: str) -> bytes:
    msg = get_message(session, caller, message_id)
    if part not in ("original", "signed", "envelope"):
        raise NotFound(f"message part {part!r}: use original, signed or envelope")
    data = getattr(msg, part)
    if data is None:
        raise NotFound(f"message {message_id} has no {part} form yet (state {msg.state})")
    return bytes(data)


@dataclass(frozen=True)
class DocumentFilter:
    kind: str | None = None
    status: str | None = None
    business_key: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = 50


def list_documents(session: Session, caller: Caller, flt: DocumentFilter) -> dict[str, Any]:
    stmt = _scoped(select(Document), caller, Document.enterprise_id)
    for column, value in (
        (Document.kind, flt.kind),
        (Document.status, flt.status),
        (Document.business_key, flt.business_key),
    ):
        if value:
            stmt = stmt.where(column == value)
    if flt.since:
        stmt = stmt.where(Document.updated_at >= flt.since)
    if flt.until:
        stmt = stmt.where(Document.updated_at < flt.until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    size = max(1, min(flt.page_size, MAX_PAGE_SIZE))
    page = max(1, flt.page)
    rows = session.scalars(stmt.order_by(Document.id.desc()).offset((page - 1) * size).limit(size))
    return {
        "total": total,
        "page": page,
        "page_size": size,
        "items": [document_summary(d) for d in rows],
    }


def status_counts(session: Session, caller: Caller) -> dict[str, int]:
    stmt = _scoped(select(Document.status, func.count()), caller, Document.enterprise_id)
    return {status: n for status, n in session.execute(stmt.group_by(Document.status))}


def receipts_by_outcome(session: Session, outcome: str, limit: int = 100) -> list[dict[str, Any]]:
    """Receipts for ops (admin only): unmatched ones are kept here, never dropped."""
    stmt = select(Receipt).where(Receipt.outcome == outcome).order_by(Receipt.id.desc())
    return [
        {
            "id": r.id,
            "received_at": zoned(r.received_at).isoformat(),
            "msg_type": r.msg_type,
            "cop_msg_id": r.cop_msg_id,
            "outcome": r.outcome,
            "error": r.error,
            "parsed": r.parsed,
        }
        for r in session.scalars(stmt.limit(limit))
    ]
