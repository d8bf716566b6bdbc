"""The extension query (暂时进出境货物延期查询, seed 002 §2.4).

No condition lists every extension of the enterprise. The conditions are the screenshot's:
申请海关 (`customs`), 数据状态 (`status`), 填报日期 from … to; paged, newest first. Each record
has the page's columns — 预录入延期编号, 申请海关, 延期批文号, 延期申请期限, 海关延期审核允许时间,
填报日期 — with 数据状态, 审核备注, the confirmation it extends (确认申请书编号, its date before)
and, opened, its form, operations, history and customs' receipts. Another enterprise's
extension answers like a missing one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.core.enterprises import Caller
from gateway.core.history import Source
from gateway.core.models import Document
from gateway.core.status import Status, status_of
from gateway.errors import InvalidMessage, NotFound
from gateway.temporary import kinds
from gateway.temporary.codes import CUSTOMS, STATUS_NAMES
from gateway.temporary.loan_queries import _history
from gateway.temporary.models import TmpExtension
from gateway.temporary.queries import Conditions, _bj_date, _shown, _start_of


def search(session: Session, caller: Caller, cond: Conditions) -> dict[str, Any]:
    """One page of the caller's extensions, newest first, with the total."""
    problems = cond.problems()
    if problems:
        raise InvalidMessage(problems)
    stmt = _filtered(_base(caller), cond)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(TmpExtension.filled_at.desc(), TmpExtension.id.desc())
    rows = session.execute(page.offset((cond.page - 1) * cond.size).limit(cond.size)).all()
    first = (cond.page - 1) * cond.size + 1 if rows else 0
    return {
        "total": total,
        "page": cond.page,
        "size": cond.size,
        "shown": _shown(first, len(rows), total),
        "records": [view(session, row, doc) for row, doc in rows],
    }


def detail(session: Session, caller: Caller, doc_id: int) -> dict[str, Any]:
    """One extension (by its document id) with its form."""
    found = session.execute(_base(caller).where(Document.id == doc_id)).first()
    if found is None:  # another's record answers like a missing one
        raise NotFound(f"no extension {doc_id}")
    row, doc = found
    return {**view(session, row, doc), "form": dict(row.fields or {})}


def view(session: Session, row: TmpExtension, doc: Document) -> dict[str, Any]:
    status = status_of(doc.status)
    history = _history(session, doc)
    return {
        "document_id": doc.id,
        "pre_entry_no": row.pre_entry_no,
        "agent_code": row.agent_code,
        "cop_no": row.cop_no,
        "customs_code": row.customs_code,
        "customs_name": CUSTOMS.get(row.customs_code, ""),
        "confirm_no": row.confirm_no,
        "approval_no": row.approval_no,
        "extend_date": row.extend_date,
        "previous_date": row.previous_date or None,
        "allowed_date": row.allowed_date or None,
        "filled_date": _bj_date(row.filled_at),
        "declared_date": _bj_date(row.declared_at),
        "status": doc.status,
        "status_name": STATUS_NAMES.get(status, doc.status),
        "status_info": doc.status_info,
        "review_remarks": row.review_remarks,
        "operator": row.operator_name,
        "operations": [op.value for op in kinds.EXTENSION.operations_in(status)],
        "history": history,
        "receipts": [h for h in history if h["source"] == Source.CUSTOMS],
    }


def _base(caller: Caller) -> Select[Any]:
    key = TmpExtension.agent_code + "|" + TmpExtension.cop_no
    stmt: Any = select(TmpExtension, Document).join(
        Document,
        (Document.business_key == key)
        & (Document.kind == kinds.EXTENSION.name)
        & (Document.enterprise_id == TmpExtension.enterprise_id),
    )
    stmt = stmt.where(Document.status != Status.DELETED.value)
    if not caller.is_admin:
        stmt = stmt.where(TmpExtension.enterprise_id == caller.enterprise_id)
    return stmt


def _filtered(stmt: Select[Any], cond: Conditions) -> Select[Any]:
    if cond.customs:
        stmt = stmt.where(TmpExtension.customs_code == cond.customs)
    if cond.status:
        stmt = stmt.where(Document.status.in_(cond.statuses()))
    if cond.filled_from:
        stmt = stmt.where(TmpExtension.filled_at >= _start_of(cond.filled_from))
    if cond.filled_to:
        end = _start_of(cond.filled_to + timedelta(days=1))
        stmt = stmt.where(TmpExtension.filled_at < end)
    return stmt
