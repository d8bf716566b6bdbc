"""B2B报关单查询 (manual 004 §6.1, R-ECX-9, R-COM-7): the customs declarations customs
reported (`gateway.ecx.declarations`), not inventory lists.

Filters, as the manual's drop-downs: 业务类型 (`statisticsFlag` A/B), 业务状态
(`entryStatus`: 100, 120, 399, 800, 899), 汇总状态 (`summaryState`), 贸易方式 (`tradeMode`
9710/9810); and the numbers a broker types: 统一编号 (`seqNo`), 报关单号 (`entryId`),
清单编号 (`invtNo`), 申报地海关 (`customsCode`). Every field is optional. The entry time
(入库时间, when customs stored the declaration) is bounded to one calendar month, and with no
window the month up to now is shown (the manual's default 入库时间), as every export query
(`gateway.ecx.queries.entry_window`). Scoped to the caller's enterprise; an admin sees all.
Clicking 统一编号 opens 报关单详情: `detail(seq_no)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.core.enterprises import Caller
from gateway.core.queries import MAX_PAGE_SIZE
from gateway.ecx.declarations import RULE, EntryDeclaration, EntryStatus, SummaryState, as_dict
from gateway.ecx.queries import entry_window
from gateway.errors import InvalidMessage, NotFound, Violation

TRADE_MODES = ("9710", "9810")  # B2B direct export, export to an overseas warehouse
BUSINESS_TYPES = ("A", "B")  # 简化申报, 汇总申报

#: filter (wire name) → (column, allowed values or None for free text)
FILTERS: dict[str, tuple[Any, tuple[str, ...] | None]] = {
    "statisticsFlag": (EntryDeclaration.business_type, BUSINESS_TYPES),
    "entryStatus": (EntryDeclaration.status, tuple(s.value for s in EntryStatus)),
    "summaryState": (EntryDeclaration.summary_state, tuple(s.value for s in SummaryState)),
    "tradeMode": (EntryDeclaration.trade_mode, TRADE_MODES),
    "seqNo": (EntryDeclaration.seq_no, None),
    "entryId": (EntryDeclaration.entry_id, None),
    "invtNo": (EntryDeclaration.invt_no, None),
    "customsCode": (EntryDeclaration.customs_code, None),
}


@dataclass(frozen=True)
class B2BFilter:
    entry_from: datetime | None = None
    entry_to: datetime | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    page: int = 1
    page_size: int = 50


def _check(match: Mapping[str, str]) -> list[Violation]:
    problems = []
    for name, value in match.items():
        spec = FILTERS.get(name)
        if spec is None:
            known = ", ".join(FILTERS)
            problems.append(Violation(RULE, name, f"is not a filter of B2B报关单查询 ({known})",
                                      value=value))  # fmt: skip
        elif spec[1] is not None and value not in spec[1]:
            allowed = ", ".join(spec[1])
            problems.append(Violation(RULE, name, f"must be one of {allowed}", value=value))
    return problems


def _scoped(stmt: Select[Any], caller: Caller) -> Select[Any]:
    if caller.is_admin:
        return stmt
    return stmt.where(EntryDeclaration.enterprise_id == caller.enterprise_id)


def search(
    session: Session, caller: Caller, flt: B2BFilter, *, now: datetime | None = None
) -> dict[str, Any]:
    """One page of declarations, newest entry time first."""
    problems = _check(flt.match)
    if problems:
        raise InvalidMessage(problems)
    window = entry_window(flt.entry_from, flt.entry_to, now)
    stmt = _scoped(select(EntryDeclaration), caller).where(
        EntryDeclaration.stored_at >= window.start, EntryDeclaration.stored_at <= window.end
    )
    for name, value in flt.match.items():
        stmt = stmt.where(FILTERS[name][0] == value)
    size, page = max(1, min(flt.page_size, MAX_PAGE_SIZE)), max(1, flt.page)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(EntryDeclaration.stored_at.desc(), EntryDeclaration.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return {
        "list": "b2b", "window": window.as_dict(), "page": page, "page_size": size,
        "total": total, "has_more": page * size < total, "items": [as_dict(r) for r in rows],
    }  # fmt: skip


def detail(session: Session, caller: Caller, seq_no: str) -> dict[str, Any]:
    """报关单详情: the declaration by its 统一编号, the caller's own only (another
    enterprise's is as unknown as a missing one)."""
    row = session.scalar(_scoped(select(EntryDeclaration), caller).where(
        EntryDeclaration.seq_no == seq_no))  # fmt: skip
    if row is None:
        raise NotFound(f"no B2B customs declaration with 统一编号 {seq_no}")
    return as_dict(row, detail=True)
