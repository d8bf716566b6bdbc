"""Cross-border e-commerce export end to end, over the real RabbitMQ with the simulated
customs: 1,000 parcels from order to the customs declaration numbers of the monthly summary.

order, payment, waybill (R-ECX-1) → inventory list and the four-document comparison (R-ECX-2)
→ total/sub waybill list (R-ECX-6) and arrival (R-ECX-3) release → departure (R-ECX-4) closes
→ the summary job merges the closed summary-mode lists (R-ECX-8) → CEB792 finalises them with
the customs declaration number (R-ECX-5 结案).

Along the way, as a broker sees in a real month: lists customs returns because they disagree
with the order (fixed by a modification, appType 2, R-COM-5), and one list revoked (CEB605)
before release, which goes no further.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from gateway.core.models import Document, StatusChange, utcnow
from gateway.ecx import parcels as batching
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.ecx.summary.cycles import beijing_day, cycle_of
from gateway.ecx.summary.job import intake_submit, run_cycle
from gateway.ecx.summary.models import SummaryList
from tests.stack import PAYER, PLATFORM, Stack, wait_value

PARCELS = 1000
PER_MESSAGE = 100  # records per business message (R-COM-1.count)
PARCELS_PER_PART = 400  # forces the waybill list, arrival and departure over 3 messages
ITEMS_MISMATCH = range(0, 1000, 97)  # 11 lists declared with an extra item line
GOODS_MISMATCH = range(5, 1000, 211)  # 5 lists declared with other goods
REVOKED = 500  # one list revoked (CEB605) before its release
SIMPLIFIED_EVERY = 10  # every tenth list is simplified ('A'): closed, never summarised


def _chunks(items: Sequence[Any], size: int = PER_MESSAGE) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _statuses(stack: Stack, ids: Sequence[int]) -> Counter[str]:
    with stack.gateway.db.session() as session:
        rows = session.execute(
            select(Document.status, func.count())
            .where(Document.id.in_(ids))
            .group_by(Document.status)
        ).all()
    return Counter({status: n for status, n in rows})


def _wait_all(stack: Stack, ids: Sequence[int], wanted: set[str], timeout: float = 180) -> None:
    """Every document of `ids` reaches one of `wanted` (polled in SQL, not one by one)."""
    counts = wait_value(
        lambda: _statuses(stack, ids),
        lambda c: sum(n for s, n in c.items() if s in wanted) == len(ids),
        timeout,
    )
    assert sum(n for s, n in counts.items() if s in wanted) == len(ids), counts


def _submit_all(stack: Stack, messages: list[bytes], code: str | None = None) -> list[int]:
    return [d.id for data in messages for d in stack.submit(data, code).documents]


def _make_parcels(stack: Stack) -> list[ecx.Parcel]:
    orders = samples.order_numbers(PARCELS, start=7001)
    nos = samples.logistics_numbers(PARCELS, start=7001)
    return [
        ecx.Parcel(
            o,
            n,
            ebc=stack.ebc,
            ebp=PLATFORM,
            carrier=stack.carrier,
            statistics_flag=ecx.SIMPLIFIED if i % SIMPLIFIED_EVERY == 0 else ecx.SUMMARY,
        )
        for i, (o, n) in enumerate(zip(orders, nos, strict=True))
    ]


def _declare_sources(stack: Stack, made: list[ecx.Parcel]) -> None:
    """Order, payment receipt and waybill of every parcel (R-ECX-1), 100 per message."""
    order_nos = [p.order_no for p in made]
    ids = _submit_all(
        stack, [samples.order_message(stack.ebc, PLATFORM, c) for c in _chunks(order_nos)]
    )
    ids += _submit_all(
        stack,
        [samples.payment_message(stack.ebc, PLATFORM, PAYER, c) for c in _chunks(order_nos)],
    )
    shipments = [samples.Shipment(p.logistics_no, stack.ebc, p.order_no) for p in made]
    waybills = [samples.waybill_message(stack.carrier, c) for c in _chunks(shipments)]
    ids += _submit_all(stack, waybills, stack.carrier.code)
    _wait_all(stack, ids, {"stored"})


def _declare_lists(stack: Stack, made: list[ecx.Parcel]) -> list[int]:
    """Inventory lists, 100 per message; some disagree with their order (R-ECX-2)."""
    ids: list[int] = []
    for n, chunk in enumerate(_chunks(made)):
        first = n * PER_MESSAGE
        for i, parcel in enumerate(chunk, start=first):
            if i in ITEMS_MISMATCH:
                data = ecx.inventory_message(stack.ebc, [parcel], items_per_order=3)
            elif i in GOODS_MISMATCH:
                data = ecx.inventory_message(stack.ebc, [parcel], seed=7)
            else:
                continue
            ids.append(stack.declare_lists(data).documents[0].id)
        fine = [p for i, p in enumerate(chunk, start=first) if i not in _MISMATCHED]
        declared = stack.declare_lists(ecx.inventory_message(stack.ebc, fine))
        ids += [d.id for d in declared.documents]
    return ids


_MISMATCHED = set(ITEMS_MISMATCH) | set(GOODS_MISMATCH)


def _doc_ids_by_order(stack: Stack, ids: Sequence[int]) -> dict[str, int]:
    """Inventory document id by orderNo (its copNo is CI + orderNo)."""
    with stack.gateway.db.session() as session:
        rows = session.execute(
            select(Document.id, Document.business_key).where(Document.id.in_(ids))
        ).all()
    return {key.split("|")[1].removeprefix("CI"): doc_id for doc_id, key in rows}


def _infos(stack: Stack, doc_id: int) -> list[str]:
    with stack.gateway.db.session() as session:
        rows = session.scalars(
            select(StatusChange.info).where(
                StatusChange.document_id == doc_id, StatusChange.to_status == "returned"
            )
        ).all()
    return [r or "" for r in rows]


def _fix_mismatches(stack: Stack, made: list[ecx.Parcel], by_order: dict[str, int]) -> None:
    """Customs returned the disagreeing lists naming the mismatch; a modification (appType 2)
    with the order's goods is compared again and stored (R-ECX-2, R-ECX-5, R-COM-5)."""
    wrong = [made[i] for i in sorted(_MISMATCHED)]
    wrong_ids = [by_order[p.order_no] for p in wrong]
    _wait_all(stack, wrong_ids, {"returned"})
    for i in ITEMS_MISMATCH:
        infos = _infos(stack, by_order[made[i].order_no])
        assert any("清单商品项数(3)与订单(2)不一致" in t for t in infos), infos
    for i in GOODS_MISMATCH:
        infos = _infos(stack, by_order[made[i].order_no])
        assert any("四单比对不符" in t and "与订单不一致" in t for t in infos), infos
    for chunk in _chunks(wrong):
        stack.submit(ecx.inventory_message(stack.ebc, chunk, app_type="2"))


