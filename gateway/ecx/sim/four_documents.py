"""The four-document comparison (四单比对, R-ECX-2) of the simulated customs.

Customs keeps the fields of every order (CEB303), payment receipt (CEB403) and waybill
(CEB505) it accepts (`HeldDocument`). When a declared inventory list (CEB603, appStatus 2)
comes in, it is compared with them:

- the order and the payment receipt of the same ebcCode and orderNo, the waybill of the same
  logisticsCode and logisticsNo must be held (and not returned);
- the waybill's e-commerce enterprise, when it names one, is the inventory's;
- the items agree with the order's: as many lines, in gnum order the same itemNo and item
  name where both name them, the same quantity, and a totalPrice not above the order line's
  (within a cent); the inventory's goods total not above what was paid (within a cent).

A match gives the normal path (e-port 2, then customs' 120, or the sampled returns of
`SimConfig.return_rate`); a mismatch is returned (100) with the mismatch named. A missing
document is waited for `SimConfig.missing_document_wait` seconds: the list stays pending
(`PendingComparison`) and is compared again when an order, payment or waybill it names
arrives, or returned naming the missing documents when the wait is over (`expire`, run by
the simulator's sender loop).

Every answer to a declared list goes to `lifecycle.track`: from storage on, customs follows
the list through review, conclusion, release and close (R-ECX-5, gateway/ecx/sim/
lifecycle.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from lxml import etree
from sqlalchemy import Table, bindparam, delete, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from gateway.codes import ReturnStatus
from gateway.core.customs_sim.books import CHUNK, chunks
from gateway.core.customs_sim.service import Answer, Reply, _echo, batched, result_delay
from gateway.core.customs_sim.state import Declaration, held_declaration
from gateway.core.kinds import DocumentKind, Record, head_fields, key_text
from gateway.ecx.kinds_full import INVENTORY
from gateway.ecx.sim import lifecycle
from gateway.ecx.sim.numbers import with_numbers
from gateway.ecx.sim.state import HeldDocument, PendingComparison
from receipts.build import build_receipt
from receipts.build import epoch_return_time as stamp

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
MISMATCH_CODE = "2201"
MISSING_CODE = "2202"

#: kind → its item line tag and the fields an inventory list names it by
_ITEM_TAGS = {"order": "OrderList", "inventory": "InventoryList"}
_MATCH_FIELDS = {
    "order": ("ebcCode", "orderNo"),
    "payment": ("ebcCode", "orderNo"),
    "waybill": ("logisticsCode", "logisticsNo"),
}
_TITLES = {"order": "订单", "payment": "收款单", "waybill": "运单"}


@dataclass(frozen=True)
class Outcome:
    """The comparison: documents still missing, or the first mismatch (None when all agree)."""

    missing: tuple[str, ...] = ()
    mismatch: str | None = None


def _items(element: etree._Element, tag: str) -> list[dict[str, str]]:
    lines = [
        head_fields(child, None)
        for child in element
        if isinstance(child.tag, str) and etree.QName(child).localname == tag
    ]
    return sorted(lines, key=lambda line: _int(line.get("gnum", "")))


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _dec(text: str | None) -> Decimal | None:
    try:
        return Decimal(text or "")
    except InvalidOperation:
        return None


def _match_key(kind: str, fields: Mapping[str, str]) -> str:
    return "|".join(fields.get(name, "") for name in _MATCH_FIELDS[kind])


def _held(session: Session, kind: str, match_key: str) -> dict[str, Any] | None:
    """The newest document of `kind` customs holds under `match_key`, unless it returned it."""
    rows = session.execute(
        select(HeldDocument.data, Declaration.status)
        .join(
            Declaration,
            (Declaration.kind == HeldDocument.kind)
            & (Declaration.business_key == HeldDocument.business_key),
        )
        .where(HeldDocument.kind == kind, HeldDocument.match_key == match_key)
        .order_by(HeldDocument.id.desc())
    ).all()
    for data, status in rows:
        if status != ReturnStatus.RETURNED.value:
            loaded: dict[str, Any] = json.loads(data)
            return loaded
    return None


def compare(
    session: Session, fields: Mapping[str, str], items: Sequence[Mapping[str, str]]
) -> Outcome:
    """R-ECX-2: the inventory list (head `fields`, `items`) against the documents held."""
    order = _held(session, "order", _match_key("order", fields))
    payment = _held(session, "payment", _match_key("payment", fields))
    waybill = _held(session, "waybill", _match_key("waybill", fields))
    found = {"order": order, "payment": payment, "waybill": waybill}
    missing = tuple(kind for kind, doc in found.items() if doc is None)
    if missing:
        return Outcome(missing=missing)
    assert order is not None and payment is not None and waybill is not None
    return Outcome(mismatch=_mismatch(fields, items, order, payment, waybill))


def _mismatch(
    fields: Mapping[str, str],
    items: Sequence[Mapping[str, str]],
    order: Mapping[str, Any],
    payment: Mapping[str, Any],
    waybill: Mapping[str, Any],
) -> str | None:
    ordered: list[dict[str, str]] = order["items"]
    order_head, pay_head, way_head = order["fields"], payment["fields"], waybill["fields"]
    if order_head.get("ebpCode") and order_head["ebpCode"] != fields.get("ebpCode"):
        return "清单电商平台与订单不一致"
    if way_head.get("ebcCode") and way_head["ebcCode"] != fields.get("ebcCode"):
        return "运单电商企业与清单不一致"
    if len(items) != len(ordered):
        return f"清单商品项数({len(items)})与订单({len(ordered)})不一致"
    for line, want in zip(items, ordered, strict=True):
        gnum = line.get("gnum", "")
        if line.get("itemNo") and want.get("itemNo") and line["itemNo"] != want["itemNo"]:
            return f"清单商品货号与订单不一致 gnum={gnum}"
        name = line.get("itemName") or line.get("gname")
        if name and want.get("itemName") and name != want["itemName"]:
            return f"清单商品名称与订单不一致 gnum={gnum}"
        qty, want_qty = _dec(line.get("qty")), _dec(want.get("qty"))
        if qty is None or want_qty is None or qty != want_qty:
            return f"清单商品数量与订单不一致 gnum={gnum}"
        total, want_total = _dec(line.get("totalPrice")), _dec(want.get("totalPrice"))
        if total is None or want_total is None or total > want_total + CENT:
            return f"清单商品金额超过订单金额 gnum={gnum}"
    goods = sum((_dec(line.get("totalPrice")) or Decimal(0) for line in items), Decimal(0))
    charge = _dec(pay_head.get("charge"))
    if charge is None or goods > charge + CENT:
        return "清单商品总价超过收款单支付金额"
    return None


def _return_info(outcome: Outcome, fields: Mapping[str, str]) -> str:
    order_no = fields.get("orderNo", "")
    if outcome.missing:
        names = "、".join(_TITLES[kind] for kind in outcome.missing)
        refs = f"orderNo={order_no}"
        if "waybill" in outcome.missing:
            refs += f" logisticsNo={fields.get('logisticsNo', '')}"
        return f"[Code:{MISSING_CODE};Desc:四单比对不符: 未收到{names} {refs}]"
    return f"[Code:{MISMATCH_CODE};Desc:四单比对不符: {outcome.mismatch} orderNo={order_no}]"


# --- keeping what the comparison needs ---------------------------------------------------


@batched
def remember_documents(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    cop_msg_id: str,
    sender: str,
) -> list[Any]:
    """Order, payment, waybill: the generic answer, keeping the fields of each record customs
    accepted, then the pending inventory lists that were waiting for them compared again.
    Kept in the run (customs_sim/books.py): written, and the waiting lists compared, once
    for the run's documents rather than one flush a record (issue 15)."""
    with sim.run_for(session) as run:
        answers: list[Any] = sim._business(session, kind, records, cop_msg_id, sender)
        kept = run.part("four_documents", lambda: _Kept(sim))
        for rec in records:
            key = key_text(rec.business_key)
            held = run.holdings.get(kind.name, key)
            if held is None or held.last_cop_msg_id != cop_msg_id:
                continue  # refused (duplicate key, nothing to modify…)
            data: dict[str, Any] = {"fields": dict(rec.fields), "items": []}
            if kind.name in _ITEM_TAGS:
                data["items"] = _items(rec.element, _ITEM_TAGS[kind.name])
            match_key = _match_key(kind.name, rec.fields)
            kept.docs[(kind.name, key)] = (match_key, json.dumps(data, ensure_ascii=False))
    return answers


