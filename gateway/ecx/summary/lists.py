"""Keeping `summary_lists` current (R-ECX-8): the kinds' intake and receipt hooks.

- An inventory list (CEB603) in summary mode (statisticsFlag B) is written with the intake
  transaction that stores it; a newer version replaces its head and lines, a deletion or a
  change to simplified mode (A) removes it (only B lists are ever summarised).
- Its receipts (CEB604) bring the invtNo customs assigned and, with 899, the closing time.
- A summary application (CEB701) links the lists it names to itself, in the transaction that
  stores it, and is refused (R-ECX-8) if one of them is already in another application, is
  not closed, or was merged already: that is what makes a list declared once only, whoever
  declares it (the job or the enterprise by hand). Lists the gateway does not hold are let
  through: customs judges them. A deletion, a return or a failure of the application frees
  its lists for the next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from gateway.codes import AppType
from gateway.core.kinds import Record, head_fields, key_text
from gateway.core.models import Document, Enterprise, utcnow
from gateway.core.status import Status
from gateway.ecx.summary.models import SummaryItem, SummaryList
from gateway.errors import Violation

SUMMARY_MODE = "B"
RULE = "R-ECX-8"
#: rows per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
CHUNK = 500
#: statuses of an application that give its lists back (customs did not take it)
FREES_LISTS = frozenset(
    {
        Status.RETURNED,
        Status.STORE_FAILED,
        Status.FORMAT_FAILED,
        Status.SECURITY_FAILED,
        Status.CUSTOMS_SEND_FAILED,
    }
)

_HEAD = {
    "agentCode": "agent_code", "agentName": "agent_name", "ebcCode": "ebc_code",
    "ebcName": "ebc_name", "ownerCode": "owner_code", "customsCode": "customs_code",
    "portCode": "port_code", "trafMode": "traf_mode", "country": "country",
    "tradeMode": "trade_mode", "statisticsFlag": "statistics_flag",
    "logisticsNo": "logistics_no",
}  # fmt: skip
_LINE = {
    "gcode": "gcode", "country": "country", "currency": "currency", "unit": "unit",
    "unit1": "unit1",
}  # fmt: skip
_LINE_AMOUNTS = {"qty": "qty", "qty1": "qty1", "totalPrice": "total_price"}


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def amount(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


# --- inventory lists (CEB603) ------------------------------------------------------------------


def on_inventory_intake(
    session: Session, ent: Enterprise, checked: Any, at: datetime
) -> list[Violation]:
    """The intake hook of the inventory kind: write the summary-mode lists, never refuse."""
    records: Sequence[Record] = checked.records
    kept = [r for r in records if r.app_type != AppType.DELETE and _summary_mode(r)]
    _remove(session, [key_text(r.business_key) for r in records])
    if kept:
        ids = _insert_heads(session, ent.id, kept)
        _insert_lines(session, zip(ids, kept, strict=True))
    return []


def _summary_mode(rec: Record) -> bool:
    return rec.fields.get("statisticsFlag", "") == SUMMARY_MODE


def _remove(session: Session, keys: Sequence[str]) -> None:
    """Drop the rows of these lists (a new version replaces them whole)."""
    for part in chunks(keys):
        ids = select(SummaryList.id).where(SummaryList.business_key.in_(part))
        session.execute(delete(SummaryItem).where(SummaryItem.list_id.in_(ids)))
        session.execute(delete(SummaryList).where(SummaryList.business_key.in_(part)))


def _insert_heads(session: Session, enterprise_id: int, records: Sequence[Record]) -> list[int]:
    now = utcnow()
    rows = [_head_row(enterprise_id, rec, now) for rec in records]
    stmt = insert(SummaryList).returning(SummaryList.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows))


def _head_row(enterprise_id: int, rec: Record, now: datetime) -> dict[str, Any]:
    fields = rec.fields
    row: dict[str, Any] = {col: fields.get(name, "") for name, col in _HEAD.items()}
    # invtNo is customs' number: it comes back on CEB604, or the list names it when modified
    return row | {
        "enterprise_id": enterprise_id,
        "business_key": key_text(rec.business_key),
        "gross_weight": amount(fields.get("grossWeight")),
        "net_weight": amount(fields.get("netWeight")),
        "invt_no": fields.get("invtNo") or None,
        "updated_at": now,
    }


def _insert_lines(session: Session, pairs: Iterable[tuple[int, Record]]) -> None:
    rows = [_line_row(list_id, line) for list_id, rec in pairs for line in _lines(rec.element)]
    if rows:
        session.execute(insert(SummaryItem), rows)


def _lines(record: etree._Element) -> Iterator[dict[str, str]]:
    for child in record:
        if isinstance(child.tag, str) and etree.QName(child).localname == "InventoryList":
            yield head_fields(child, None)


def _line_row(list_id: int, line: Mapping[str, str]) -> dict[str, Any]:
    gnum = line.get("gnum", "")
    row: dict[str, Any] = {col: line.get(name, "") for name, col in _LINE.items()}
    row |= {col: amount(line.get(name)) for name, col in _LINE_AMOUNTS.items()}
    return row | {"list_id": list_id, "gnum": int(gnum) if gnum.isdigit() else 0}


def on_inventory_receipt(
    session: Session, doc: Document, change: Any, fields: Any, notifier: Any
) -> None:
    """The `after_change` of the inventory kind: invtNo once known, closing time on 899."""
    values: dict[str, Any] = {}
    invt_no = (doc.customs_numbers or {}).get("invtNo")
    if invt_no:
        values["invt_no"] = invt_no
    if change.to is Status.CLOSED:
        # The gateway's clock, not returnTime: the cycle a list belongs to is decided when
        # the gateway learns it closed, so a run never misses a list that closes late.
        values["closed_at"] = utcnow()
    if values:
        session.execute(
            update(SummaryList)
            .where(
                SummaryList.business_key == doc.business_key,
                SummaryList.enterprise_id == doc.enterprise_id,
            )
            .values(**values, updated_at=utcnow())
        )


# --- summary applications (CEB701) -------------------------------------------------------------


def on_summary_intake(
    session: Session, ent: Enterprise, checked: Any, at: datetime
) -> list[Violation]:
    """The intake hook of the summary kind: link the named lists, or say why not (R-ECX-8)."""
    problems: list[Violation] = []
    for rec in checked.records:
        key = key_text(rec.business_key)
        free(session, ent.id, key)  # a new version names its lists anew
        if rec.app_type != AppType.DELETE:
            problems += link(session, ent.id, key, _invt_nos(rec.element), at)
    return problems


def _invt_nos(record: etree._Element) -> list[str]:
    found = []
    for child in record:
        if isinstance(child.tag, str) and etree.QName(child).localname == "SummaryApplyList":
            invt_no = head_fields(child, None).get("invtNo", "")
            if invt_no:
                found.append(invt_no)
    return found


def free(session: Session, enterprise_id: int, summary_key: str) -> int:
    """Unlink the lists of one application; returns how many."""
    result = session.execute(
        update(SummaryList)
        .where(SummaryList.enterprise_id == enterprise_id, SummaryList.summary_key == summary_key)
        .values(summary_key=None, summarised_at=None, updated_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def link(
    session: Session, enterprise_id: int, summary_key: str, invt_nos: Sequence[str], at: datetime
) -> list[Violation]:
    """Link the lists `invt_nos` the gateway holds to application `summary_key`."""
    problems: list[Violation] = []
    where = _where(summary_key)
    for part in chunks(invt_nos):
        rows = session.execute(
            select(SummaryList.id, SummaryList.invt_no, SummaryList.summary_key,
                   SummaryList.closed_at, SummaryList.entry_id)
            .where(SummaryList.enterprise_id == enterprise_id, SummaryList.invt_no.in_(part))
        ).all()  # fmt: skip
        problems += [v for row in rows if (v := _refusal(row, where)) is not None]
        if not problems and rows:
            problems += _claim(session, [row.id for row in rows], summary_key, at, where)
    return problems


def _where(summary_key: str) -> str:
    cop_no, _, seq = summary_key.partition("|")
    return f"SummaryApply(copNo={cop_no}, msgSeqNo={seq})/SummaryApplyList/invtNo"


def _refusal(row: Any, where: str) -> Violation | None:
    if row.entry_id:
        why = f"was merged into customs declaration {row.entry_id} already"
    elif row.summary_key:
        cop_no, _, seq = row.summary_key.partition("|")
        why = f"is already in summary application copNo={cop_no} msgSeqNo={seq}"
    elif row.closed_at is None:
        why = "is not closed (结关) yet: only closed lists are summarised"
    else:
        return None
    text = f"inventory list {row.invt_no} {why} (customs announcement 2018 No.194)"
    return Violation(RULE, where, text, value=row.invt_no)


def _claim(
    session: Session, ids: Sequence[int], summary_key: str, at: datetime, where: str
) -> list[Violation]:
    # Guarded UPDATE: a concurrent application that took one of them first makes the count
    # short (PostgreSQL re-reads the row after the other commits), and this one is refused.
    result = session.execute(
        update(SummaryList)
        .where(SummaryList.id.in_(ids), SummaryList.summary_key.is_(None))
        .values(summary_key=summary_key, summarised_at=at, updated_at=utcnow())
    )
    if int(getattr(result, "rowcount", 0) or 0) == len(ids):
        return []
    text = "another summary application took some of these lists at the same time; send again"
    return [Violation(RULE, where, text)]


def on_summary_receipt(
    session: Session, doc: Document, change: Any, fields: Any, notifier: Any
) -> None:
    """The `after_change` of the summary kind: customs did not take it, the lists go back."""
    if change.to in FREES_LISTS:
        free(session, doc.enterprise_id, doc.business_key)


def pending_filter(enterprise_id: int | None = None) -> list[Any]:
    """Closed summary-mode lists with a customs number, in no application and no declaration."""
    conditions: list[Any] = [
        SummaryList.statistics_flag == SUMMARY_MODE,
        SummaryList.summary_key.is_(None),
        SummaryList.entry_id.is_(None),
        SummaryList.closed_at.is_not(None),
        SummaryList.invt_no.is_not(None),
    ]
    if enterprise_id is not None:
        conditions.append(SummaryList.enterprise_id == enterprise_id)
    return conditions


__all__ = [
    "FREES_LISTS",
    "free",
    "link",
    "on_inventory_intake",
    "on_inventory_receipt",
    "on_summary_intake",
    "on_summary_receipt",
    "pending_filter",
]
