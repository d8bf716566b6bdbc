"""Realistic samples of the rest of the export message set, consistent with `gateway.samples`.

Arrival (CEB507), departure (CEB509), inventory list (CEB603), inventory revoke (CEB605),
total/sub waybill list (CEB607), return application (CEB213), return tally (CEB215), summary
application (CEB701) and, for tests, customs' summary result (CEB792).

Every message about a parcel agrees with the order, payment and waybill of `gateway.samples`:
an inventory list carries the order's orderNo, the waybill's logisticsNo and exactly the
order's items (same itemNo, quantities, prices and totals, from `samples.order_amounts`) with
their 10-digit HS codes, so the four-document comparison (R-ECX-2) passes unless a test breaks
it on purpose. Like `gateway.samples`, everything is derived from a seed and the business
numbers: the same call gives the same bytes.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from lxml import etree

from gateway.ecx.samples import (
    BASE_TIME,
    CNY,
    DEMO_DAY,
    DEMO_EBC,
    DEMO_EBP,
    DEMO_LOGISTICS,
    OrderAmounts,
    OrderItem,
    Party,
    _add,
    _declaration,
    _finish,
    _guid,
    _message_rng,
    _moment,
    _root,
    _stamp,
    _tag,
    order_amounts,
)
from gateway.errors import InvalidInput

#: export customs and supervised place of the samples (Hangzhou district codes are 29xx)
DEMO_CUSTOMS = "2991"
DEMO_LOCATION = "2991W00001"
#: a declaring agent (报关企业) and a supervised-place operator (监管场所经营人)
DEMO_AGENT = Party("3301980B15", "杭州关通报关有限公司", "DXPENT0000611842")
DEMO_OPERATOR = Party("3301960J88", "杭州综保跨境监管仓储有限公司", "DXPENT0000702356")

EXPORT = "E"
IMPORT = "I"
B2C_EXPORT = "9610"
SIMPLIFIED = "A"  # statisticsFlag: simplified declaration (简化申报)
SUMMARY = "B"  # statisticsFlag: summary declaration (汇总申报), merged monthly (R-ECX-8)
ROAD, AIR = "4", "5"  # trafMode codes
KILOGRAM = "035"

#: HS code (10 digits) and first legal unit of each catalogue good of `gateway.samples`;
#: a legal unit of kilograms means qty1 is the net weight, otherwise qty1 = qty.
HS_CODES: dict[str, tuple[str, str]] = {
    "女式针织衫": ("6110110000", "011"),
    "男式纯棉T恤": ("6109100021", "011"),
    "儿童运动鞋": ("6404110000", "025"),
    "蓝牙无线耳机": ("8518300000", "007"),
    "不锈钢保温杯": ("9617001100", "007"),
    "陶瓷茶具套装": ("6911101900", KILOGRAM),
    "真丝印花围巾": ("6214100090", "015"),
    "LED护眼台灯": ("9405210000", "001"),
    "硅胶手机保护壳": ("3926909000", "007"),
    "竹制桌面收纳盒": ("4602110000", KILOGRAM),
    "汉服女装连衣裙": ("6204430000", "011"),
    "智能运动手环": ("8517629900", "007"),
}

#: destination countries (customs country codes): USA, UK, Germany, Japan, Singapore
_DESTINATIONS = ("502", "303", "304", "116", "132")
_NET_SHARE = Decimal("0.85")  # net weight of goods in a packed parcel


@dataclass(frozen=True)
class Parcel:
    """One parcel as the inventory-side messages name it: order, waybill and goods."""

    order_no: str
    logistics_no: str
    ebc: Party = DEMO_EBC
    ebp: Party = DEMO_EBP
    carrier: Party = DEMO_LOGISTICS
    statistics_flag: str = SIMPLIFIED
    invt_no: str | None = None  # assigned by customs, known once the list is stored


@dataclass(frozen=True)
class Trip:
    """How parcels leave: the master bill, the flight and the truck to the supervised place."""

    bill_no: str = "784-20261122"
    traf_mode: str = AIR
    traf_name: str = "CZ3081"
    voyage_no: str = "CZ3081/22NOV"
    domestic_traf_no: str = "浙A·7F352"


DEMO_TRIP = Trip()

# --- numbers ------------------------------------------------------------------------------


def inventory_cop_no(order_no: str) -> str:
    """The enterprise's own number of the inventory list of an order (copNo, C..30)."""
    return f"CI{order_no}"


