"""汇总结果单查询 and 汇总报关单查询 (manual 004 §5.3, §5.4; R-ECX-8, R-COM-7): what customs'
summary results (CEB792) say, to the enterprise whose summary they answer.

A summary result is one SummaryResult of a CEB792: its head (sumNo, declSeqNo, entryId,
decState, weights…) and its lines (invtNo, logisticsNo, gnum → gseqno, gcode). The CEB792 is
kept whole like every receipt (`receipts.raw`), so both queries read it from there: no table
copies it. A result is the enterprise's whose summary application customs numbered sumNo
(CEB702); failing that, whose inventory lists it names. Another enterprise's result answers
like a missing one (404). An admin sees every result.

- results: one item per SummaryResult, with the lists it finalised (document id, status);
  the detail (by sumNo) holds every declaration customs made of that summary.
- declarations: one item per merged customs declaration (entryId), with the lists in it and
  each list's items (gnum → gseqno, gcode), for the export tax refund.

The entry time (入库时间) of a result is when the gateway received customs' CEB792; a query
is bounded to one calendar month of it, like every export query (`entry_window`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.enterprises import Caller
from gateway.core.models import Document, Receipt
from gateway.core.queries import MAX_PAGE_SIZE
from gateway.core.status import Status
from gateway.ecx.queries import Window, entry_window
from gateway.ecx.summary.lists import chunks
from gateway.ecx.summary.models import SummaryItem, SummaryList
from gateway.errors import NotFound, ReceiptError
from receipts.parse import SUMMARY_RESULT, SummaryResult, parse_summary_result


@dataclass(frozen=True)
class Found:
    """One SummaryResult of a kept CEB792, and whose it is."""

    receipt: Receipt
    result: SummaryResult
    enterprise_id: int | None
    application: Document | None


def _receipts(session: Session, window: Window | None, since: datetime | None) -> list[Receipt]:
    stmt = select(Receipt).where(Receipt.msg_type == SUMMARY_RESULT)
    if window is not None:
        stmt = stmt.where(Receipt.received_at >= window.start, Receipt.received_at <= window.end)
    if since is not None:
        stmt = stmt.where(Receipt.received_at >= since)
    return list(session.scalars(stmt.order_by(Receipt.received_at.desc(), Receipt.id.desc())))


def _parsed(receipts: Iterable[Receipt]) -> list[tuple[Receipt, SummaryResult]]:
    out = []
    for row in receipts:
        try:
            parsed = parse_summary_result(bytes(row.raw))
        except ReceiptError:
            continue  # kept as unreadable for ops; nothing to show
        out += [(row, result) for result in parsed.results]
    return out


def _applications(session: Session, sum_nos: Sequence[str]) -> dict[str, Document]:
    sum_no = Document.customs_numbers["sumNo"].as_string()
    found: dict[str, Document] = {}
    for part in chunks(sorted(set(sum_nos))):
        stmt = select(Document).where(
            Document.kind == "summary",
            Document.status != Status.DELETED.value,
            sum_no.in_(part),
        )
        for doc in session.scalars(stmt.order_by(Document.id)):
            found[(doc.customs_numbers or {}).get("sumNo", "")] = doc
    return found


def _lists(session: Session, invt_nos: Iterable[str]) -> dict[str, SummaryList]:
    found: dict[str, SummaryList] = {}
    for part in chunks(sorted(set(invt_nos))):
        stmt = select(SummaryList).where(SummaryList.invt_no.in_(part))
        found.update({row.invt_no or "": row for row in session.scalars(stmt)})
    return found


def _documents(session: Session, keys: Iterable[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for part in chunks(sorted(set(keys))):
        stmt = select(Document).where(
            Document.kind == "inventory",
            Document.business_key.in_(part),
            Document.status != Status.DELETED.value,
        )
        found.update({doc.business_key: doc for doc in session.scalars(stmt)})
    return found


class Results:
    """The summary results visible to a caller, with the lists they name."""

    def __init__(self, session: Session, caller: Caller) -> None:
        self.session = session
        self.caller = caller
        self.lists: dict[str, SummaryList] = {}
        self.docs: dict[str, Document] = {}

    def find(self, window: Window | None, since: datetime | None = None) -> list[Found]:
        """The visible results received in `window`, or since `since` (a detail's)."""
        pairs = _parsed(_receipts(self.session, window, since))
        apps = _applications(self.session, [r.sum_no for _, r in pairs])
        self.lists = _lists(self.session, [ln.invt_no for _, r in pairs for ln in r.lines])
        self.docs = _documents(self.session, [row.business_key for row in self.lists.values()])
        found = []
        for receipt, result in pairs:
            app = apps.get(result.sum_no)
            owner = app.enterprise_id if app is not None else self._list_owner(result)
            if self.caller.is_admin or (owner is not None and owner == self.caller.enterprise_id):
                found.append(Found(receipt, result, owner, app))
        return found

    def _list_owner(self, result: SummaryResult) -> int | None:
        owners = {row.enterprise_id for ln in result.lines if (row := self.lists.get(ln.invt_no))}
        return owners.pop() if len(owners) == 1 else None

    def list_view(self, invt_no: str, lines: Sequence[Any]) -> dict[str, Any]:
        row = self.lists.get(invt_no)
        doc = self.docs.get(row.business_key) if row is not None else None
        mine = doc is not None and (
            self.caller.is_admin or doc.enterprise_id == self.caller.enterprise_id
        )
        return {
            "invtNo": invt_no,
            "logisticsNo": lines[0].logistics_no if lines else "",
            "document_id": doc.id if mine and doc is not None else None,
            "status": doc.status if mine and doc is not None else None,
            "items": [{"gnum": ln.gnum, "gseqno": ln.gseqno, "gcode": ln.gcode} for ln in lines],
        }


def _received(receipt: Receipt) -> str:
    return receipt.received_at.astimezone(CHINA_TZ).isoformat()


def _by_list(result: SummaryResult) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for line in result.lines:
        out.setdefault(line.invt_no, []).append(line)
    return out


def _result_view(results: Results, found: Found) -> dict[str, Any]:
    app = found.application
    return {
        "sumNo": found.result.sum_no,
        "entryId": found.result.entry_id,
        "receipt_id": found.receipt.id,
        "received_at": _received(found.receipt),
        "application": None
        if app is None
        else {"document_id": app.id, "business_key": app.business_key, "status": app.status},
        "head": dict(found.result.fields),
        "lines": [
            {
                "invtNo": ln.invt_no,
                "logisticsNo": ln.logistics_no,
                "gseqno": ln.gseqno,
                "gnum": ln.gnum,
                "gcode": ln.gcode,
            }
            for ln in found.result.lines
        ],  # fmt: skip
        "lists": [results.list_view(i, lines) for i, lines in _by_list(found.result).items()],
    }


_DECLARATION_HEAD = (
    "sumNo", "declSeqNo", "decTmpNo", "decPreNo", "entryId", "decState", "customsCode",
    "opDate", "agentCode", "agentName", "ebcCode", "ebcName", "declAgentCode",
    "declAgentName", "grossWeight", "netWeight",
)  # fmt: skip


def _declaration_view(results: Results, entry_id: str, parts: Sequence[Found]) -> dict[str, Any]:
    """One merged customs declaration: the newest result naming it gives the head; the lists
    of every result naming it (a repeat adds nothing twice)."""
    head = parts[0].result.fields
    lines: dict[str, list[Any]] = {}
    for part in parts:
        for invt_no, found in _by_list(part.result).items():
            known = {ln.gnum for ln in lines.get(invt_no, [])}
            lines.setdefault(invt_no, []).extend(ln for ln in found if ln.gnum not in known)
    return {
        **{k: head.get(k, "") for k in _DECLARATION_HEAD},
        "entryId": entry_id,
        "received_at": _received(parts[0].receipt),
        "lists": [results.list_view(i, ls) for i, ls in lines.items()],
    }


def _page(items: list[dict[str, Any]], page: int, page_size: int) -> dict[str, Any]:
    size, page = max(1, min(page_size, MAX_PAGE_SIZE)), max(1, page)
    return {
        "page": page, "page_size": size, "total": len(items),
        "items": items[(page - 1) * size : page * size],
    }  # fmt: skip


def search_results(session: Session, caller: Caller, entry_from: datetime | None,
                   entry_to: datetime | None, *, sum_no: str | None = None, page: int = 1,
                   page_size: int = 50, now: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """汇总结果单查询: the results received in the window, newest first."""
    window = entry_window(entry_from, entry_to, now)
    results = Results(session, caller)
    found = [f for f in results.find(window) if not sum_no or f.result.sum_no == sum_no]
    items = [_result_view(results, f) for f in found]
    return {"window": window.as_dict(), **_page(items, page, page_size)}


def _missing(what: str) -> NotFound:
    return NotFound(f"no {what} visible to this caller")


def _result_since(session: Session, caller: Caller, sum_no: str) -> datetime | None:
    """Results of a summary come after its application: read the CEB792s from then on."""
    apps = _applications(session, [sum_no])
    app = apps.get(sum_no)
    if app is not None and (caller.is_admin or app.enterprise_id == caller.enterprise_id):
        return app.created_at
    if caller.is_admin:
        return None  # a summary the gateway did not declare: every result is read
    raise _missing(f"summary result {sum_no!r}")


def _declaration_since(session: Session, caller: Caller, entry_id: str) -> datetime | None:
    """A declaration comes after its lists were put in a summary: read from the first."""
    stmt = (
        select(func.min(SummaryList.summarised_at))
        .join(SummaryItem, SummaryItem.list_id == SummaryList.id)
        .where(SummaryItem.entry_id == entry_id)
    )
    if not caller.is_admin:
        stmt = stmt.where(SummaryList.enterprise_id == caller.enterprise_id)
    since = session.scalar(stmt)
    if since is None and not caller.is_admin:
        raise _missing(f"summary customs declaration {entry_id!r}")
    return since


def result_detail(session: Session, caller: Caller, sum_no: str) -> dict[str, Any]:
    """汇总结果单详情: every result of summary `sum_no`, whenever received."""
    results = Results(session, caller)
    since = _result_since(session, caller, sum_no)
    found = [f for f in results.find(None, since) if f.result.sum_no == sum_no]
    if not found:
        raise _missing(f"summary result {sum_no!r}")
    views = [_result_view(results, f) for f in found]
    entries = sorted({f.result.entry_id for f in found if f.result.entry_id})
    return {"sumNo": sum_no, "entry_ids": entries, "application": views[0]["application"],
            "results": views}  # fmt: skip


def _declarations(results: Results, found: Sequence[Found]) -> list[dict[str, Any]]:
    by_entry: dict[str, list[Found]] = {}
    for f in found:
        if f.result.entry_id:  # no declaration yet (decState only): nothing to show here
            by_entry.setdefault(f.result.entry_id, []).append(f)
    return [_declaration_view(results, e, parts) for e, parts in by_entry.items()]


def search_declarations(session: Session, caller: Caller, entry_from: datetime | None,
                        entry_to: datetime | None, *, entry_id: str | None = None,
                        page: int = 1, page_size: int = 50,
                        now: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """汇总报关单查询: the merged customs declarations received in the window, newest first."""
    window = entry_window(entry_from, entry_to, now)
    results = Results(session, caller)
    found = [f for f in results.find(window) if not entry_id or f.result.entry_id == entry_id]
    return {"window": window.as_dict(), **_page(_declarations(results, found), page, page_size)}


def declaration_detail(session: Session, caller: Caller, entry_id: str) -> dict[str, Any]:
    """汇总报关单详情: customs declaration `entry_id`, its lists and their items."""
    results = Results(session, caller)
    since = _declaration_since(session, caller, entry_id)
    found = [f for f in results.find(None, since) if f.result.entry_id == entry_id]
    if not found:
        raise _missing(f"summary customs declaration {entry_id!r}")
    return _declarations(results, found)[0]
