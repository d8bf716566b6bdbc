"""Simulated customs for summary declarations (R-ECX-8, customs announcement 2018 No.194).

Customs keeps the fields it needs of every summary-mode list (statisticsFlag B) it accepts
(`SimSummaryList`: merge-key head fields, weights, item lines), by wrapping the inventory
behaviour. A summary application (CEB701) gets the e-port's "declaring" (2), then customs'
result: returned (100) when a list it names is unknown, not summary mode, another
enterprise's, not closed (899 in the lifecycle customs follows, `Tracked`) or in another
summary; else stored (120) with the sumNo (one per copNo, shared by its msgSeqNo parts).
Once every part 1..msgCount of an application is stored, customs merges its lists itself,
by the announcement's rule — head: consignor (ebcCode), transport mode, production/sales
unit (ownerCode), destination country, exit customs (portCode); items: final destination
country, 10-digit HS code, currency — at most 50 items to a customs declaration (the
declaration form's limit), and sends one CEB792 per declaration with its entryId, declSeqNo
and a SummaryResultList line per inventory item (invtNo, logisticsNo, gseqno, gnum, gcode).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from lxml import etree
from sqlalchemy import Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.codes import CEB_NS, AppStatus, AppType, ReturnStatus
from gateway.core.customs_sim.service import Answer, Reply, _echo, _refusal, result_delay
from gateway.core.customs_sim.state import Declaration, SimBase, held_declaration
from gateway.core.kinds import DocumentKind, Record, head_fields, key_text
from gateway.ecx.kinds_full import INVENTORY
from gateway.ecx.sim.numbers import numbers
from gateway.ecx.sim.state import Tracked
from gateway.ecx.summary.message import add_element, tag
from receipts.build import epoch_return_time, new_guid

SUMMARY_MODE = "B"
#: items of one customs declaration (报关单填制规范: at most 50 goods items per form)
ITEMS_PER_DECLARATION = 50
LIST_CHUNK = 500
_HEAD = ("ebcCode", "ownerCode", "trafMode", "country", "portCode")
_KEPT = (*_HEAD, "customsCode", "statisticsFlag", "logisticsNo", "grossWeight", "netWeight")
_APPLY_HEAD = ("customsCode", "agentCode", "agentName", "ebcCode", "ebcName", "declAgentCode",
               "declAgentName")  # fmt: skip


class SimSummaryList(SimBase):
    """A summary-mode inventory list customs accepted, with what a merge needs (JSON)."""

    __tablename__ = "sim_summary_lists"

    invt_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    business_key: Mapped[str] = mapped_column(String(300), index=True)
    sender_id: Mapped[str] = mapped_column(String(30))
    data: Mapped[str] = mapped_column(Text)
    #: the summary that took it
    sum_no: Mapped[str | None] = mapped_column(String(18))


class SimSummaryPart(SimBase):
    """One stored SummaryApply (copNo, msgSeqNo of msgCount), waiting for its siblings."""

    __tablename__ = "sim_summary_parts"
    __table_args__ = (UniqueConstraint("cop_no", "msg_seq_no", name="uq_sim_summary_part"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cop_no: Mapped[str] = mapped_column(String(30), index=True)
    msg_seq_no: Mapped[int] = mapped_column(Integer)
    msg_count: Mapped[int] = mapped_column(Integer)
    sum_no: Mapped[str] = mapped_column(String(18))
    sender_id: Mapped[str] = mapped_column(String(30))
    #: the head fields and the invtNos, as JSON
    data: Mapped[str] = mapped_column(Text)
    merged: Mapped[bool] = mapped_column(default=False)


# --- the merge (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class HeldList:
    invt_no: str
    fields: Mapping[str, str]
    items: Sequence[Mapping[str, str]]

    def head_key(self) -> tuple[str, ...]:
        return tuple(self.fields.get(name, "") for name in _HEAD)


def item_key(item: Mapping[str, str]) -> tuple[str, str, str]:
    return item.get("country", ""), item.get("gcode", ""), item.get("currency", "")


@dataclass(frozen=True)
class Merged:
    """One customs declaration: its item keys (gseqno = position + 1) and its lists."""

    head: tuple[str, ...]
    item_keys: tuple[tuple[str, str, str], ...]
    lists: tuple[HeldList, ...]

    def lines(self) -> Iterator[dict[str, str]]:
        seq = {key: n for n, key in enumerate(self.item_keys, start=1)}
        for held in self.lists:
            for item in held.items:
                if item_key(item) in seq:
                    yield {
                        "invtNo": held.invt_no,
                        "logisticsNo": held.fields.get("logisticsNo", ""),
                        "gseqno": str(seq[item_key(item)]),
                        "gnum": item.get("gnum", ""),
                        "gcode": item.get("gcode", ""),
                    }


def merge(lists: Iterable[HeldList]) -> list[Merged]:
    """The announcement's rule: one group per head key, items merged by item key, at most
    `ITEMS_PER_DECLARATION` items to a declaration."""
    groups: dict[tuple[str, ...], list[HeldList]] = {}
    for held in lists:
        groups.setdefault(held.head_key(), []).append(held)
    merged = []
    for head, members in sorted(groups.items()):
        keys = sorted({item_key(i) for m in members for i in m.items})
        for start in range(0, len(keys), ITEMS_PER_DECLARATION):
            chunk = tuple(keys[start : start + ITEMS_PER_DECLARATION])
            taking = tuple(m for m in members if any(item_key(i) in chunk for i in m.items))
            merged.append(Merged(head, chunk, taking))
    return merged


# --- CEB792 ---------------------------------------------------------------------------------


def _digits(*parts: str, count: int) -> str:
    seed = "|".join(parts).encode()
    return str(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))[-count:].zfill(count)


def declaration_numbers(sum_no: str, ordinal: int) -> tuple[str, str]:
    """entryId (customs 4 + year 4 + export flag 0 + 9 digits) and declSeqNo, 18 each."""
    customs, year = sum_no[:4], sum_no[4:8]
    entry = f"{customs}{year}0{_digits(sum_no, str(ordinal), 'entry', count=9)}"
    seq = f"{customs}{year}1{_digits(sum_no, str(ordinal), 'decl', count=9)}"
    return entry, seq


def _weights(decl: Merged) -> tuple[Decimal, Decimal]:
    # A list split over two declarations counts where its first item went.
    firsts = [m for m in decl.lists if item_key(m.items[0]) in decl.item_keys] if decl.lists else []

    def total(name: str) -> Decimal:
        return sum((Decimal(m.fields.get(name) or "0") for m in firsts), Decimal(0))

    return total("grossWeight"), total("netWeight")


def result_message(
    apply_head: Mapping[str, str], sum_no: str, decl: Merged, ordinal: int, at: str
) -> bytes:
    """A CEB792Message for one merged declaration (no BaseTransfer: customs' own)."""
    entry_id, decl_seq_no = declaration_numbers(sum_no, ordinal)
    gross, net = _weights(decl)
    root = etree.Element(
        tag("CEB792Message"), {"guid": new_guid(), "version": "1.0"}, nsmap={"ceb": CEB_NS}
    )
    record = etree.SubElement(root, tag("SummaryResult"))
    head: list[tuple[str, object]] = [
        ("guid", new_guid()), ("customsCode", apply_head.get("customsCode", "")),
        ("sumNo", sum_no), ("opDate", at), ("declSeqNo", decl_seq_no), ("entryId", entry_id),
        ("decState", "10"),
        *((name, apply_head.get(name, "")) for name in _APPLY_HEAD[1:]),
        ("grossWeight", gross), ("netWeight", net), ("msgCount", 1), ("msgSeqNo", 1),
    ]  # fmt: skip
    add_element(record, "SummaryResultHead", head)
    for line in decl.lines():
        add_element(record, "SummaryResultList", list(line.items()))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8")


# --- keeping the lists (wrapping the inventory behaviour) -----------------------------------


def _invt_no(rec: Record) -> str:
    return numbers(INVENTORY, rec).get("invtNo", "")


def keeping_lists(inner: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """The inventory behaviour, then the summary-mode lists customs accepted are kept."""

    def behaviour(
        sim: Any,
        session: Session,
        kind: DocumentKind,
        records: list[Record],
        cop_msg_id: str,
        sender: str,
    ) -> list[Any]:
        answers = inner(sim, session, kind, records, cop_msg_id, sender)
        for rec in records:
            if _accepted(session, kind, rec, cop_msg_id):
                _keep(session, rec, sender)
        return answers

    return behaviour


def _accepted(session: Session, kind: DocumentKind, rec: Record, cop_msg_id: str) -> bool:
    held = held_declaration(session, kind.name, key_text(rec.business_key))
    return held is not None and held.last_cop_msg_id == cop_msg_id


def _keep(session: Session, rec: Record, sender: str) -> None:
    invt_no = _invt_no(rec)
    row = session.get(SimSummaryList, invt_no)
    if rec.app_type == AppType.DELETE or rec.fields.get("statisticsFlag") != SUMMARY_MODE:
        if row is not None:
            session.delete(row)
        return
    items = [
        head_fields(c, None)
        for c in rec.element
        if isinstance(c.tag, str) and etree.QName(c).localname == "InventoryList"
    ]
    data = {"fields": {n: rec.fields.get(n, "") for n in _KEPT}, "items": items}
    if row is None:
        row = SimSummaryList(invt_no=invt_no)
        session.add(row)
    row.business_key, row.sender_id = key_text(rec.business_key), sender
    row.data = json.dumps(data, ensure_ascii=False)


# --- summary applications ------------------------------------------------------------------


def _sum_no(rec: Record) -> str:
    """One sumNo per application (copNo), shared by its parts: customs 4 + year 4 + 10."""
    customs = rec.fields.get("customsCode") or "2991"
    stamp = rec.fields.get("appTime", "")
    year = stamp[:4] if stamp[:4].isdigit() else "2026"
    return f"{customs}{year}{_digits('sumNo', rec.fields.get('copNo', ''), count=10)}"


def _numbered(kind: DocumentKind, rec: Record) -> Record:
    made = {"preNo": numbers(kind, rec)["preNo"], "sumNo": _sum_no(rec)}
    given = {name: rec.fields.get(name) or value for name, value in made.items()}
    return replace(rec, fields={**rec.fields, **given})


def _invt_nos(rec: Record) -> list[str]:
    return [
        head_fields(c, None).get("invtNo", "")
        for c in rec.element
        if isinstance(c.tag, str) and etree.QName(c).localname == "SummaryApplyList"
    ]


def declare_summary(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    cop_msg_id: str,
    sender: str,
) -> list[Any]:
    """CEB701: "declaring" (2), then 100 with the reason or 120 with the sumNo; the CEB792s
    once an application is complete."""
    reply = Reply(sim.sim, kind)
    later: list[Any] = []
    for rec in (_numbered(kind, r) for r in records):
        key, entity = key_text(rec.business_key), _echo(kind, rec)
        held = held_declaration(session, kind.name, key)
        refusal = _refusal(rec, held)
        if refusal is not None:
            reply.refuse(entity, *refusal)
            continue
        reply.declaring(entity, rec)
        held = _hold(session, kind, key, sender, held, cop_msg_id)
        status, info = _judge(sim, session, kind, rec, key, held.versions, sender)
        held.status = status
        reply.result(entity, status, info)
        if status == ReturnStatus.STORED.value and rec.app_status == AppStatus.DECLARE:
            later += _store_part(sim, session, rec, sender, Answer)
    return reply.answers() + later


def _hold(
    session: Session,
    kind: DocumentKind,
    key: str,
    sender: str,
    held: Declaration | None,
    cop_msg_id: str,
) -> Declaration:
    if held is None:
        held = Declaration(kind=kind.name, business_key=key, sender_id=sender, versions=0)
        session.add(held)
    held.versions, held.last_cop_msg_id = held.versions + 1, cop_msg_id
    held.status = ReturnStatus.EPORT_DECLARING.value  # complete before the next query flushes
    return held


def _judge(
    sim: Any, session: Session, kind: DocumentKind, rec: Record, key: str, version: int,
    sender: str,
) -> tuple[str, str]:  # fmt: skip
    problem = list_problem(session, rec, sender)
    if problem is not None:
        return ReturnStatus.RETURNED.value, f"[Code:2401;Desc:{problem}]"
    result: tuple[str, str] = sim._result(kind, key, version)
    if result[0] == ReturnStatus.STORED.value:
        return result[0], f"[Code:1800;Desc:逻辑校验通过 sumNo={rec.fields['sumNo']}]"
    return result


def list_problem(session: Session, rec: Record, sender: str) -> str | None:
    """Why customs will not summarise the lists of `rec`, or None (R-ECX-8)."""
    wanted = _invt_nos(rec)
    sum_no = rec.fields.get("sumNo", "")
    for start in range(0, len(wanted), LIST_CHUNK):
        part = wanted[start : start + LIST_CHUNK]
        kept = {row.invt_no: row for row in _rows(session, part)}
        states = _closing_states(session, part)
        for invt_no in part:
            why = _one_problem(kept.get(invt_no), states.get(invt_no), rec, sender, sum_no)
            if why:
                return f"{why} invtNo={invt_no}"
    return None


def _closing_states(session: Session, invt_nos: Sequence[str]) -> dict[str, str]:
    """The lifecycle status customs follows each list in (R-ECX-5): 899 once closed."""
    stmt = select(Tracked.invt_no, Tracked.status).where(
        Tracked.kind == INVENTORY.name, Tracked.invt_no.in_(invt_nos)
    )
    return dict(session.execute(stmt).all())


def _one_problem(
    row: SimSummaryList | None, state: str | None, rec: Record, sender: str, sum_no: str
) -> str | None:
    if row is None:
        return "汇总申请单中的清单不存在或非汇总申报清单"
    if row.sender_id != sender:
        return "清单不属于申报企业"
    fields = json.loads(row.data)["fields"]
    if fields.get("ebcCode") != rec.fields.get("ebcCode"):
        return "清单电商企业与汇总申请单不一致"
    if state != ReturnStatus.CLOSED.value:
        return "清单未结关"
    if row.sum_no and row.sum_no != sum_no:
        return f"清单已汇总 sumNo={row.sum_no}"
    return None


def _store_part(sim: Any, session: Session, rec: Record, sender: str, answer: type) -> list[Any]:
    """Keep the stored part and its lists' sumNo; when the application is complete, merge."""
    cop_no, sum_no = rec.fields.get("copNo", ""), rec.fields["sumNo"]
    seq, count = int(rec.fields.get("msgSeqNo") or 1), int(rec.fields.get("msgCount") or 1)
    invt_nos = _invt_nos(rec)
    head = {n: rec.fields.get(n, "") for n in _APPLY_HEAD}
    part = session.scalar(
        select(SimSummaryPart).where(
            SimSummaryPart.cop_no == cop_no, SimSummaryPart.msg_seq_no == seq
        )
    )
    if part is None:
        part = SimSummaryPart(cop_no=cop_no, msg_seq_no=seq)
        session.add(part)
    part.msg_count, part.sum_no, part.sender_id = count, sum_no, sender
    part.data = json.dumps({"head": head, "invtNos": invt_nos}, ensure_ascii=False)
    for row in _rows(session, invt_nos):
        row.sum_no = sum_no
    session.flush()
    return _results_when_complete(sim, session, cop_no, sum_no, count, answer)


def _results_when_complete(
    sim: Any, session: Session, cop_no: str, sum_no: str, count: int, answer: type
) -> list[Any]:
    waiting = select(SimSummaryPart).where(
        SimSummaryPart.cop_no == cop_no, SimSummaryPart.merged.is_(False)
    )
    parts = list(session.scalars(waiting))
    if len(parts) < count:
        return []
    head = json.loads(parts[0].data)["head"]
    wanted = [i for p in parts for i in json.loads(p.data)["invtNos"]]
    for p in parts:
        p.merged = True
    held = [_held_list(row) for row in _rows(session, wanted)]
    due = _later(sim)  # after the application's own 120
    at = epoch_return_time(due)
    return [
        answer(due, "CEB792Message", result_message(head, sum_no, decl, n, at), "summary result")
        for n, decl in enumerate(merge(held), start=1)
    ]


def _rows(session: Session, invt_nos: Sequence[str]) -> list[SimSummaryList]:
    rows: list[SimSummaryList] = []
    for start in range(0, len(invt_nos), LIST_CHUNK):
        part = invt_nos[start : start + LIST_CHUNK]
        rows += session.scalars(select(SimSummaryList).where(SimSummaryList.invt_no.in_(part)))
    return sorted(rows, key=lambda r: r.invt_no)


def _held_list(row: SimSummaryList) -> HeldList:
    data = json.loads(row.data)
    items = sorted(data["items"], key=lambda i: int(i.get("gnum") or 0))
    return HeldList(row.invt_no, data["fields"], items)


def _later(sim: Any) -> float:
    return time.time() + result_delay(sim.sim) + 0.05


def register(behaviours: MutableMapping[str, Callable[..., list[Any]]]) -> None:
    """Summary applications get this behaviour; inventory lists are kept for it."""
    behaviours["summary"] = declare_summary
    behaviours[INVENTORY.name] = keeping_lists(behaviours[INVENTORY.name])
