"""The loaned-exhibit list query (外借展品清单查询, seed 002 §1.4) and the declaration-goods
lookup of the list's form (报关单商品查询, §1.3).

§1.4's text gives no conditions or columns: "no condition shows all the data", and records
in 暂存, 发往海关失败, 海关入库失败 or 审核不通过 open for modify and declare. Like the
registration query (`queries`) we filter by 主管海关, 数据状态 and 填报日期 from … to (the
conditions the manual's sibling pages show), and add 展览会编号 (the list's one key field);
paged, newest first, each record with its goods lines, operations, history and receipts.

The lookup answers only for an approved exhibition of the caller: an unknown number and one of
another enterprise both answer 404 alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gateway.core.enterprises import Caller
from gateway.core.history import Source
from gateway.core.models import Document, Enterprise
from gateway.core.status import status_of
from gateway.errors import InvalidMessage, NotFound, Violation
from gateway.temporary import declarations, kinds, loans
from gateway.temporary.codes import CUSTOMS, STATUS_NAMES
from gateway.temporary.models import TmpDeclarationGoods, TmpLoanGoods, TmpLoanList
from gateway.temporary.queries import (
    QUERY,
    Conditions,
    bj_date,
    document_history,
    filtered,
    one_page,
    one_record,
    records,
)

_DAY = timedelta(days=1)


def search(
    session: Session, caller: Caller, cond: Conditions, exhibition_no: str | None = None
) -> dict[str, Any]:
    """One page of the caller's lists, newest first, with the total."""
    problems = cond.problems()
    if exhibition_no is not None and len(exhibition_no) > 20:
        problems.append(Violation(QUERY, "exhibition_no", "at most 20 characters"))
    if problems:
        raise InvalidMessage(problems)
    stmt = filtered(_base(caller), TmpLoanList, cond)
    if exhibition_no:
        stmt = stmt.where(TmpLoanList.exhibition_no == exhibition_no)
    return one_page(session, stmt, TmpLoanList, cond, view)


def _base(caller: Caller) -> Select[Any]:
    return records(TmpLoanList, kinds.LOAN_LIST.name, caller)


def detail(session: Session, caller: Caller, doc_id: int) -> dict[str, Any]:
    """One list (by its document id) with its form, goods, history and receipts."""
    row, doc = one_record(session, _base(caller), doc_id, "loaned-exhibit list")
    return {**view(session, row, doc), "form": dict(row.fields or {})}


def view(session: Session, row: TmpLoanList, doc: Document) -> dict[str, Any]:
    status = status_of(doc.status)
    history = document_history(session, doc)
    return {
        "document_id": doc.id,
        "pre_entry_no": row.pre_entry_no,
        "loan_no": (doc.customs_numbers or {}).get("loanNo"),
        "exhibition_no": row.exhibition_no,
        "exhibition_name": row.exhibition_name,
        "agent_code": row.agent_code,
        "cop_no": row.cop_no,
        "customs_code": row.customs_code,
        "customs_name": CUSTOMS.get(row.customs_code, ""),
        "borrower_name": (row.fields or {}).get("borrowerName", ""),
        "status": doc.status,
        "status_name": STATUS_NAMES.get(status, doc.status),
        "status_info": doc.status_info,
        "filled_date": bj_date(row.filled_at),
        "declared_date": bj_date(row.declared_at),
        "operator": row.operator_name,
        "input_code": row.input_code,
        "input_name": row.input_name,
        "goods": _goods(session, row),
        "operations": [op.value for op in kinds.LOAN_LIST.operations_in(status)],
        "history": history,
        "receipts": [h for h in history if h["source"] == Source.CUSTOMS],
    }


def _goods(session: Session, row: TmpLoanList) -> list[dict[str, Any]]:
    """The list's lines with what customs' declaration data says of each."""
    stmt = (
        select(TmpLoanGoods, TmpDeclarationGoods)
        .outerjoin(
            TmpDeclarationGoods,
            (TmpDeclarationGoods.entry_id == TmpLoanGoods.entry_id)
            & (TmpDeclarationGoods.item_no == TmpLoanGoods.item_no),
        )
        .where(TmpLoanGoods.loan_list_id == row.id)
        .order_by(TmpLoanGoods.g_no)
    )
    out = []
    for line, declared in session.execute(stmt):
        described = declarations.view(declared) if declared is not None else {}
        lent = format(line.qty.normalize(), "f")
        out.append({**described, "gNo": line.g_no, "entryId": line.entry_id,
                    "itemNo": line.item_no, "loanQty": lent})  # fmt: skip
    return out


# --- 报关单商品查询 -----------------------------------------------------------------------------


def goods_lookup(
    session: Session,
    caller: Caller,
    exhibition_no: str,
    entry_id: str | None = None,
    item_no: int | None = None,
) -> dict[str, Any]:
    """Every line of the exhibition's declarations, those of one declaration, or one line
    (商品序号 only with 报关单海关编号: refused naming itemNo otherwise)."""
    if item_no is not None and not entry_id:
        declarations.lines(session, exhibition_no, entry_id, item_no)  # raises the refusal
    ent = None if caller.is_admin else session.get(Enterprise, caller.enterprise_id)
    if not caller.is_admin and ent is None:
        raise NotFound(f"no approved exhibition {exhibition_no}")
    if loans.approved_exhibition(session, ent, exhibition_no, lock=False) is None:
        raise NotFound(f"no approved exhibition {exhibition_no}")
    found = declarations.lines(session, exhibition_no, entry_id, item_no)
    return {
        "exhibition_no": exhibition_no,
        "total": len(found),
        "message": "" if found else "没有找到匹配的记录",
        "lines": [declarations.view(line) for line in found],
    }