_HELD = cast(Table, HeldDocument.__table__)
_UPDATE_KEPT = (
    update(_HELD)
    .where(_HELD.c.id == bindparam("row_id"))
    .values(match_key=bindparam("new_match_key"), data=bindparam("new_data"))
)


class _Kept:
    """The documents a run accepted, by (kind, business key): (match key, JSON)."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.docs: dict[tuple[str, str], tuple[str, str]] = {}

    def write(self, session: Session) -> None:
        """One query for the rows already held, one executemany insert, one executemany
        update (a document declared again replaces its row, keeping its id); then the lists
        waiting for any of them compared again."""
        ids: dict[tuple[str, str], int] = {}
        c = _HELD.c
        for part in chunks(list(self.docs)):
            found = select(c.id, c.kind, c.business_key).where(
                tuple_(c.kind, c.business_key).in_(part)
            )
            ids.update({(r.kind, r.business_key): r.id for r in session.execute(found)})
        new, old = [], []
        for (kind, key), (match_key, data) in self.docs.items():
            if (kind, key) in ids:
                row = {"row_id": ids[(kind, key)], "new_match_key": match_key, "new_data": data}
                old.append(row)
            else:
                new.append(
                    {"kind": kind, "business_key": key, "match_key": match_key, "data": data}
                )
        if new:
            session.execute(insert(_HELD), new)
        if old:
            session.execute(_UPDATE_KEPT, old)
        self._settle_waiting(session)

    def _settle_waiting(self, session: Session) -> None:
        waybills = sorted(m for (kind, _key), (m, _data) in self.docs.items() if kind == "waybill")
        orders = sorted(m for (kind, _key), (m, _data) in self.docs.items() if kind != "waybill")
        waiting: dict[int, PendingComparison] = {}
        p = PendingComparison
        for start in range(0, max(len(orders), len(waybills)), CHUNK):
            named = or_(
                p.order_key.in_(orders[start : start + CHUNK]),
                p.waybill_key.in_(waybills[start : start + CHUNK]),
            )
            waiting.update({row.id: row for row in session.scalars(select(p).where(named))})
        now = time.time()
        for _id, pending in sorted(waiting.items()):
            _settle(self.sim, session, pending, now)


# --- inventory lists -----------------------------------------------------------------------


def _receipt_answer(entity: Mapping[str, str], status: str, info: str, epoch: float) -> Any:
    """Customs' result of a list that waited, stamped and sent at `epoch`."""
    entry = {**entity, "returnStatus": status, "returnInfo": info, "returnTime": stamp(epoch)}
    body = build_receipt(INVENTORY.receipt_type, [entry])
    return Answer(epoch, INVENTORY.receipt_type, body, "result")


