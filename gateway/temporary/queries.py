"""The exhibition registration query (展览会备案查询, seed 002 §1.2).

The manual's text gives no conditions or columns (screenshot only); its sibling query pages
(§2.2, §2.4, "the same") filter by customs (申请海关), status (数据状态) and filling date
(填报日期 from … to), and show "显示第 1 到第 1 条记录, 总共 1 条记录": so do we. No condition
lists every registration of the enterprise (as §1.4 says of its page). Each record comes with
the operations its state allows, its history and the customs receipts of it and of its
change and deletion applications. An admin sees every enterprise's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.enterprises import Caller
from gateway.core.history import Source
from gateway.core.kinds import Operation
from gateway.core.models import Document, StatusChange
from gateway.core.status import Status, status_of
from gateway.errors import ConfigError, InvalidMessage, NotFound, Violation
from gateway.temporary import kinds, registrations
from gateway.temporary.codes import CUSTOMS, STATUS_NAMES
from gateway.temporary.models import TmpExhibition

QUERY = "R-COM-7"  # query conditions (no span limit is given for temporary goods)
MAX_SIZE = 100
APPLICATION_KINDS = registrations.APPLICATIONS


@dataclass(frozen=True)
class Conditions:
    """The query page's conditions; all optional."""

    customs: str | None = None  # 主管海关
    status: str | None = None  # 数据状态: a status value, or its name on the page (审核通过)
    filled_from: date | None = None  # 填报日期 from (Beijing date, inclusive)
    filled_to: date | None = None  # … to (inclusive)
    page: int = 1
    size: int = 20

    def problems(self) -> list[Violation]:
        found = []
        if self.filled_from and self.filled_to and self.filled_to < self.filled_from:
            span = f"{self.filled_from}..{self.filled_to}"
            found.append(Violation(QUERY, "filled_to", "ends before filled_from", value=span))
        if self.status and not self.statuses():
            found.append(Violation(QUERY, "status", "no such status", value=self.status))
        if self.page < 1:
            found.append(Violation(QUERY, "page", "pages start at 1", value=str(self.page)))
        if not 1 <= self.size <= MAX_SIZE:
            found.append(Violation(QUERY, "size", f"1 to {MAX_SIZE} a page", value=str(self.size)))
        return found

    def statuses(self) -> list[str]:
        """The status values the condition means: one value, or every status the page
        shows under that name (发往海关失败 covers the gateway's failures too)."""
        assert self.status
        try:
            return [status_of(self.status).value]
        except ConfigError:
            return [value for value, name in STATUS_NAMES.items() if name == self.status]


def search(session: Session, caller: Caller, cond: Conditions) -> dict[str, Any]:
    """One page of the caller's registrations, newest first, with the total."""
    problems = cond.problems()
    if problems:
        raise InvalidMessage(problems)
    stmt = filtered(_base(caller), TmpExhibition, cond)
    return one_page(session, stmt, TmpExhibition, cond, view)


def one_page(
    session: Session,
    stmt: Select[Any],
    form: Any,
    cond: Conditions,
    view: Callable[[Session, Any, Document], dict[str, Any]],
) -> dict[str, Any]:
    """A query page of any of the system's forms (`form`: its table), newest first, with the
    total and the manual's pagination line; `view` shows one record."""
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(form.filled_at.desc(), form.id.desc())
    rows = session.execute(page.offset((cond.page - 1) * cond.size).limit(cond.size)).all()
    first = (cond.page - 1) * cond.size + 1 if rows else 0
    return {
        "total": total,
        "page": cond.page,
        "size": cond.size,
        "shown": _shown(first, len(rows), total),
        "records": [view(session, row, doc) for row, doc in rows],
    }


def _shown(first: int, count: int, total: int) -> str:
    """The manual's pagination line."""
    last = first + count - 1 if count else 0
    return f"显示第 {first} 到第 {last} 条记录, 总共 {total} 条记录"


def _base(caller: Caller) -> Select[Any]:
    return records(TmpExhibition, kinds.EXHIBITION.name, caller)


def records(form: Any, kind: str, caller: Caller) -> Select[Any]:
    """Rows of a form's table (`form`) with their live document of `kind`, the caller's own
    (an admin's: all); keyed like the document, agentCode|copNo."""
    key = form.agent_code + "|" + form.cop_no
    stmt: Any = select(form, Document).join(
        Document,
        (Document.business_key == key)
        & (Document.kind == kind)
        & (Document.enterprise_id == form.enterprise_id),
    )
    stmt = stmt.where(Document.status != Status.DELETED.value)
    if not caller.is_admin:
        stmt = stmt.where(form.enterprise_id == caller.enterprise_id)
    return stmt


