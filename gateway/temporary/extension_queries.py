"""The extension query (暂时进出境货物延期查询, seed 002 §2.4).

No condition lists every extension of the enterprise. The conditions are the screenshot's:
申请海关 (`customs`), 数据状态 (`status`), 填报日期 from … to; paged, newest first. Each record
has the page's columns — 预录入延期编号, 申请海关, 延期批文号, 延期申请期限, 海关延期审核允许时间,
填报日期 — with 数据状态, 审核备注, the confirmation it extends (确认申请书编号, its date before)
and, opened, its form, operations, history and customs' receipts. Another enterprise's
extension answers like a missing one.
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
from gateway.temporary import kinds
from gateway.temporary.codes import CUSTOMS, STATUS_NAMES
from gateway.temporary.models import TmpExtension
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
    """One page of the caller's extensions, newest first, with the total."""
    problems = cond.problems()
    if problems:
        raise InvalidMessage(problems)
    stmt = filtered(_base(caller), TmpExtension, cond)
    return one_page(session, stmt, TmpExtension, cond, view)


def detail(session: Session, caller: Caller, doc_id: int) -> dict[str, Any]:
    """One extension (by its document id) with its form."""
    row, doc = one_record(session, _base(caller), doc_id, "extension")
    return {**view(session, row, doc), "form": dict(row.fields or {})}


def view(session: Session, row: TmpExtension, doc: Document) -> dict[str, Any]:
    status = status_of(doc.status)
    history = document_history(session, doc)
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
        "filled_date": bj_date(row.filled_at),
        "declared_date": bj_date(row.declared_at),
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
    return records(TmpExtension, kinds.EXTENSION.name, caller)