def _invt_nos(stack: Stack, ids: Sequence[int]) -> dict[int, str]:
    with stack.gateway.db.session() as session:
        docs = session.scalars(select(Document).where(Document.id.in_(ids))).all()
        return {d.id: d.customs_numbers.get("invtNo", "") for d in docs}


def _revoke(stack: Stack, parcel: ecx.Parcel, doc_id: int) -> None:
    """A revoke application (CEB605) for a concluded list: customs approves, the list is
    withdrawn (R-ECX-5)."""
    invt_no = _invt_nos(stack, [doc_id])[doc_id]
    data = ecx.invt_cancel_message(stack.ebc, [replace(parcel, invt_no=invt_no)])
    cancel = stack.submit(data).documents[0].id
    assert stack.wait_status(cancel, "concluded", timeout=60) == "concluded"
    assert stack.wait_status(doc_id, "revoked", timeout=30) == "revoked"


def _ship(stack: Stack, shipped: list[ecx.Parcel]) -> None:
    """Total/sub waybill list, arrival and departure of the shipped parcels, each split over
    several messages with msgCount/msgSeqNo (R-ECX-3, R-ECX-4, R-ECX-6)."""
    nos = [p.logistics_no for p in shipped]
    trip = ecx.DEMO_TRIP
    heads = {
        "waybill_total": {
            "customsCode": ecx.DEMO_CUSTOMS,
            "copNo": "WBE2E202611",
            "agentCode": stack.carrier.code,
            "agentName": stack.carrier.name,
            "trafMode": trip.traf_mode,
            "trafName": trip.traf_name,
            "voyageNo": trip.voyage_no,
            "billNo": trip.bill_no,
            "grossWeight": "1520.5",
            "logisticsCode": stack.carrier.code,
            "logisticsName": stack.carrier.name,
        },
        "arrival": {
            "customsCode": ecx.DEMO_CUSTOMS,
            "copNo": "ARE2E202611",
            "operatorCode": stack.carrier.code,
            "operatorName": stack.carrier.name,
            "ieFlag": "E",
            "trafMode": trip.traf_mode,
            "domesticTrafNo": trip.domestic_traf_no,
            "logisticsCode": stack.carrier.code,
            "logisticsName": stack.carrier.name,
        },
        "departure": {
            "customsCode": ecx.DEMO_CUSTOMS,
            "copNo": "DPE2E202611",
            "logisticsCode": stack.carrier.code,
            "logisticsName": stack.carrier.name,
            "trafMode": trip.traf_mode,
            "trafName": trip.traf_name,
            "voyageNo": trip.voyage_no,
            "billNo": trip.bill_no,
            "leaveTime": "20261122180000",
        },
    }
    for kind in ("waybill_total", "arrival", "departure"):
        result = batching.submit(
            stack.gateway.intake,
            stack.carrier.code,
            kind,
            heads[kind],
            nos,
            per_message=PARCELS_PER_PART,
            channel="test",
        )
        assert len(result.parts) == 3, result.as_dict()
        ids = [d["id"] for part in result.parts for d in part.documents]
        assert all(part.error is None for part in result.parts), result.as_dict()
        _wait_all(stack, ids, {"stored"})


