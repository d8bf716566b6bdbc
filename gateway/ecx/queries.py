"""Queries of the export set (R-COM-7, R-ECX-3..7, R-ECX-9; manual chapters 1.1-2.7, 3.3-3.10,
4.2-4.3, 5.2, 6.1): orders and waybills (未审结 / 已审结), inventory lists by status group,
revoke applications, returns, tallies, summary applications, arrivals, departures, total/sub
waybill lists and the inventory lists of the B2B trade modes (`b2b_lists`; the B2B customs
declarations themselves are queried in `gateway.ecx.b2b`). Inventory lists are also filtered
by 业务类型 (statisticsFlag), 申报地海关 (customsCode) and 汇总状态 (`summaryState`, from
`summary_lists`); returns by the business type and summary state of the list they return
(its invtNo). Every list may be narrowed to one business state (业务状态, `status`), one of
its page's group: 未审结订单查询 offers `returned`, `store_failed`, `sent`…, never `stored`.

Every query is scoped to the caller (an enterprise sees its own records, an admin all) and
bounded by the entry time (入库时间) to one calendar month, as the manual's
"入库时间最大区间为一个自然月": from 2026-01-31 the window may end 2026-02-28, never later.
For orders and waybills the entry time is when customs stored the record (`stored_at`, the
returnTime of the 120 receipt), the gateway's intake time (`created_at`) while it is not
stored; for the other lists it is `created_at`. A window given by one end is bounded too: a
missing end is now, a missing start one month before the end. Times without a zone are Beijing
time, like every time on the manual's screens.

Filters on what the store keeps (status, business key, customs numbers) are SQL. The rest
(orderNo, logisticsNo, tradeMode…) lives only in the stored XML: those records are read in
entry order and their newest version parsed, page by page, until the page is full — so such
a query answers `has_more` instead of a total, and parses no more than it must. No table or
column is added for them.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from lxml import etree
from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.codes import CEB_NS, CHINA_TZ
from gateway.core.enterprises import Caller
from gateway.core.kinds import DocumentKind, key_text
from gateway.core.models import Document, Message, Version, utcnow
from gateway.core.queries import MAX_PAGE_SIZE, document_summary
from gateway.core.status import Status
from gateway.ecx.kinds import ORDER, WAYBILL
from gateway.ecx.kinds_full import (
    ARRIVAL,
    DEPARTURE,
    INVENTORY,
    INVT_CANCEL,
    REFUND,
    REFUND_TALLY,
    SUMMARY,
    WAYBILL_TOTAL,
)
from gateway.ecx.status import EcxStatus
from gateway.ecx.summary.models import SummaryList
from gateway.errors import InvalidMessage, NotFound, Violation

QUERY = "R-COM-7"
B2B = "R-ECX-9"
B2B_TRADE_MODES = frozenset({"9710", "9810"})  # B2B direct export, export to overseas warehouse
TRADE_MODES = frozenset({"9610", "1210", *B2B_TRADE_MODES})
SCAN_CHUNK = 500  # records parsed per round when a filter needs the XML

# --- status groups ------------------------------------------------------------------------

S = Status
#: declared and not concluded: on its way, at the e-port, stored or reviewed by customs, or
#: failed before customs stored it (returned, send/storage/format/signature failures)
DECLARED_OPEN = frozenset({
    S.PENDING_SIGN, S.SIGNING_FAILED, S.SIGNED, S.SENT, S.SEND_FAILED, S.EPORT_SAVED,
    S.DECLARING, S.SENT_TO_CUSTOMS, S.CUSTOMS_SEND_FAILED, S.RETURNED, S.STORE_FAILED,
    S.FORMAT_FAILED, S.SECURITY_FAILED, S.STORED, S.MANUAL_REVIEW, S.INSPECTION,
    S.SUSPENDED, S.HANDED_OVER,
})  # fmt: skip
SAVED = frozenset({S.SAVED})

#: inventory lists (R-ECX-5, manual 3.4-3.6): 未审结 → 已审结 399 → 放行 800 → 结关 899 → 结案
INVENTORY_GROUPS = {
    "saved": SAVED,
    "unconcluded": DECLARED_OPEN,
    "concluded": frozenset({S.CONCLUDED}),
    "released": frozenset({S.RELEASED}),
    "closed": frozenset({S.CLOSED}),
    "finalised": frozenset({EcxStatus.FINALISED}),
    "revoked": frozenset({EcxStatus.REVOKED}),
    # 未结关清单查询 (manual 3.4): every declared list customs has not closed (结关) yet
    "not_closed": DECLARED_OPEN | {S.CONCLUDED, S.RELEASED},
}
#: documents customs concludes by storing them (120): arrivals, departures, total/sub
#: waybill lists, tallies, summary applications (manual 2.4/2.5: 未审结/已审结运抵单)
STORED_GROUPS = {
    "saved": SAVED,
    "unconcluded": DECLARED_OPEN - {S.STORED},
    "concluded": frozenset({S.STORED}),
}
#: revoke applications: approved (399) means the list is revoked
REVOKE_GROUPS = {
    "saved": SAVED,
    "unconcluded": DECLARED_OPEN,
    "concluded": frozenset({S.CONCLUDED}),
}
#: returns: customs stores, may hand over (505) or suspend (600), and ends by releasing (800)
RETURN_GROUPS = {**REVOKE_GROUPS, "released": frozenset({S.RELEASED})}
ALL = "all"  # every status but deleted


class Where(Enum):
    """Where a filter field is kept: in the business key, the customs numbers or the XML."""

    KEY = "key"
    NUMBERS = "numbers"
    XML = "xml"
    #: the list's summary state (汇总状态), from `summary_lists`
    SUMMARY = "summary"
    #: business type (业务类型) or summary state of the inventory list the record names
    #: (its invtNo): a return's
    LIST = "list"


@dataclass(frozen=True)
class ExportList:
    name: str
    kind: DocumentKind
    groups: Mapping[str, frozenset[StrEnum]]
    #: filter field (wire name) → where it is kept
    filters: Mapping[str, Where]
    #: head fields shown for each record, read from its XML
    shown: tuple[str, ...]
    #: implicit filter: allowed values of an XML field (B2B: tradeMode 9710/9810)
    fixed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: the entry time (入库时间) is when customs stored the record (`stored_at`, from the
    #: 120 receipt), the gateway's intake time until it has; otherwise the intake time
    entry_stored: bool = False


_X, _K, _N = Where.XML, Where.KEY, Where.NUMBERS
#: manual 3.3-3.6: 业务类型 (statisticsFlag A/B), 申报地海关 (customsCode), 汇总状态
_INVENTORY_FILTERS = {
    "copNo": _K, "invtNo": _N, "orderNo": _X, "logisticsNo": _X, "tradeMode": _X,
    "statisticsFlag": _X, "customsCode": _X, "summaryState": Where.SUMMARY,
}  # fmt: skip
#: 业务类型 (statisticsFlag): A simplified declaration, B summary declaration (汇总申报)
STATISTICS_FLAGS = frozenset({"A", "B"})
#: 汇总状态: in no summary application; in one customs has not merged yet; merged into a
#: customs declaration (entryId, CEB792)
SUMMARY_STATES = ("unsummarised", "declared", "summarised")
_INVENTORY_SHOWN = (
    "copNo", "orderNo", "logisticsNo", "invtNo", "tradeMode", "statisticsFlag", "ebcCode",
    "agentCode", "ieDate",
)  # fmt: skip
_BATCH_SHOWN = ("copNo", "msgCount", "msgSeqNo", "billNo", "logisticsCode")

LISTS: dict[str, ExportList] = {
    x.name: x
    for x in (
        ExportList("inventories", INVENTORY, INVENTORY_GROUPS, _INVENTORY_FILTERS,
                   _INVENTORY_SHOWN),
        # inventory lists of B2B trade modes; B2B报关单查询 itself (manual 6.1) queries the
        # customs declarations: gateway/ecx/b2b.py, GET /v1/export/b2b
        ExportList("b2b_lists", INVENTORY, INVENTORY_GROUPS, _INVENTORY_FILTERS, _INVENTORY_SHOWN,
                   {"tradeMode": B2B_TRADE_MODES}),
        ExportList("revokes", INVT_CANCEL, REVOKE_GROUPS, {"copNo": _K, "invtNo": _X},
                   ("copNo", "invtNo", "reason", "ebcCode")),
        ExportList("returns", REFUND, RETURN_GROUPS,
                   {"coElNo": _K, "invtNo": _X, "logisticsNo": _X, "tradeMode": _X,
                    "statisticsFlag": Where.LIST, "summaryState": Where.LIST},
                   ("coElNo", "invtNo", "logisticsNo", "tradeMode", "reason", "ebcCode")),
        ExportList("tallies", REFUND_TALLY, STORED_GROUPS,
                   {"coElNo": _K, "invtNo": _X, "logisticsNo": _X},
                   ("coElNo", "invtNo", "logisticsNo", "billNo", "location")),
        ExportList("summaries", SUMMARY, STORED_GROUPS, {"copNo": _K, "invtNo": _X},
                   ("copNo", "ebcCode", "startTime", "endTime", "msgCount", "msgSeqNo")),
        ExportList("arrivals", ARRIVAL, STORED_GROUPS, {"copNo": _K, "logisticsNo": _X},
                   _BATCH_SHOWN),
        ExportList("departures", DEPARTURE, STORED_GROUPS, {"copNo": _K, "logisticsNo": _X},
                   _BATCH_SHOWN),
        ExportList("waybill_totals", WAYBILL_TOTAL, STORED_GROUPS,
                   {"copNo": _K, "logisticsNo": _X, "invtNo": _X}, _BATCH_SHOWN),
        # manual 1.1/1.2 and 2.1/2.2: 未审结 / 已审结 (stored, 120) by 入库时间
        ExportList("orders", ORDER, STORED_GROUPS, {"orderNo": _K, "ebcCode": _K},
                   ("orderNo", "ebpCode", "ebpName", "ebcCode", "ebcName", "goodsValue",
                    "currency"), entry_stored=True),
        ExportList("waybills", WAYBILL, STORED_GROUPS,
                   {"logisticsNo": _K, "logisticsCode": _K},
                   ("logisticsNo", "logisticsCode", "logisticsName", "grossWeight", "packNo",
                    "ebcCode"), entry_stored=True),
    )
}  # fmt: skip


# --- the entry-time window (R-COM-7) ------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """The same Beijing wall time `months` later, the day clamped to the month's last
    (2026-01-31 + 1 month = 2026-02-28): what "one calendar month" means on the manual's
    screens."""
    local = moment.astimezone(CHINA_TZ)
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


def _beijing(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=CHINA_TZ)


@dataclass(frozen=True)
class Window:
    """Entry time from `start` to `end`, both included."""

    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        return {k: v.astimezone(CHINA_TZ).isoformat() for k, v in self.__dict__.items()}


def entry_window(
    start: datetime | None, end: datetime | None, now: datetime | None = None
) -> Window:
    """The window asked for (R-COM-7): a missing end is now, a missing start one calendar
    month before the end (both missing: the month up to now, the manual's default 入库时间).
    Refused, naming the parameter, when it ends first or spans more than a calendar month."""
    start, end = _beijing(start), _beijing(end)
    open_end = end is None
    if end is None:
        end = (_beijing(now) or utcnow()).astimezone(CHINA_TZ)
    if start is None:
        start = add_months(end, -1)
    problem = _window_problem(start, end, open_end=open_end)
    if problem is not None:
        raise InvalidMessage([problem])
    return Window(start, end)


def _window_problem(start: datetime, end: datetime, *, open_end: bool) -> Violation | None:
    span = f"{start:%Y-%m-%d %H:%M:%S}..{end:%Y-%m-%d %H:%M:%S}"
    upto = f"without entry_to the window ends now ({end:%Y-%m-%d %H:%M:%S})"
    if end < start:
        if open_end:
            return Violation(QUERY, "entry_from", f"is later than now; {upto}: give entry_to",
                             value=span)  # fmt: skip
        return Violation(QUERY, "entry_to", "ends before entry_from", value=span)
    # Month steps do not invert at month ends (03-31 − 1 month = 02-28, + 1 month = 03-28):
    # a month counted back from the end is a calendar month too.
    latest, earliest = add_months(start, 1), add_months(end, -1)
    if end <= latest or start >= earliest:
        return None
    limit = "the entry-time window (入库时间) spans at most one calendar month"
    if open_end:
        text = f"{upto}; {limit}: entry_from is {earliest:%Y-%m-%d %H:%M:%S} at the earliest"
        return Violation(QUERY, "entry_from", text, value=span)
    text = (
        f"{limit}: from {start:%Y-%m-%d %H:%M:%S} it ends {latest:%Y-%m-%d %H:%M:%S} at the latest"
    )
    return Violation(QUERY, "entry_to", text, value=span)


# --- the filter ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilter:
    group: str = ALL
    entry_from: datetime | None = None
    entry_to: datetime | None = None
    #: wire field name → value: copNo, coElNo, orderNo, logisticsNo, invtNo, tradeMode
    match: Mapping[str, str] = field(default_factory=dict)
    page: int = 1
    page_size: int = 50
    #: one business state (业务状态, manual 1.1's drop-down) by its status value (`returned`,
    #: `stored`…), which must be one of the group's: the drop-down lists the page's states
    status: str | None = None


def export_list(name: str) -> ExportList:
    found = LISTS.get(name)
    if found is None:
        # `b2b` is B2B报关单查询 over customs declarations (gateway/ecx/b2b.py), not a list
        elsewhere = " (B2B customs declarations: b2b-query)" if name == "b2b" else ""
        raise NotFound(f"no export list {name!r}{elsewhere}; lists: {', '.join(LISTS)}")
    return found


def _group(listing: ExportList, group: str) -> frozenset[StrEnum] | None:
    if group == ALL:
        return None
    statuses = listing.groups.get(group)
    if statuses is None:
        allowed = ", ".join([ALL, *listing.groups])
        text = f"is not a status group of {listing.name}; groups: {allowed}"
        raise InvalidMessage([Violation(QUERY, "group", text, value=group)])
    return statuses


def _every_state(listing: ExportList) -> frozenset[StrEnum]:
    return frozenset[StrEnum]().union(*listing.groups.values())


def _statuses(listing: ExportList, group: str, status: str | None) -> frozenset[StrEnum] | None:
    """The statuses the page shows: its group's, or the one business state chosen in it
    (manual 1.1: "通过业务状态下拉菜单选择相应的状态"), which must be one of the group's —
    an order's `returned` is on the 未审结 page, never on the 已审结 one."""
    statuses = _group(listing, group)
    if status is None:
        return statuses
    offered = statuses if statuses is not None else _every_state(listing)
    chosen = frozenset(s for s in offered if s.value == status)
    if not chosen:
        where = f"the {group} group of {listing.name}" if statuses is not None else listing.name
        allowed = ", ".join(sorted(s.value for s in offered))
        text = f"is not a business state (业务状态) of {where}; states: {allowed}"
        raise InvalidMessage([Violation(QUERY, "status", text, value=status)])
    return chosen


def _check_match(listing: ExportList, match: Mapping[str, str]) -> list[Violation]:
    found = []
    for name, value in match.items():
        if name not in listing.filters:
            allowed = ", ".join(listing.filters)
            text = f"{listing.name} are not filtered by {name}; filters: {allowed}"
            found.append(Violation(QUERY, name, text, value=value))
    mode = match.get("tradeMode")
    allowed_modes = listing.fixed.get("tradeMode", TRADE_MODES)
    if mode and mode not in allowed_modes:
        rule = B2B if "tradeMode" in listing.fixed else QUERY
        text = (
            f"tradeMode (贸易方式) of {listing.name} is one of {', '.join(sorted(allowed_modes))}"
        )
        found.append(Violation(rule, "tradeMode", text, value=mode))
    flag = match.get("statisticsFlag")
    if flag and flag not in STATISTICS_FLAGS:
        text = "statisticsFlag (业务类型) is A (simplified) or B (summary declaration)"
        found.append(Violation(QUERY, "statisticsFlag", text, value=flag))
    state = match.get("summaryState")
    if state and state not in SUMMARY_STATES:
        text = f"summaryState (汇总状态) is one of {', '.join(SUMMARY_STATES)}"
        found.append(Violation(QUERY, "summaryState", text, value=state))
    return found


# --- SQL part -----------------------------------------------------------------------------


def _entry(listing: ExportList) -> Any:
    """The entry time (入库时间) column of the list's records."""
    if listing.entry_stored:
        return func.coalesce(Document.stored_at, Document.created_at)
    return Document.created_at


def _entry_of(listing: ExportList, doc: Document) -> datetime:
    if listing.entry_stored and doc.stored_at is not None:
        return doc.stored_at
    return doc.created_at


def _base(listing: ExportList, caller: Caller, statuses: frozenset[StrEnum] | None,
          window: Window) -> Select[Any]:  # fmt: skip
    entry = _entry(listing)
    stmt = select(Document).where(
        Document.kind == listing.kind.name,
        Document.status != Status.DELETED.value,
        entry >= window.start,
        entry <= window.end,
    )
    if not caller.is_admin:
        stmt = stmt.where(Document.enterprise_id == caller.enterprise_id)
    if statuses is not None:
        stmt = stmt.where(Document.status.in_([s.value for s in statuses]))
    return stmt


def _key_pattern(kind: DocumentKind, name: str, value: str) -> str:
    """A LIKE pattern for one field of the stored key ('|' never occurs in key fields)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    parts = ["%" if f != name else escaped for f in kind.key_fields]
    return "|".join(parts)


def _sql_filters(stmt: Any, listing: ExportList, match: Mapping[str, str]) -> Any:
    for name, value in match.items():
        where = listing.filters[name]
        if where is Where.KEY:
            pattern = _key_pattern(listing.kind, name, value)
            stmt = stmt.where(Document.business_key.like(pattern, escape="\\"))
        elif where is Where.NUMBERS:
            stmt = stmt.where(Document.customs_numbers[name].as_string() == value)
        elif where is Where.SUMMARY:
            stmt = stmt.where(_summary_state(value))
    return stmt


def _state_of_row(state: str) -> ColumnElement[bool]:
    """A `summary_lists` row in summary state `state` (not for unsummarised)."""
    if state == "summarised":
        return SummaryList.entry_id.is_not(None)
    return and_(SummaryList.summary_key.is_not(None), SummaryList.entry_id.is_(None))


def _summary_state(state: str) -> ColumnElement[bool]:
    """The inventory document's list is in summary state `state`: a simplified (A) list, or
    a summary-mode one no application names yet, is unsummarised."""
    mine = SummaryList.business_key == Document.business_key
    if state == "unsummarised":
        taken = or_(SummaryList.summary_key.is_not(None), SummaryList.entry_id.is_not(None))
        return ~exists().where(mine, taken)
    return exists().where(mine, _state_of_row(state))


# --- XML part -----------------------------------------------------------------------------


class Records:
    """The record elements of documents' newest versions, each message parsed once."""

    def __init__(self, session: Session, kind: DocumentKind) -> None:
        self.session = session
        self.kind = kind
        self._roots: dict[int, etree._Element] = {}

    def of(self, docs: Sequence[Document]) -> dict[int, etree._Element | None]:
        newest = self._newest([d.id for d in docs])
        self._parse(set(newest.values()) - set(self._roots))
        return {d.id: self._find(d, newest.get(d.id)) for d in docs}

    def _newest(self, doc_ids: list[int]) -> dict[int, int]:
        rows = self.session.execute(
            select(Version.document_id, Version.message_id)
            .where(Version.document_id.in_(doc_ids))
            .order_by(Version.number)
        )
        return {doc_id: message_id for doc_id, message_id in rows}  # the last number wins

    def _parse(self, message_ids: set[int]) -> None:
        if message_ids:
            rows = self.session.execute(
                select(Message.id, Message.original).where(Message.id.in_(message_ids))
            )
            self._roots.update({m: xmlsafe.parse(bytes(raw)).getroot() for m, raw in rows})

    def _find(self, doc: Document, message_id: int | None) -> etree._Element | None:
        root = self._roots.get(message_id) if message_id is not None else None
        if root is None:
            return None
        records = self.kind.records(root)
        return next(
            (r.element for r in records if key_text(r.business_key) == doc.business_key), None
        )


def _values(record: etree._Element, name: str) -> set[str]:
    """Every value of field `name` in the record: its head and its lines."""
    return {(e.text or "").strip() for e in record.iter(f"{{{CEB_NS}}}{name}")}


def _first(record: etree._Element, name: str) -> str:
    """The first value of field `name` in document order: the head's, for a head field."""
    element = next(record.iter(f"{{{CEB_NS}}}{name}"), None)
    return "" if element is None else (element.text or "").strip()


Matcher = Callable[[etree._Element], bool]


class ListStates:
    """Business type (A/B) and summary state of the inventory lists records name by invtNo,
    looked up a chunk of records at a time: a summary-mode (B) list is in `summary_lists`;
    a list the gateway holds otherwise is simplified (A); one it does not hold is neither."""

    def __init__(self, session: Session, caller: Caller) -> None:
        self.session = session
        self.caller = caller
        self.known: dict[str, tuple[str, str]] = {}

    def prime(self, records: Iterable[etree._Element | None]) -> None:
        wanted = {_first(r, "invtNo") for r in records if r is not None} - set(self.known)
        wanted.discard("")
        if not wanted:
            return
        rows = select(SummaryList.invt_no, SummaryList.summary_key, SummaryList.entry_id)
        rows = rows.where(SummaryList.invt_no.in_(wanted))
        if not self.caller.is_admin:
            rows = rows.where(SummaryList.enterprise_id == self.caller.enterprise_id)
        for invt_no, summary_key, entry_id in self.session.execute(rows):
            state = "summarised" if entry_id else "declared" if summary_key else "unsummarised"
            self.known[invt_no or ""] = ("B", state)
        held = select(Document.customs_numbers["invtNo"].as_string()).where(
            Document.kind == INVENTORY.name,
            Document.status != Status.DELETED.value,
            Document.customs_numbers["invtNo"].as_string().in_(wanted - set(self.known)),
        )
        if not self.caller.is_admin:
            held = held.where(Document.enterprise_id == self.caller.enterprise_id)
        for (invt_no,) in self.session.execute(held):
            self.known.setdefault(invt_no or "", ("A", "unsummarised"))

    def matcher(self, name: str, value: str) -> Matcher:
        at = 0 if name == "statisticsFlag" else 1

        def matches(record: etree._Element) -> bool:
            found = self.known.get(_first(record, "invtNo"))
            return found is not None and found[at] == value

        return matches


def _xml_matchers(
    listing: ExportList, match: Mapping[str, str], lists: ListStates
) -> dict[str, Matcher]:
    wanted = {n: frozenset({v}) for n, v in match.items() if listing.filters[n] is Where.XML}
    out: dict[str, Matcher] = {
        n: (lambda r, n=n, ok=ok: bool(_values(r, n) & ok))  # type: ignore[misc]
        for n, ok in {**listing.fixed, **wanted}.items()
    }
    for name, value in match.items():
        if listing.filters[name] is Where.LIST:
            out[name] = lists.matcher(name, value)
    return out


def _matches(record: etree._Element | None, matchers: Mapping[str, Matcher]) -> bool:
    return record is not None and all(m(record) for m in matchers.values())


def _scan(stmt: Any, session: Session, records: Records, matchers: Mapping[str, Matcher],
          listing: ExportList, lists: ListStates) -> Iterator[Document]:  # fmt: skip
    """Documents whose XML matches, in the query's order (newest first), parsed a chunk at
    a time. Each chunk starts after the last one seen, not at an offset: records entered
    meanwhile do not shift the scan."""
    after: Any = None
    while True:
        chunk = list(session.scalars(_after(stmt, listing, after).limit(SCAN_CHUNK)))
        found = records.of(chunk)
        lists.prime(found.values())
        yield from (d for d in chunk if _matches(found[d.id], matchers))
        if len(chunk) < SCAN_CHUNK:
            return
        after = chunk[-1]


def _after(stmt: Any, listing: ExportList, last: Document | None) -> Any:
    if last is None:
        return stmt
    entry, at = _entry(listing), _entry_of(listing, last)
    older = entry < at
    same_time = and_(entry == at, Document.id < last.id)
    return stmt.where(or_(older, same_time))


# --- the query ----------------------------------------------------------------------------


def search(
    session: Session, caller: Caller, name: str, flt: ExportFilter, *, now: datetime | None = None
) -> dict[str, Any]:
    """One page of an export list, newest entry first."""
    listing = export_list(name)
    problems = _check_match(listing, flt.match)
    if problems:
        raise InvalidMessage(problems)
    window = entry_window(flt.entry_from, flt.entry_to, now)
    stmt = _base(listing, caller, _statuses(listing, flt.group, flt.status), window)
    stmt = _sql_filters(stmt, listing, flt.match).order_by(
        _entry(listing).desc(), Document.id.desc()
    )
    size, page = max(1, min(flt.page_size, MAX_PAGE_SIZE)), max(1, flt.page)
    records = Records(session, listing.kind)
    lists = ListStates(session, caller)
    matchers = _xml_matchers(listing, flt.match, lists)
    if matchers:
        scan = _scan(stmt, session, records, matchers, listing, lists)
        docs, total, more = _page_by_scan(scan, page, size)
    else:
        docs, total, more = _page_by_sql(stmt, session, page, size)
    return {
        "list": listing.name, "kind": listing.kind.name, "group": flt.group,
        "status": flt.status, "window": window.as_dict(), "page": page, "page_size": size,
        "total": total, "has_more": more, "items": _items(listing, docs, records),
    }  # fmt: skip


def _page_by_sql(
    stmt: Any, session: Session, page: int, size: int
) -> tuple[list[Document], int, bool]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    docs = list(session.scalars(stmt.offset((page - 1) * size).limit(size)))
    return docs, total, page * size < total


def _page_by_scan(
    scan: Iterator[Document], page: int, size: int
) -> tuple[list[Document], None, bool]:
    """Skip the earlier pages' matches, keep this page's, and look for one more."""
    wanted = page * size + 1
    found: list[Document] = []
    for doc in scan:
        found.append(doc)
        if len(found) == wanted:
            break
    return found[(page - 1) * size : page * size], None, len(found) == wanted


def _items(listing: ExportList, docs: list[Document], records: Records) -> list[dict[str, Any]]:
    found = records.of(docs)  # parsed already when the XML was filtered
    return [_item(listing, d, found[d.id]) for d in docs]


def _item(listing: ExportList, doc: Document, record: etree._Element | None) -> dict[str, Any]:
    out = document_summary(doc)
    if listing.entry_stored:
        stored = doc.stored_at
        out["stored_at"] = stored.astimezone(CHINA_TZ).isoformat() if stored else None
    if record is None:
        return out
    shown = {n: _first(record, n) for n in listing.shown}
    out["fields"] = {**{n: v for n, v in shown.items() if v}, **_numbers(doc)}
    lines = [c for c in record if isinstance(c.tag, str) and c.tag.endswith("List")]
    if lines:
        out["lines"] = len(lines)
    return out


def _numbers(doc: Document) -> dict[str, str]:
    """Numbers customs assigned (invtNo, preNo…) win over the XML, which may predate them."""
    return {k: v for k, v in (doc.customs_numbers or {}).items() if k in ("invtNo", "sumNo")}