def inventory_numbers(count: int, *, day: date = DEMO_DAY, start: int = 1) -> list[str]:
    """Customs inventory numbers (invtNo, C..20) like 29912026E000000001."""
    return [f"{DEMO_CUSTOMS}{day:%Y}{EXPORT}{n:09d}" for n in range(start, start + count)]


def hs_code(item: OrderItem) -> str:
    return HS_CODES[item.item_name][0]


def destination(order_no: str, seed: int = 0) -> str:
    return random.Random(f"dest:{seed}:{order_no}").choice(_DESTINATIONS)


T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Split a long list (parcels of an arrival, a departure…) into messages of `size` lines;
    each chunk is one message with msgCount = len(result) and msgSeqNo = its position."""
    if size < 1:
        raise InvalidInput("size must be at least 1")
    return [items[i : i + size] for i in range(0, len(items), size)] or [items[:0]]


def _net(weight: Decimal) -> Decimal:
    return (weight * _NET_SHARE).quantize(Decimal("0.001"))


def _head(rng: random.Random, app_type: str, app_status: str, at: datetime | None) -> list:
    return list(_declaration(rng, app_type, app_status, _moment(rng, at)))


# --- CEB603 inventory list ------------------------------------------------------------------


def inventory_message(
    sender: Party,
    parcels: Sequence[Parcel],
    *,
    agent: Party | None = None,
    app_type: str = "1",
    app_status: str = "2",
    items_per_order: int = 2,
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB603Message, one Inventory per parcel; `agent` (default: the sender) declares.

    Use the seed and items_per_order of the order message so that the goods agree.
    """
    agent = agent or sender
    keys = [p.order_no for p in parcels]
    rng = _message_rng("CEB603", seed, sender, keys, app_type, app_status)
    root = _root("CEB603Message", rng)
    for parcel in parcels:
        amounts = order_amounts(parcel.order_no, seed, items_per_order)
        country = destination(parcel.order_no, seed)
        moment = _moment(rng, at)
        record = etree.SubElement(root, _tag("Inventory"))
        head = [*_declaration(rng, app_type, app_status, moment)]
        _add(
            record,
            "InventoryHead",
            [*head, *_inventory_head(parcel, agent, amounts, moment, country)],
        )
        for item in amounts.items:
            _add(record, "InventoryList", _inventory_list(item, country))
    return _finish(root, sender)


def as_saved(data: bytes) -> bytes:
    """The saved (暂存) form of an inventory message that declares new lists: what an ERP
    sends first, since a list is saved before it is declared (R-ECX-2, manual 004 §3.1).
    Every new declared list of `data` becomes saved, with guids of its own."""
    root = etree.fromstring(data)
    root.set("guid", str(uuid.uuid4()).upper())
    for head in root.iter(_tag("InventoryHead")):
        if head.findtext(_tag("appType")) == "1" and head.findtext(_tag("appStatus")) == "2":
            head.find(_tag("appStatus")).text = "1"
            head.find(_tag("guid")).text = str(uuid.uuid4()).upper()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def save_then_declare(submit: Callable[[bytes], T], data: bytes) -> T:
    """Submit the saved form of `data` (R-ECX-2), then `data` itself; the declaration's
    answer."""
    submit(as_saved(data))
    return submit(data)


