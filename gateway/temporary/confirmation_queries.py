"""The review confirmation query (暂时进出境审核确认查询, seed 002 §2.2).

No condition lists every confirmation of the enterprise ("不输入查询条件，直接点击【查询】…显示
所有数据"). The conditions are those of §2.4's screenshot, which the manual calls "the same":
申请海关 (here 主管地海关, `customs`), 数据状态 (`status`), 填报日期 from … to; paged, newest
first. Each record has the page's columns — 预录入编号, 确认申请书编号, 主管地海关, 进出境日期,
复运出/进境日期, 填报日期, 数据状态, 审核备注, 结案日期 — and, opened, its form, goods lines,
attachments (name, size, SHA-256), operations, history and customs' receipts. Another
enterprise's confirmation answers like a missing one.
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
from gateway.temporary import attachments, kinds
from gateway.temporary.codes import CUSTOMS, STATUS_NAMES
from gateway.temporary.loan_queries import _history
from gateway.temporary.models import TmpConfirmation
from gateway.temporary.queries import Conditions, _bj_date, _shown, _start_of


def search(session: Session, caller: Caller, cond: Conditions) -> dict[str, Any]:
    """One page of the caller's confirmations, newest first, with the total."""
    problems = cond.problems()
    if problems:
        raise InvalidMessage(problems)
    stmt = _filtered(_base(caller), cond)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(TmpConfirmation.filled_at.desc(), TmpConfirmation.id.desc())
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
    """One confirmation (by its document id) with its form and goods."""
    found = session.execute(_base(caller).where(Document.id == doc_id)).first()
    if found is None:  # another's record answers like a missing one
        raise NotFound(f"no review confirmation {doc_id}")
    row, doc = found
    return {**view(session, row, doc), "form": dict(row.fields or {}), "goods": list(row.goods)}


def view(session: Session, row: TmpConfirmation, doc: Document) -> dict[str, Any]:
    status = status_of(doc.status)
    history = _history(session, doc)
    return {
        "document_id": doc.id,
        "pre_entry_no": row.pre_entry_no,
        "confirm_no": (doc.customs_numbers or {}).get("confirmNo"),
        "agent_code": row.agent_code,
        "cop_no": row.cop_no,
        "customs_code": row.customs_code,
        "customs_name": CUSTOMS.get(row.customs_code, ""),
        "exhibition_no": row.exhibition_no,
        "ie_date": row.ie_date,
        "return_date": row.return_date,
        "filled_date": _bj_date(row.filled_at),
        "declared_date": _bj_date(row.declared_at),
        "status": doc.status,
        "status_name": STATUS_NAMES.get(status, doc.status),
        "status_info": doc.status_info,
        "review_remarks": row.review_remarks,
        "close_date": row.close_date or None,
        "operator": row.operator_name,
        "attachments": attachments.listed(session, row.id),
        "operations": [op.value for op in kinds.CONFIRMATION.operations_in(status)],
        "history": history,
        "receipts": [h for h in history if h["source"] == Source.CUSTOMS],
    }


def _base(caller: Caller) -> Select[Any]:
    key = TmpConfirmation.agent_code + "|" + TmpConfirmation.cop_no
    stmt: Any = select(TmpConfirmation, Document).join(
        Document,
        (Document.business_key == key)
        & (Document.kind == kinds.CONFIRMATION.name)
        & (Document.enterprise_id == TmpConfirmation.enterprise_id),
    )
    stmt = stmt.where(Document.status != Status.DELETED.value)
    if not caller.is_admin:
        stmt = stmt.where(TmpConfirmation.enterprise_id == caller.enterprise_id)
    return stmt


def _filtered(stmt: Select[Any], cond: Conditions) -> Select[Any]:
    if cond.customs:
        stmt = stmt.where(TmpConfirmation.customs_code == cond.customs)
    if cond.status:
        stmt = stmt.where(Document.status.in_(cond.statuses()))
    if cond.filled_from:
        stmt = stmt.where(TmpConfirmation.filled_at >= _start_of(cond.filled_from))
    if cond.filled_to:
        end = _start_of(cond.filled_to + timedelta(days=1))
        stmt = stmt.where(TmpConfirmation.filled_at < end)
    return stmt
