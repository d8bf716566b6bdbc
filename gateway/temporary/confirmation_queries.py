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

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from gateway.core.enterprises import Caller
from gateway.core.history import Source
from gateway.core.models import Document
from gateway.core.status import status_of
from gateway.errors import InvalidMessage
from gateway.temporary import attachments, kinds
from gateway.temporary.codes import CUSTOMS, STATUS_NAMES
from gateway.temporary.models import TmpConfirmation
from gateway.temporary.queries import (
    Conditions,
    bj_date,
    document_history,
    filtered,
    one_page,
    one_record,
    records,
)


def search(session: Session, caller: Caller, cond: Conditions) -> dict[str, Any]:
    """One page of the caller's confirmations, newest first, with the total."""
    problems = cond.problems()
    if problems:
        raise InvalidMessage(problems)
    stmt = filtered(_base(caller), TmpConfirmation, cond)
    return one_page(session, stmt, TmpConfirmation, cond, view)


def detail(session: Session, caller: Caller, doc_id: int) -> dict[str, Any]:
    """One confirmation (by its document id) with its form and goods."""
    row, doc = one_record(session, _base(caller), doc_id, "review confirmation")
    return {**view(session, row, doc), "form": dict(row.fields or {}), "goods": list(row.goods)}


def view(session: Session, row: TmpConfirmation, doc: Document) -> dict[str, Any]:
    status = status_of(doc.status)
    history = document_history(session, doc)
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
        "filled_date": bj_date(row.filled_at),
        "declared_date": bj_date(row.declared_at),
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
    return records(TmpConfirmation, kinds.CONFIRMATION.name, caller)
