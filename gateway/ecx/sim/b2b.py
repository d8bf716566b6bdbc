"""Simulated customs for B2B exports (R-ECX-9, manual 004 §6.1): the customs declaration
(报关单) customs keeps of every inventory list with trade mode 9710 (B2B direct export) or
9810 (export to an overseas warehouse) it stores, told to the enterprise in an ECX910Message
(`gateway.ecx.declarations`, docs/b2b.md).

When customs stores such a list it opens a declaration: a 统一编号 (seqNo: "E", the year and
13 digits, derived from the list so a repeat gives the same number) and the 报关单号 (entryId:
customs 4 + year 4 + export flag 0 + 9 digits), the list's head (申报地海关, 出境关别, 贸易方式,
业务类型, consignor, totals) and its lines, in business status 120 (入库); a list stored only
once its four-document comparison got the missing document is opened by the tick then. It
follows the list afterwards: when the lifecycle moves it (`Tracked`: concluded 399, released
800, closed 899), the next tick sends the declaration again with that status; a summary-mode list's
declaration shows 汇总状态 "declared" once a summary application names it and "summarised"
once customs has merged it (`SimSummaryList.sum_no`, CEB792). A deleted list closes nothing
here: customs keeps the declaration it took.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, MutableMapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from sqlalchemy import String, Text, and_, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.codes import CHINA_TZ, AppStatus, AppType
from gateway.core.customs_sim.service import Answer, result_delay
from gateway.core.customs_sim.state import SimBase
from gateway.core.kinds import DocumentKind, Record, head_fields, key_text
from gateway.ecx.declarations import MESSAGE_TYPE, Reported, build
from gateway.ecx.kinds_full import INVENTORY
from gateway.ecx.sim.numbers import numbers
from gateway.ecx.sim.state import Tracked
from receipts.build import new_guid

B2B_TRADE_MODES = frozenset({"9710", "9810"})
#: the list's lifecycle status → the declaration's 业务状态 (review, inspection and the
#: like are still "stored" to the enterprise)
_STATUS = {"100": "100", "399": "399", "800": "800", "899": "899"}
_LINE = ("gnum", "gcode", "gname", "qty", "unit", "totalPrice", "currency", "country")
TICK_LIMIT = 500
#: a declaration whose list customs has not stored yet
PENDING = "000"
#: the list's statuses from customs' storing it on (before: e-port steps "1"–"4", and "2"
#: while the four-document comparison waits for a document; "100" returned)
STORED_ON = ("120", "300", "399", "500", "505", "600", "800", "899")


class SimB2BDeclaration(SimBase):
    """A declaration customs opened for a stored B2B list, and what it last told."""

    __tablename__ = "sim_b2b_declarations"

    seq_no: Mapped[str] = mapped_column(String(18), primary_key=True)
    business_key: Mapped[str] = mapped_column(String(300), unique=True)
    invt_no: Mapped[str] = mapped_column(String(30), index=True)
    sender_id: Mapped[str] = mapped_column(String(30))
    #: the head and lines as sent (JSON, `Reported`)
    data: Mapped[str] = mapped_column(Text)
    #: 业务状态 and 汇总状态 last sent
    status: Mapped[str] = mapped_column(String(3))
    summary_state: Mapped[str] = mapped_column(String(12))


def _digits(*parts: str, count: int) -> str:
    seed = "|".join(parts).encode()
    return str(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))[-count:].zfill(count)


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, CHINA_TZ).strftime("%Y%m%d%H%M%S")


def declaration_numbers(customs: str, year: str, key: str) -> tuple[str, str]:
    """统一编号 (seqNo) and 报关单号 (entryId), 18 each."""
    seq_no = f"E{year}{_digits(key, 'seqNo', count=13)}"
    entry_id = f"{customs}{year}0{_digits(key, 'entryId', count=9)}"
    return seq_no, entry_id


def _lines(rec: Record) -> list[dict[str, str]]:
    items = [
        head_fields(c, None)
        for c in rec.element
        if isinstance(c.tag, str) and etree.QName(c).localname == "InventoryList"
    ]
    return [{n: item.get(n, "") for n in _LINE} for item in items]


def opened(rec: Record, now: float) -> Reported:
    """The declaration customs opens for a stored B2B list `rec` (status 120)."""
    f = rec.fields
    key = key_text(rec.business_key)
    customs = f.get("customsCode") or "2991"
    year = f.get("appTime", "")[:4] if f.get("appTime", "")[:4].isdigit() else "2026"
    seq_no, entry_id = declaration_numbers(customs, year, key)
    lines = _lines(rec)
    total = sum((Decimal(li["totalPrice"] or "0") for li in lines), Decimal(0))
    at = _stamp(now)
    head = {
        "guid": new_guid(), "seqNo": seq_no, "entryId": entry_id, "customsCode": customs,
        "iePort": f.get("portCode") or customs, "tradeMode": f.get("tradeMode", ""),
        "statisticsFlag": f.get("statisticsFlag") or "A", "entryStatus": "120",
        "summaryState": "unsummarised", "declTime": f.get("appTime", at)[:14],
        "storeTime": at, "updateTime": at, "invtNo": numbers(INVENTORY, rec).get("invtNo", ""),
        "copNo": f.get("copNo", ""), "consignorCode": f.get("ebcCode", ""),
        "consignorName": f.get("ebcName", ""), "agentCode": f.get("agentCode", ""),
        "agentName": f.get("agentName", ""), "trafMode": f.get("trafMode", ""),
        "country": f.get("country", ""), "packNo": f.get("packNo", "0"),
        "grossWeight": f.get("grossWeight", "0"), "netWeight": f.get("netWeight", "0"),
        "totalPrice": str(total), "currency": lines[0]["currency"] if lines else "142",
    }  # fmt: skip
    return Reported(head, lines)


def _answer(sim: Any, declarations: Sequence[Reported]) -> Answer:
    due = time.time() + result_delay(sim.sim) + 0.05  # after the list's own result
    return Answer(due, MESSAGE_TYPE, build(declarations, new_guid()), "b2b declaration")


# --- opening declarations (wrapping the inventory behaviour) ---------------------------------


def _stored(session: Session, key: str) -> bool:
    status = session.scalar(
        select(Tracked.status).where(Tracked.kind == INVENTORY.name, Tracked.business_key == key)
    )
    return status in STORED_ON


def _b2b(rec: Record) -> bool:
    return (
        rec.fields.get("tradeMode") in B2B_TRADE_MODES
        and rec.app_status == AppStatus.DECLARE
        and rec.app_type != AppType.DELETE
    )


def reporting_declarations(inner: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """The inventory behaviour, then a declaration for each B2B list customs stored."""

    def behaviour(sim: Any, session: Session, kind: DocumentKind, records: list[Record],
                  cop_msg_id: str, sender: str) -> list[Any]:  # fmt: skip
        answers = inner(sim, session, kind, records, cop_msg_id, sender)
        session.flush()
        now, told = time.time(), []
        for rec in (r for r in records if _b2b(r)):
            key = key_text(rec.business_key)
            stored = _stored(session, key)
            made = _open(session, opened(rec, now), key, sender, stored=stored)
            if stored:
                told.append(made)
        return answers + ([_answer(sim, told)] if told else [])

    return behaviour


def _open(session: Session, reported: Reported, key: str, sender: str, *, stored: bool
          ) -> Reported:  # fmt: skip
    """Keep the declaration; one whose list customs has not stored yet (its four-document
    comparison waits for a document) is `PENDING`, opened by the tick once the list is."""
    row = session.scalar(select(SimB2BDeclaration).where(SimB2BDeclaration.business_key == key))
    if row is None:
        row = SimB2BDeclaration(seq_no=reported.head["seqNo"], business_key=key)
        session.add(row)
    row.invt_no, row.sender_id = reported.head["invtNo"], sender
    row.status, row.summary_state = "120" if stored else PENDING, "unsummarised"
    row.data = json.dumps({"head": reported.head, "lines": reported.lines}, ensure_ascii=False)
    return reported


# --- following the lists ----------------------------------------------------------------------


def _summary_states(session: Session, invt_nos: Sequence[str]) -> dict[str, str]:
    """汇总状态 of the lists customs keeps for summaries: named by an application
    ("declared"), merged into a declaration once the application was complete ("summarised")."""
    from gateway.ecx.sim.summary import SimSummaryList, SimSummaryPart

    rows = session.execute(
        select(SimSummaryList.invt_no, SimSummaryList.sum_no).where(
            SimSummaryList.invt_no.in_(list(invt_nos)), SimSummaryList.sum_no.is_not(None)
        )
    ).all()
    merged = set(session.scalars(
        select(SimSummaryPart.sum_no).where(
            SimSummaryPart.sum_no.in_({s for _i, s in rows}), SimSummaryPart.merged.is_(True)
        )
    ))  # fmt: skip
    return {invt: "summarised" if sum_no in merged else "declared" for invt, sum_no in rows}


def tick(sim: Any) -> None:
    """Send again every declaration whose list moved or whose summary state changed."""
    from gateway.ecx.sim.summary import SimSummaryList

    with sim.db.session() as session:
        moved = (Tracked.status.in_(list(_STATUS)), Tracked.status != SimB2BDeclaration.status)
        summarising = SimB2BDeclaration.invt_no.in_(
            select(SimSummaryList.invt_no).where(SimSummaryList.sum_no.is_not(None))
        )
        rows = session.execute(
            select(SimB2BDeclaration, Tracked.status)
            .join(Tracked, Tracked.business_key == SimB2BDeclaration.business_key)
            .where(Tracked.kind == INVENTORY.name)
            .where(
                or_(
                    and_(*moved),
                    and_(SimB2BDeclaration.summary_state != "summarised", summarising),
                    and_(SimB2BDeclaration.status == PENDING, Tracked.status.in_(STORED_ON)),
                )
            )
            .limit(TICK_LIMIT)
        ).all()
        summary = _summary_states(session, [r[0].invt_no for r in rows])
        now = time.time()
        by_sender: dict[str, list[Reported]] = {}
        for decl, list_status in rows:
            status = _STATUS.get(list_status, "120" if decl.status == PENDING else decl.status)
            state = summary.get(decl.invt_no, decl.summary_state)
            if (status, state) == (decl.status, decl.summary_state):
                continue
            opening = decl.status == PENDING
            decl.status, decl.summary_state = status, state
            by_sender.setdefault(decl.sender_id, []).append(_updated(decl, now, opening))
        for sender, told in by_sender.items():
            for start in range(0, len(told), 100):
                sim._schedule(session, sender, _answer(sim, told[start : start + 100]))


def _updated(decl: SimB2BDeclaration, now: float, opening: bool) -> Reported:
    data = json.loads(decl.data)
    head = {**data["head"], "guid": new_guid(), "entryStatus": decl.status,
            "summaryState": decl.summary_state, "updateTime": _stamp(now)}  # fmt: skip
    if opening:
        head["storeTime"] = head["updateTime"]  # stored only now
    decl.data = json.dumps({"head": head, "lines": data["lines"]}, ensure_ascii=False)
    return Reported(head, data["lines"])


def register(
    behaviours: MutableMapping[str, Callable[..., list[Any]]],
    ticks: list[Callable[[Any], None]],
) -> None:
    """Inventory lists get a declaration when they are B2B ones; a tick follows them."""
    behaviours[INVENTORY.name] = reporting_declarations(behaviours[INVENTORY.name])
    ticks.append(tick)