def test_a_thousand_parcels_from_order_to_customs_declaration(make_stack) -> None:
    stack = make_stack(missing_document_wait=5.0, review_rate=0.03, inspection_rate=0.03).start()
    made = _make_parcels(stack)
    _declare_sources(stack, made)

    list_ids = _declare_lists(stack, made)
    assert len(list_ids) == PARCELS
    by_order = _doc_ids_by_order(stack, list_ids)
    _fix_mismatches(stack, made, by_order)
    _wait_all(stack, list_ids, {"concluded"})

    revoked = made[REVOKED]
    _revoke(stack, revoked, by_order[revoked.order_no])
    shipped = [p for p in made if p is not revoked]
    shipped_ids = [by_order[p.order_no] for p in shipped]

    _ship(stack, shipped)
    _wait_all(stack, shipped_ids, {"closed"})

    # The monthly summary of the lists closed this cycle (R-ECX-8): run now, as ops would.
    cycle = cycle_of(beijing_day(utcnow()))
    run = run_cycle(
        stack.gateway.db,
        stack.config.summary,
        cycle,
        intake_submit(stack.gateway.intake),
        now=utcnow(),
    )
    summarised = [by_order[p.order_no] for p in shipped if p.statistics_flag == ecx.SUMMARY]
    simplified = [by_order[p.order_no] for p in shipped if p.statistics_flag != ecx.SUMMARY]
    assert run.lists == len(summarised), run.summary()
    assert not run.refused, run.summary()
    _wait_all(stack, summarised, {"finalised"})

    # Every summarised list carries its customs declaration number; the others stop earlier.
    with stack.gateway.db.session() as session:
        rows = session.execute(
            select(Document.id, SummaryList.entry_id)
            .join(SummaryList, SummaryList.business_key == Document.business_key)
            .where(Document.id.in_(summarised))
        ).all()
    assert len(rows) == len(summarised)
    assert all(entry and len(entry) == 18 for _, entry in rows), rows[:5]
    assert _statuses(stack, simplified) == Counter({"closed": len(simplified)})
    assert stack.status(by_order[revoked.order_no]) == "revoked"

    # A fixed list's history shows the return with its reason, then the whole way through:
    # every receipt is in it (one the broker delivered after a newer step would be kept, not
    # applied: R-COM-4), and customs sends its receipts in returnTime order.
    fixed = by_order[made[ITEMS_MISMATCH[1]].order_no]
    history = stack.view(fixed)["history"]
    customs = [h["return_status"] for h in history if h["source"] == "customs"]
    assert customs[:4] == ["2", "100", "2", "120"], history
    path = [h["to"] for h in history if h["applied"]]
    assert path.index("returned") < path.index("concluded"), path
    assert path[-3:] == ["released", "closed", "finalised"], path