def filtered(stmt: Select[Any], form: Any, cond: Conditions) -> Select[Any]:
    """The page's conditions on a form's rows: customs, status, filling dates (Beijing)."""
    if cond.customs:
        stmt = stmt.where(form.customs_code == cond.customs)
    if cond.status:
        stmt = stmt.where(Document.status.in_(cond.statuses()))
    if cond.filled_from:
        stmt = stmt.where(form.filled_at >= _start_of(cond.filled_from))
    if cond.filled_to:
        stmt = stmt.where(form.filled_at < _start_of(cond.filled_to + timedelta(days=1)))
    return stmt


def one_record(session: Session, stmt: Select[Any], doc_id: int, what: str) -> Any:
    """The (row, document) of `doc_id` among `stmt`'s; another's answers like a missing one."""
    found = session.execute(stmt.where(Document.id == doc_id)).first()
    if found is None:
        raise NotFound(f"no {what} {doc_id}")
    return found


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), CHINA_TZ)


def detail(session: Session, caller: Caller, doc_id: int) -> dict[str, Any]:
    """One registration (by its document id) with its form, history and receipts."""
    row, doc = one_record(session, _base(caller), doc_id, "exhibition registration")
    return {**view(session, row, doc), "form": dict(row.fields or {})}


def view(session: Session, row: TmpExhibition, doc: Document) -> dict[str, Any]:
    status = status_of(doc.status)
    history = _history(session, doc)
    return {
        "document_id": doc.id,
        "pre_entry_no": row.pre_entry_no,
        "exhibition_no": (doc.customs_numbers or {}).get("exhibitionNo"),
        "exhibition_name": row.exhibition_name,
        "agent_code": row.agent_code,
        "cop_no": row.cop_no,
        "customs_code": row.customs_code,
        "customs_name": CUSTOMS.get(row.customs_code, ""),
        "status": doc.status,
        "status_name": STATUS_NAMES.get(status, doc.status),
        "status_info": doc.status_info,
        "filled_date": bj_date(row.filled_at),
        "declared_date": bj_date(row.declared_at),
        "operator": row.operator_name,
        "input_code": row.input_code,
        "input_name": row.input_name,
        "operations": [op.value for op in operations(session, row, doc)],
        "history": history,
        "receipts": [h for h in history if h["source"] == Source.CUSTOMS],
    }


def operations(session: Session, row: TmpExhibition, doc: Document) -> list[Operation]:
    """What the enterprise may do now: the state's operations (R-TMP-3), less a change or a
    deletion while another application is with customs, and a deletion of a used one."""
    allowed = kinds.EXHIBITION.operations_in(status_of(doc.status))
    if not {Operation.CHANGE, Operation.REVOKE} & set(allowed):
        return allowed
    if registrations.open_applications(session, doc.business_key):
        return [op for op in allowed if op not in (Operation.CHANGE, Operation.REVOKE)]
    if registrations.uses(session, row):
        return [op for op in allowed if op is not Operation.REVOKE]
    return allowed


def bj_date(at: datetime | None) -> str | None:
    return f"{at.astimezone(CHINA_TZ):%Y%m%d}" if at else None


def _history(session: Session, doc: Document) -> list[dict[str, Any]]:
    """Status changes of the registration and of its change and deletion applications."""
    prefix = doc.business_key + "|"
    related = select(Document.id, Document.kind, Document.business_key).where(
        Document.enterprise_id == doc.enterprise_id,
        (Document.id == doc.id)
        | (
            Document.kind.in_(APPLICATION_KINDS)
            & (
                (Document.business_key == doc.business_key)
                | Document.business_key.startswith(prefix, autoescape=True)
            )
        ),
    )
    docs = {n: (kind, key) for n, kind, key in session.execute(related)}
    stmt = (
        select(StatusChange)
        .where(StatusChange.document_id.in_(docs))
        .order_by(StatusChange.at, StatusChange.id)
    )
    return [
        {"kind": docs[h.document_id][0], "document_id": h.document_id,
         "key": docs[h.document_id][1], "at": h.at.isoformat(), "from": h.from_status,
         "to": h.to_status, "source": h.source, "return_status": h.return_status,
         "return_time": h.return_time, "info": h.info, "applied": h.applied}
        for h in session.scalars(stmt)
    ]  # fmt: skip


def document_history(session: Session, doc: Document) -> list[dict[str, Any]]:
    """Status changes of one record (a form without applications of its own), oldest first."""
    stmt = (
        select(StatusChange)
        .where(StatusChange.document_id == doc.id)
        .order_by(StatusChange.at, StatusChange.id)
    )
    return [
        {"kind": doc.kind, "document_id": doc.id, "key": doc.business_key,
         "at": h.at.isoformat(), "from": h.from_status, "to": h.to_status, "source": h.source,
         "return_status": h.return_status, "return_time": h.return_time, "info": h.info,
         "applied": h.applied}
        for h in session.scalars(stmt)
    ]  # fmt: skip