def declare_inventory(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    cop_msg_id: str,
    sender: str,
) -> list[Any]:
    """CEB603: the numbers customs assigns, e-port "declaring" (2), then the result of the
    four-document comparison (R-ECX-2) — at once, or once the missing documents arrive or
    the wait for them is over."""
    reply = Reply(sim.sim, kind)
    for rec in (with_numbers(kind, r) for r in records):
        key = key_text(rec.business_key)
        held = held_declaration(session, kind.name, key)
        entity = _echo(kind, rec)
        # a modification of a list customs holds unreleased is a new list (manual §3.3)
        refusal = lifecycle.refusal(kind, rec, held)
        if refusal is not None:
            reply.refuse(entity, *refusal)
            continue
        reply.declaring(entity, rec)
        if held is None:
            held = Declaration(kind=kind.name, business_key=key, sender_id=sender, versions=0)
            session.add(held)
        held.versions, held.last_cop_msg_id = held.versions + 1, cop_msg_id
        # complete before the comparison's queries flush it
        held.status = ReturnStatus.EPORT_DECLARING.value
        result = _decide(sim, session, kind, rec, key, held.versions, entity, sender)
        held.status = result[0] if result else ReturnStatus.EPORT_DECLARING.value
        if result is not None:
            reply.result(entity, *result)
        if rec.app_status == "2":  # customs follows a declared list on (R-ECX-5)
            lifecycle.track(
                session, sim, kind.name, key, sender, rec.fields, entity, held.status,
                held.versions, step_at=reply.result_epoch,
            )  # fmt: skip
    return reply.answers()