def _inventory_head(
    parcel: Parcel, agent: Party, amounts: OrderAmounts, moment: datetime, country: str
) -> list:
    return [
        ("customsCode", DEMO_CUSTOMS),
        ("ebpCode", parcel.ebp.code),
        ("ebpName", parcel.ebp.name),
        ("orderNo", parcel.order_no),
        ("logisticsCode", parcel.carrier.code),
        ("logisticsName", parcel.carrier.name),
        ("logisticsNo", parcel.logistics_no),
        ("copNo", inventory_cop_no(parcel.order_no)),
        ("invtNo", parcel.invt_no),
        ("ieFlag", EXPORT),
        ("portCode", DEMO_CUSTOMS),
        ("ieDate", f"{moment:%Y%m%d}"),
        ("statisticsFlag", parcel.statistics_flag),
        ("agentCode", agent.code),
        ("agentName", agent.name),
        ("ebcCode", parcel.ebc.code),
        ("ebcName", parcel.ebc.name),
        ("ownerCode", parcel.ebc.code),
        ("ownerName", parcel.ebc.name),
        ("tradeMode", B2C_EXPORT),
        ("trafMode", AIR),
        ("loctNo", DEMO_LOCATION),
        ("country", country),
        ("POD", country),
        ("freight", amounts.freight),
        ("fCurrency", CNY),
        ("fFlag", "3"),  # 3 = total amount
        ("insuredFee", "0.00"),
        ("iCurrency", CNY),
        ("iFlag", "3"),
        ("wrapType", "2"),  # 2 = carton
        ("packNo", 1),
        ("grossWeight", amounts.gross_weight.quantize(Decimal("0.001"))),
        ("netWeight", _net(amounts.gross_weight)),
    ]


def _legal_qty(item: OrderItem) -> tuple[object, str]:
    unit1 = HS_CODES[item.item_name][1]
    qty1 = _net(item.gross_weight) if unit1 == KILOGRAM and item.unit != KILOGRAM else item.qty
    return qty1, unit1


def _inventory_list(item: OrderItem, country: str) -> list:
    qty1, unit1 = _legal_qty(item)
    return [
        ("gnum", item.gnum),
        ("itemNo", item.item_no),
        ("itemName", item.item_name),
        ("gcode", hs_code(item)),
        ("gname", item.item_name),
        ("gmodel", item.item_describe or "无品牌|无型号"),
        ("barCode", item.bar_code),
        ("country", country),
        ("currency", CNY),
        ("qty", item.qty),
        ("qty1", qty1),
        ("unit", item.unit),
        ("unit1", unit1),
        ("price", item.price),
        ("totalPrice", item.total_price),
    ]


# --- CEB605 inventory revoke ----------------------------------------------------------------


