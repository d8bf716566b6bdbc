"""Customs' summary results (CEB792, R-ECX-8): the lists of a summary become finalised.

A CEB792 names, per merged customs declaration (entryId), the inventory items customs put
in it (invtNo, gnum → gseqno). For each list named, the gateway records the declaration on
the list and its lines and moves the inventory document from closed to finalised (结案) —
with history and a notification, like every status change (R-COM-4). The raw CEB792 is kept
like every receipt; a line the gateway cannot place (unknown list, a list in another
summary, a list not closed) moves nothing and is kept in the receipt for ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from gateway.core.history import Change, Notifier, Source, record
from gateway.core.models import Document, Receipt
from gateway.core.status import Status, status_of
from gateway.ecx.status import EcxStatus
from gateway.ecx.summary.lists import chunks
from gateway.ecx.summary.models import SummaryItem, SummaryList
from receipts.parse import SUMMARY_RESULT, ParsedSummaryResult, SummaryResult, SummaryResultLine


@dataclass(frozen=True)
class ResultOutcome:
    receipt_id: int
    outcome: str  # matched / partly_matched / unmatched
    finalised: int


@dataclass(frozen=True)
class Placed:
    """What one SummaryResult did: lists finalised, and lists kept for ops with the reason."""

    sum_no: str
    entry_id: str
    finalised: tuple[str, ...]
    unmatched: tuple[tuple[str, str], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "sumNo": self.sum_no,
            "entryId": self.entry_id,
            "finalised": list(self.finalised),
            "unmatched": [{"invtNo": i, "reason": why} for i, why in self.unmatched],
        }


def apply_summary_result(
    session: Session,
    data: bytes,
    digest: str,
    parsed: ParsedSummaryResult,
    cop_msg_id: str | None,
    notifier: Notifier | None,
) -> ResultOutcome:
    """Keep the CEB792 and apply each of its results (in the caller's transaction)."""
    row = Receipt(raw=data, sha256=digest, msg_type=SUMMARY_RESULT, cop_msg_id=cop_msg_id,
                  parsed={}, outcome="unmatched")  # fmt: skip
    session.add(row)
    session.flush()
    placed = [_apply(session, result, row.id, notifier) for result in parsed.results]
    row.parsed = {"guid": parsed.guid, "results": [p.as_json() for p in placed]}
    row.outcome = _outcome(placed)
    return ResultOutcome(row.id, row.outcome, sum(len(p.finalised) for p in placed))


def _outcome(placed: Sequence[Placed]) -> str:
    good = sum(len(p.finalised) for p in placed)
    bad = sum(len(p.unmatched) for p in placed)
    if not bad:
        return "matched"
    return "partly_matched" if good else "unmatched"


def _apply(
    session: Session, result: SummaryResult, receipt_id: int, notifier: Notifier | None
) -> Placed:
    by_list: dict[str, list[SummaryResultLine]] = {}
    for line in result.lines:
        by_list.setdefault(line.invt_no, []).append(line)
    if not result.entry_id:
        waiting = f"no entryId yet (decState {result.fields.get('decState', '')})"
        return Placed(result.sum_no, "", (), tuple((i, waiting) for i in by_list))
    rows = _lists(session, list(by_list))
    sum_nos = _sum_nos(session, rows.values())
    docs = _documents(session, [r.business_key for r in rows.values()])
    done: list[str] = []
    kept: list[tuple[str, str]] = []
    for invt_no, lines in by_list.items():
        why = _misplaced(rows.get(invt_no), result, sum_nos, docs)
        if why is not None:
            kept.append((invt_no, why))
            continue
        _place(session, rows[invt_no], docs[rows[invt_no].business_key], result, lines,
               receipt_id, notifier)  # fmt: skip
        done.append(invt_no)
    return Placed(result.sum_no, result.entry_id, tuple(done), tuple(kept))


def _lists(session: Session, invt_nos: Sequence[str]) -> dict[str, SummaryList]:
    found: dict[str, SummaryList] = {}
    for part in chunks(invt_nos):
        stmt = select(SummaryList).where(SummaryList.invt_no.in_(part)).with_for_update()
        found.update({row.invt_no or "": row for row in session.scalars(stmt)})
    return found


def _sum_nos(session: Session, rows: Iterable[SummaryList]) -> dict[tuple[int, str], str]:
    """(enterprise, application key) → the sumNo customs gave that application."""
    keys = sorted({r.summary_key for r in rows if r.summary_key})
    found: dict[tuple[int, str], str] = {}
    for part in chunks(keys):
        stmt = select(Document).where(
            Document.kind == "summary",
            Document.business_key.in_(part),
            Document.status != Status.DELETED.value,
        )
        for doc in session.scalars(stmt):
            found[(doc.enterprise_id, doc.business_key)] = (doc.customs_numbers or {}).get(
                "sumNo", ""
            )
    return found


def _documents(session: Session, keys: Sequence[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for part in chunks(list(keys)):
        stmt = (
            select(Document)
            .where(
                Document.kind == "inventory",
                Document.business_key.in_(part),
                Document.status != Status.DELETED.value,
            )
            .with_for_update()
        )
        found.update({doc.business_key: doc for doc in session.scalars(stmt)})
    return found


def _misplaced(
    row: SummaryList | None,
    result: SummaryResult,
    sum_nos: dict[tuple[int, str], str],
    docs: dict[str, Document],
) -> str | None:
    """Why this list cannot take the result, or None."""
    if row is None:
        return "no summary-mode inventory list with this invtNo"
    doc = docs.get(row.business_key)
    if doc is None:
        return f"inventory list {row.business_key} is deleted"
    ours = sum_nos.get((row.enterprise_id, row.summary_key or ""), "")
    if ours and ours != result.sum_no:
        return f"the list is in summary {ours}, not {result.sum_no}"
    status = status_of(doc.status)
    # finalised already: a repeat, or the list's lines in a second declaration (a customs
    # declaration holds at most 50 items) — the lines still take their place
    if status not in (Status.CLOSED, EcxStatus.FINALISED):
        return f"the list is {status.value}, not closed (结关): it cannot be finalised"
    return None


def _place(
    session: Session,
    row: SummaryList,
    doc: Document,
    result: SummaryResult,
    lines: Sequence[SummaryResultLine],
    receipt_id: int,
    notifier: Notifier | None,
) -> None:
    row.entry_id = row.entry_id or result.entry_id
    _place_lines(session, row.id, result.entry_id, lines)
    if doc.status == EcxStatus.FINALISED.value:
        return  # a repeat, or the list's other declaration: already finalised
    doc.customs_numbers = {**(doc.customs_numbers or {}), "entryId": row.entry_id}
    record(session, doc, _change(result, lines, receipt_id), notifier)


def _place_lines(
    session: Session, list_id: int, entry_id: str, lines: Sequence[SummaryResultLine]
) -> None:
    table = cast(Table, SummaryItem.__table__)
    stmt = (
        update(table)
        .where(table.c.list_id == bindparam("l_id"), table.c.gnum == bindparam("l_gnum"))
        .values(entry_id=bindparam("l_entry"), gseqno=bindparam("l_seq"))
    )
    params = [
        {"l_id": list_id, "l_gnum": line.gnum, "l_entry": entry_id, "l_seq": line.gseqno}
        for line in lines
    ]
    session.execute(stmt, params)


def _change(result: SummaryResult, lines: Sequence[SummaryResultLine], receipt_id: int) -> Change:
    items = ", ".join(f"{line.gnum}→{line.gseqno}" for line in lines)
    info = (
        f"[R-ECX-8] merged into customs declaration {result.entry_id} (summary "
        f"{result.sum_no}, declSeqNo {result.fields.get('declSeqNo', '')}; items gnum→gseqno "
        f"{items})"
    )
    op_date = result.fields.get("opDate", "")
    stamp = op_date if len(op_date) == 17 and op_date.isdigit() else None
    return Change(EcxStatus.FINALISED, Source.CUSTOMS, info, receipt_id, None, stamp)