def _decide(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    rec: Record,
    key: str,
    version: int,
    entity: Mapping[str, str],
    sender: str,
) -> tuple[str, str] | None:
    """The customs result of one accepted list, or None while it waits for a document."""
    if rec.app_status != "2":  # only a declared list is compared
        result: tuple[str, str] = sim._result(kind, key, version)
        return result
    items = _items(rec.element, _ITEM_TAGS["inventory"])
    outcome = compare(session, rec.fields, items)
    if outcome.missing:
        session.execute(delete(PendingComparison).where(PendingComparison.business_key == key))
        data = {
            "fields": dict(rec.fields),
            "items": items,
            "entity": dict(entity),
            "version": version,
        }
        session.add(
            PendingComparison(
                business_key=key,
                order_key=_match_key("order", rec.fields),
                waybill_key=_match_key("waybill", rec.fields),
                sender_id=sender,
                deadline=time.time() + sim.sim.missing_document_wait,
                data=json.dumps(data, ensure_ascii=False),
            )
        )
        return None
    if outcome.mismatch:
        return ReturnStatus.RETURNED.value, _return_info(outcome, rec.fields)
    result = sim._result(kind, key, version)
    return result


def _settle(sim: Any, session: Session, pending: PendingComparison, now: float) -> None:
    """Compare a waiting list again; answer it unless a document is missing and there is time."""
    data = json.loads(pending.data)
    outcome = compare(session, data["fields"], data["items"])
    if outcome.missing and now < pending.deadline:
        return
    if outcome.missing or outcome.mismatch:
        result = (ReturnStatus.RETURNED.value, _return_info(outcome, data["fields"]))
    else:
        result = sim._result(INVENTORY, pending.business_key, data["version"])
    gone = session.execute(delete(PendingComparison).where(PendingComparison.id == pending.id))
    if getattr(gone, "rowcount", 1) != 1:
        return  # answered by the other thread already
    held = held_declaration(session, INVENTORY.name, pending.business_key)
    if held is not None:
        held.status = result[0]
    epoch = time.time() + result_delay(sim.sim)
    sim._schedule(session, pending.sender_id, _receipt_answer(data["entity"], *result, epoch))
    lifecycle.track(
        session,
        sim,
        INVENTORY.name,
        pending.business_key,
        pending.sender_id,
        data["fields"],
        data["entity"],
        result[0],
        data["version"],
        step_at=epoch,
    )
    log.info("customs four-document comparison of %s: %s %s", pending.business_key, *result)


def expire(sim: Any) -> None:
    """Answer the lists whose wait for a missing document is over (the sender loop's tick)."""
    now = time.time()
    with sim.db.session() as session:
        rows = session.scalars(
            select(PendingComparison).where(PendingComparison.deadline <= now).limit(200)
        )
        for pending in list(rows):
            _settle(sim, session, pending, now)


def register(
    behaviours: MutableMapping[str, Callable[..., list[Any]]],
    ticks: list[Callable[[Any], None]],
) -> None:
    for name in _MATCH_FIELDS:
        behaviours[name] = remember_documents
    behaviours[INVENTORY.name] = declare_inventory
    ticks.append(expire)