def invt_cancel_message(
    sender: Party,
    parcels: Sequence[Parcel],
    *,
    reason: str = "订单取消，申请撤销清单",
    app_type: str = "1",
    app_status: str = "2",
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB605Message revoking the inventory list of each parcel (which needs its invtNo)."""
    keys = [p.order_no for p in parcels]
    rng = _message_rng("CEB605", seed, sender, keys, app_type, app_status)
    root = _root("CEB605Message", rng)
    for n, parcel in enumerate(parcels, start=1):
        invt_no = parcel.invt_no or inventory_numbers(1, start=n)[0]
        fields = [
            ("customsCode", DEMO_CUSTOMS),
            ("copNo", f"CX{parcel.order_no}"),
            ("invtNo", invt_no),
            ("reason", reason),
            ("agentCode", sender.code),
            ("agentName", sender.name),
            ("ebcCode", parcel.ebc.code),
            ("ebcName", parcel.ebc.name),
        ]
        _add(root, "InvtCancel", [*_head(rng, app_type, app_status, at), *fields])
    return _finish(root, sender)


# --- CEB507 arrival, CEB509 departure, CEB607 total/sub waybill -----------------------------


@dataclass(frozen=True)
class Batch:
    """One message of a batch of parcels: its copNo and its place in the batch."""

    cop_no: str
    msg_count: int = 1
    msg_seq_no: int = 1


def _batch_rng(
    kind: str, seed: int, sender: Party, batch: Batch, nos: Sequence[str], *codes: str
) -> random.Random:
    keys = [batch.cop_no, str(batch.msg_seq_no), *nos[:1], *nos[-1:]]
    return _message_rng(kind, seed, sender, keys, *codes)


def arrival_message(
    sender: Party,
    logistics_nos: Sequence[str],
    batch: Batch,
    *,
    carrier: Party = DEMO_LOGISTICS,
    trip: Trip = DEMO_TRIP,
    app_type: str = "1",
    app_status: str = "2",
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB507Message: `sender` (the supervised-place operator) reports the parcels arrived."""
    rng = _batch_rng("CEB507", seed, sender, batch, logistics_nos, app_type, app_status)
    root = _root("CEB507Message", rng)
    record = etree.SubElement(root, _tag("Arrival"))
    fields = [
        ("customsCode", DEMO_CUSTOMS),
        ("copNo", batch.cop_no),
        ("operatorCode", sender.code),
        ("operatorName", sender.name),
        ("loctNo", DEMO_LOCATION),
        ("ieFlag", EXPORT),
        ("trafMode", ROAD),
        ("billNo", trip.bill_no),
        ("domesticTrafNo", trip.domestic_traf_no),
        ("logisticsCode", carrier.code),
        ("logisticsName", carrier.name),
        ("msgCount", batch.msg_count),
        ("msgSeqNo", batch.msg_seq_no),
    ]
    _add(record, "ArrivalHead", [*_head(rng, app_type, app_status, at), *fields])
    for gnum, no in enumerate(logistics_nos, start=1):
        _add(
            record,
            "ArrivalList",
            [("gnum", gnum), ("logisticsNo", no), ("totalPackageNo", trip.bill_no)],
        )
    return _finish(root, sender)


def departure_message(
    sender: Party,
    logistics_nos: Sequence[str],
    batch: Batch,
    *,
    trip: Trip = DEMO_TRIP,
    app_type: str = "1",
    app_status: str = "2",
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB509Message: `sender` (the logistics enterprise) reports the parcels left."""
    rng = _batch_rng("CEB509", seed, sender, batch, logistics_nos, app_type, app_status)
    root = _root("CEB509Message", rng)
    record = etree.SubElement(root, _tag("Departure"))
    left = (at or BASE_TIME) + timedelta(hours=6)
    fields = [
        ("customsCode", DEMO_CUSTOMS),
        ("copNo", batch.cop_no),
        ("logisticsCode", sender.code),
        ("logisticsName", sender.name),
        ("trafMode", trip.traf_mode),
        ("trafName", trip.traf_name),
        ("voyageNo", trip.voyage_no),
        ("billNo", trip.bill_no),
        ("leaveTime", _stamp(left)),
        ("msgCount", batch.msg_count),
        ("msgSeqNo", batch.msg_seq_no),
    ]
    _add(record, "DepartureHead", [*_head(rng, app_type, app_status, at), *fields])
    for gnum, no in enumerate(logistics_nos, start=1):
        _add(
            record,
            "DepartureList",
            [("gnum", gnum), ("totalPackageNo", trip.bill_no), ("logisticsNo", no)],
        )
    return _finish(root, sender)


def waybill_list_message(
    sender: Party,
    parcels: Sequence[Parcel],
    batch: Batch,
    *,
    carrier: Party = DEMO_LOGISTICS,
    trip: Trip = DEMO_TRIP,
    app_type: str = "1",
    app_status: str = "2",
    items_per_order: int = 2,
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB607Message: the master bill `trip.bill_no` and the parcels under it; `sender` is
    the declaring agent. grossWeight is the parcels' total, from their orders."""
    nos = [p.logistics_no for p in parcels]
    rng = _batch_rng("CEB607", seed, sender, batch, nos, app_type, app_status)
    root = _root("CEB607Message", rng)
    record = etree.SubElement(root, _tag("WayBill"))
    weight = sum(
        (order_amounts(p.order_no, seed, items_per_order).gross_weight for p in parcels),
        Decimal("0"),
    )
    fields = [
        ("customsCode", DEMO_CUSTOMS),
        ("copNo", batch.cop_no),
        ("agentCode", sender.code),
        ("agentName", sender.name),
        ("loctNo", DEMO_LOCATION),
        ("trafMode", trip.traf_mode),
        ("trafName", trip.traf_name),
        ("voyageNo", trip.voyage_no),
        ("billNo", trip.bill_no),
        ("domesticTrafNo", trip.domestic_traf_no),
        ("grossWeight", weight.quantize(Decimal("0.001"))),
        ("logisticsCode", carrier.code),
        ("logisticsName", carrier.name),
        ("msgCount", batch.msg_count),
        ("msgSeqNo", batch.msg_seq_no),
    ]
    _add(record, "WayBillHead", [*_head(rng, app_type, app_status, at), *fields])
    for gnum, parcel in enumerate(parcels, start=1):
        line = [
            ("gnum", gnum),
            ("totalPackageNo", trip.bill_no),
            ("logisticsNo", parcel.logistics_no),
            ("invtNo", parcel.invt_no),
        ]
        _add(record, "WayBillList", line)
    return _finish(root, sender)


# --- CEB213 return application, CEB215 return tally -----------------------------------------


def _refund_no(parcel: Parcel) -> str:
    return f"RT{parcel.order_no}"  # the enterprise's own number of the return (coElNo)


def refund_message(
    sender: Party,
    parcels: Sequence[Parcel],
    *,
    trip: Trip = DEMO_TRIP,
    reason: str = "买家拒收退回",
    app_type: str = "1",
    app_status: str = "2",
    items_per_order: int = 2,
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB213Message: the return of each parcel with the goods of its order; `sender` is
    the declaring agent, the parcels need their invtNo."""
    keys = [p.order_no for p in parcels]
    rng = _message_rng("CEB213", seed, sender, keys, app_type, app_status)
    root = _root("CEB213Message", rng)
    for n, parcel in enumerate(parcels, start=1):
        amounts = order_amounts(parcel.order_no, seed, items_per_order)
        record = etree.SubElement(root, _tag("InvtRefund"))
        fields = _refund_head(sender, parcel, trip, reason, n, seed)
        _add(record, "InvtRefundHead", [*_head(rng, app_type, app_status, at), *fields])
        for item in amounts.items:
            _add(record, "InvtRefundList", _refund_list(item))
    return _finish(root, sender)


def _refund_head(agent: Party, parcel: Parcel, trip: Trip, reason: str, n: int, seed: int) -> list:
    return [
        ("customsCode", DEMO_CUSTOMS),
        ("loctNo", DEMO_LOCATION),
        ("ebpCode", parcel.ebp.code),
        ("ebpName", parcel.ebp.name),
        ("ebcCode", parcel.ebc.code),
        ("ebcName", parcel.ebc.name),
        ("logisticsNo", parcel.logistics_no),
        ("logisticsCode", parcel.carrier.code),
        ("logisticsName", parcel.carrier.name),
        ("coElNo", _refund_no(parcel)),
        ("invtNo", parcel.invt_no or inventory_numbers(1, start=n)[0]),
        ("tradeMode", B2C_EXPORT),
        ("agentCode", agent.code),
        ("agentName", agent.name),
        ("billNo", trip.bill_no),
        ("ieFlag", IMPORT),
        ("trafMode", trip.traf_mode),
        ("trafName", trip.traf_name),
        ("portCode", DEMO_CUSTOMS),
        ("reason", reason),
        ("country", destination(parcel.order_no, seed)),
        ("voyageNo", trip.voyage_no),
    ]


def _refund_list(item: OrderItem) -> list:
    qty1, unit1 = _legal_qty(item)
    return [
        ("gnum", item.gnum),
        ("gcode", hs_code(item)),
        ("gname", item.item_name),
        ("gmodel", item.item_describe or "无品牌|无型号"),
        ("qty", item.qty),
        ("qty1", qty1),
        ("unit", item.unit),
        ("unit1", unit1),
    ]


def refund_detail_message(
    sender: Party,
    parcels: Sequence[Parcel],
    *,
    trip: Trip = DEMO_TRIP,
    app_type: str = "1",
    app_status: str = "2",
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB215Message: the tally of each returned parcel by `sender`, the place's operator."""
    keys = [p.order_no for p in parcels]
    rng = _message_rng("CEB215", seed, sender, keys, app_type, app_status)
    root = _root("CEB215Message", rng)
    for n, parcel in enumerate(parcels, start=1):
        fields = [
            ("customsCode", DEMO_CUSTOMS),
            ("operatorCode", sender.code),
            ("operatorName", sender.name),
            ("logisticsCode", parcel.carrier.code),
            ("logisticsName", parcel.carrier.name),
            ("logisticsNo", parcel.logistics_no),
            ("invtNo", parcel.invt_no or inventory_numbers(1, start=n)[0]),
            ("coElNo", f"TL{parcel.order_no}"),
            ("billNo", trip.bill_no),
            ("ieFlag", IMPORT),
            ("trafMode", trip.traf_mode),
            ("trafName", trip.traf_name),
            ("voyageNo", trip.voyage_no),
            ("location", "杭州综合保税区跨境电商监管中心3号库"),
        ]
        _add(root, "InvtRefundDetail", [*_head(rng, app_type, app_status, at), *fields])
    return _finish(root, sender)


# --- CEB701 summary application, CEB792 summary result --------------------------------------


def summary_message(
    sender: Party,
    invt_nos: Sequence[str],
    batch: Batch,
    *,
    ebc: Party = DEMO_EBC,
    period: tuple[datetime, datetime] | None = None,
    app_type: str = "1",
    app_status: str = "2",
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB701Message: `sender` (the declaring agent) asks customs to merge the closed
    summary-mode inventory lists `invt_nos` of `ebc` into customs declarations. With `period`
    customs takes the lists of that period and ignores the list."""
    rng = _batch_rng("CEB701", seed, sender, batch, invt_nos, app_type, app_status)
    root = _root("CEB701Message", rng)
    record = etree.SubElement(root, _tag("SummaryApply"))
    start, end = (None, None) if period is None else (_stamp(period[0]), _stamp(period[1]))
    fields = [
        ("customsCode", DEMO_CUSTOMS),
        ("copNo", batch.cop_no),
        ("agentCode", sender.code),
        ("agentName", sender.name),
        ("ebcCode", ebc.code),
        ("ebcName", ebc.name),
        ("declAgentCode", sender.code),
        ("declAgentName", sender.name),
        ("startTime", start),
        ("endTime", end),
        ("loctNo", DEMO_LOCATION),
        ("summaryFlag", "1"),  # by consignor
        ("itemNameFlag", "0"),
        ("msgCount", batch.msg_count),
        ("msgSeqNo", batch.msg_seq_no),
    ]
    _add(record, "SummaryApplyHead", [*_head(rng, app_type, app_status, at), *fields])
    for invt_no in invt_nos:
        _add(record, "SummaryApplyList", [("invtNo", invt_no)])
    return _finish(root, sender)


@dataclass(frozen=True)
class ResultLine:
    invt_no: str
    logistics_no: str
    gnum: int  # item of the inventory list
    gcode: str


def summary_result_message(
    sum_no: str,
    entry_id: str,
    lines: Sequence[ResultLine],
    *,
    agent: Party = DEMO_AGENT,
    ebc: Party = DEMO_EBC,
    gross_weight: Decimal = Decimal("1.000"),
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB792Message from customs: the summary `sum_no` became declaration `entry_id`; each
    line names an inventory item and its item number (gseqno) in the declaration."""
    rng = _message_rng("CEB792", seed, agent, [sum_no, entry_id])
    root = _root("CEB792Message", rng)
    record = etree.SubElement(root, _tag("SummaryResult"))
    moment = at or BASE_TIME
    head = [
        ("guid", _guid(rng)),
        ("customsCode", DEMO_CUSTOMS),
        ("sumNo", sum_no),
        ("opDate", f"{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"),
        ("declSeqNo", f"{sum_no[:-1]}1"),
        ("entryId", entry_id),
        ("decState", "10"),
        ("agentCode", agent.code),
        ("agentName", agent.name),
        ("ebcCode", ebc.code),
        ("ebcName", ebc.name),
        ("declAgentCode", agent.code),
        ("declAgentName", agent.name),
        ("grossWeight", gross_weight),
        ("netWeight", _net(gross_weight)),
        ("msgCount", 1),
        ("msgSeqNo", 1),
    ]
    _add(record, "SummaryResultHead", head)
    for line in lines:
        seq = sorted({x.gcode for x in lines}).index(line.gcode) + 1
        _add(
            record,
            "SummaryResultList",
            [
                ("invtNo", line.invt_no),
                ("logisticsNo", line.logistics_no),
                ("gseqno", seq),
                ("gnum", line.gnum),
                ("gcode", line.gcode),
            ],
        )
    # Customs' own messages carry no BaseTransfer of an enterprise: only the root and records.
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(
        root, encoding="UTF-8", pretty_print=True
    )


def result_lines(
    parcels: Sequence[Parcel], *, items_per_order: int = 2, seed: int = 0
) -> Iterator[ResultLine]:
    """The CEB792 lines of parcels whose inventory lists were merged (they need invtNo)."""
    for parcel in parcels:
        for item in order_amounts(parcel.order_no, seed, items_per_order).items:
            yield ResultLine(parcel.invt_no or "", parcel.logistics_no, item.gnum, hs_code(item))
