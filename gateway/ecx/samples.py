"""Deterministic, realistic CEB export messages for the demo, the tests and the benchmarks.

Everything is derived from a seed and the business numbers, so the same call gives the same
bytes, and messages about the same order agree with each other: a payment (CEB403) charges
exactly the order's (CEB303) goodsValue + freight, because both come from `order_amounts`.
The data looks like what Chinese cross-border sellers send (goods names, customs unit and
currency codes, 10-character customs enterprise codes, DXP ids), so that length limits and
encodings are exercised the way real traffic exercises them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from lxml import etree

from gateway.codes import CEB_NS
from gateway.core.parties import Party

CNY = "142"
CENT = Decimal("0.01")
#: the samples' clock: appTime falls in the hour after it unless a call passes `at`
BASE_TIME = datetime(2026, 11, 22, 10, 0, 0)
DEMO_DAY = BASE_TIME.date()
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


# Fictional enterprises with codes shaped like real ones (3301 = Hangzhou customs district).
DEMO_EBC = Party("3301960Z01", "杭州云织服饰有限公司", "DXPENT0000458763")
DEMO_EBP = Party("3301964J31", "浙江环球优品跨境电子商务有限公司", "DXPENT0000391254")
DEMO_PAYER = Party("3301960A12", "杭州汇付通支付服务有限公司", "DXPENT0000117025")
DEMO_LOGISTICS = Party("3301980L07", "杭州速达国际物流有限公司", "DXPENT0000520871")


class Shipment(NamedTuple):
    """One waybill to declare; with `order_no` its goods and weight follow that order."""

    logistics_no: str
    ebc: Party
    order_no: str | None = None


@dataclass(frozen=True)
class _Goods:
    name: str
    unit: str  # customs unit code: 011 件, 025 双, 007 个, 006 套, 015 条, 001 台
    low: int  # price range in yuan
    high: int
    kilograms: Decimal  # gross weight of one piece, packed
    describe: str | None = None


_CATALOGUE: tuple[_Goods, ...] = (
    _Goods("女式针织衫", "011", 89, 259, Decimal("0.45"), "70%羊毛30%锦纶，套头，M码"),
    _Goods("男式纯棉T恤", "011", 39, 129, Decimal("0.25"), "100%棉，圆领短袖"),
    _Goods("儿童运动鞋", "025", 99, 299, Decimal("0.80")),
    _Goods("蓝牙无线耳机", "007", 129, 399, Decimal("0.20"), "入耳式，蓝牙5.3"),
    _Goods("不锈钢保温杯", "007", 49, 159, Decimal("0.50"), "304不锈钢，500毫升"),
    _Goods("陶瓷茶具套装", "006", 128, 688, Decimal("2.10"), "景德镇白瓷，一壶六杯"),
    _Goods("真丝印花围巾", "015", 168, 498, Decimal("0.12"), "100%桑蚕丝"),
    _Goods("LED护眼台灯", "001", 99, 269, Decimal("1.30")),
    _Goods("硅胶手机保护壳", "007", 19, 59, Decimal("0.08")),
    _Goods("竹制桌面收纳盒", "007", 29, 89, Decimal("0.60")),
    _Goods("汉服女装连衣裙", "011", 159, 599, Decimal("0.70"), "雪纺，刺绣，L码"),
    _Goods("智能运动手环", "007", 149, 399, Decimal("0.15"), "心率监测，防水"),
)


@dataclass(frozen=True)
class OrderItem:
    gnum: int
    item_no: str
    item_name: str
    item_describe: str | None
    bar_code: str
    unit: str
    qty: int
    price: Decimal
    total_price: Decimal
    gross_weight: Decimal


@dataclass(frozen=True)
class OrderAmounts:
    """The goods and money of one order; the same for every message about that order."""

    items: tuple[OrderItem, ...]
    freight: Decimal

    @property
    def goods_value(self) -> Decimal:
        return sum((item.total_price for item in self.items), Decimal("0.00"))

    @property
    def charge(self) -> Decimal:
        """What the buyer paid: goods plus freight (the CEB403 charge)."""
        return self.goods_value + self.freight

    @property
    def gross_weight(self) -> Decimal:
        return sum((item.gross_weight for item in self.items), Decimal("0.00"))


# --- numbers ------------------------------------------------------------------------------


def order_numbers(count: int, *, day: date = DEMO_DAY, start: int = 1) -> list[str]:
    """Platform order numbers like EO2026112200001."""
    return [f"EO{day:%Y%m%d}{n:05d}" for n in range(start, start + count)]


def logistics_numbers(count: int, *, carrier: str = "YT", start: int = 1) -> list[str]:
    """Waybill numbers like YT7300000000001 (carrier prefix + 13 digits)."""
    return [f"{carrier}{7300000000000 + n:013d}" for n in range(start, start + count)]


def order_amounts(order_no: str, seed: int = 0, items_per_order: int = 2) -> OrderAmounts:
    """The items and freight of an order, derived from the order number and the seed only."""
    rng = random.Random(f"order:{seed}:{order_no}")
    goods = _pick(rng, items_per_order)
    items = tuple(_item(rng, gnum, g) for gnum, g in enumerate(goods, start=1))
    freight = Decimal(rng.choice(("0.00", "8.00", "12.00", "15.50", "20.00")))
    return OrderAmounts(items=items, freight=freight)


def _pick(rng: random.Random, count: int) -> list[_Goods]:
    if count <= len(_CATALOGUE):
        return rng.sample(_CATALOGUE, count)
    return rng.choices(_CATALOGUE, k=count)


def _item(rng: random.Random, gnum: int, goods: _Goods) -> OrderItem:
    qty = rng.choice((1, 1, 1, 2, 2, 3))
    price = (Decimal(rng.randint(goods.low * 100, goods.high * 100)) / 100).quantize(CENT)
    sku = _CATALOGUE.index(goods)
    return OrderItem(
        gnum=gnum,
        item_no=f"SKU{sku:03d}-{rng.randint(1000, 9999)}",
        item_name=goods.name,
        item_describe=goods.describe,
        bar_code=_ean13(f"69{rng.randint(10**9, 10**10 - 1)}"),
        unit=goods.unit,
        qty=qty,
        price=price,
        total_price=(price * qty).quantize(CENT, rounding=ROUND_HALF_UP),
        gross_weight=goods.kilograms * qty,
    )


def _ean13(first12: str) -> str:
    """Complete a 12-digit GS1 prefix (69x = China) with its check digit."""
    odd = sum(int(d) for d in first12[0::2])
    even = sum(int(d) for d in first12[1::2])
    return first12 + str((10 - (odd + 3 * even) % 10) % 10)


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def _moment(rng: random.Random, at: datetime | None) -> datetime:
    return at or BASE_TIME + timedelta(seconds=rng.randint(0, 3599))


def _stamp(moment: datetime) -> str:
    """The C14 timestamp of appTime and accountingDate: YYYYMMDDhhmmss."""
    return f"{moment:%Y%m%d%H%M%S}"


# --- building XML ---------------------------------------------------------------------------

Fields = Iterable[tuple[str, object]]


def _tag(name: str) -> str:
    return f"{{{CEB_NS}}}{name}"


def _add(parent: etree._Element, name: str, fields: Fields) -> etree._Element:
    """Append <ceb:name> with one child per field; fields whose value is None are left out."""
    element = etree.SubElement(parent, _tag(name))
    for field, value in fields:
        if value is not None:
            etree.SubElement(element, _tag(field)).text = str(value)
    return element


def _root(message: str, rng: random.Random) -> etree._Element:
    return etree.Element(
        _tag(message), {"guid": _guid(rng), "version": "1.0"}, nsmap={"ceb": CEB_NS}
    )


def _finish(root: etree._Element, sender: Party) -> bytes:
    _add(
        root,
        "BaseTransfer",
        [
            ("copCode", sender.code),
            ("copName", sender.name),
            ("dxpMode", "DXP"),
            ("dxpId", sender.dxp_id),
        ],
    )
    # Written by hand: lxml would quote the declaration with single quotes, senders do not.
    return _DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def _declaration(rng: random.Random, app_type: str, app_status: str, moment: datetime) -> Fields:
    return [
        ("guid", _guid(rng)),
        ("appType", app_type),
        ("appTime", _stamp(moment)),
        ("appStatus", app_status),
    ]


def _message_rng(
    kind: str, seed: int, sender: Party, keys: Sequence[str], *codes: str
) -> random.Random:
    # Sender, business keys and codes are part of the seed so that two different messages
    # (other records, a modification, a save then a declare) never share a guid.
    return random.Random(f"{kind}:{seed}:{sender.code}:{','.join(keys)}:{','.join(codes)}")


# --- CEB303 order ---------------------------------------------------------------------------


def order_message(
    sender: Party,
    platform: Party,
    order_nos: Sequence[str],
    *,
    app_type: str = "1",
    app_status: str = "2",
    items_per_order: int = 2,
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB303Message with one Order per order number; `sender` is the e-commerce enterprise."""
    rng = _message_rng("CEB303", seed, sender, order_nos, app_type, app_status)
    root = _root("CEB303Message", rng)
    for order_no in order_nos:
        amounts = order_amounts(order_no, seed, items_per_order)
        order = etree.SubElement(root, _tag("Order"))
        head = _declaration(rng, app_type, app_status, _moment(rng, at))
        _add(order, "OrderHead", [*head, *_order_head(order_no, sender, platform, amounts)])
        for item in amounts.items:
            _add(order, "OrderList", _order_list(item))
    return _finish(root, sender)


def _order_head(order_no: str, ebc: Party, ebp: Party, amounts: OrderAmounts) -> Fields:
    return [
        ("orderType", "E"),
        ("orderNo", order_no),
        ("ebpCode", ebp.code),
        ("ebpName", ebp.name),
        ("ebcCode", ebc.code),
        ("ebcName", ebc.name),
        ("goodsValue", amounts.goods_value),
        ("freight", amounts.freight),
        ("currency", CNY),
    ]


def _order_list(item: OrderItem) -> Fields:
    return [
        ("gnum", item.gnum),
        ("itemNo", item.item_no),
        ("itemName", item.item_name),
        ("itemDescribe", item.item_describe),
        ("barCode", item.bar_code),
        ("unit", item.unit),
        ("currency", CNY),
        ("qty", item.qty),
        ("price", item.price),
        ("totalPrice", item.total_price),
    ]


# --- CEB403 payment receipt -----------------------------------------------------------------


def payment_message(
    sender: Party,
    platform: Party,
    payer: Party,
    order_nos: Sequence[str],
    *,
    app_type: str = "1",
    app_status: str = "2",
    items_per_order: int = 2,
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB403Message: one Receipts per order, charging the order's goodsValue + freight.

    `sender` is the e-commerce enterprise that was paid, `payer` the payment enterprise
    (payCode/payName). Use the same seed and items_per_order as for the order message.
    """
    rng = _message_rng("CEB403", seed, sender, order_nos, app_type, app_status)
    root = _root("CEB403Message", rng)
    for order_no in order_nos:
        amounts = order_amounts(order_no, seed, items_per_order)
        moment = _moment(rng, at)
        head = _declaration(rng, app_type, app_status, moment)
        paid = _Payment(payer, amounts.charge, moment - timedelta(minutes=rng.randint(5, 600)))
        _add(root, "Receipts", [*head, *_receipt(rng, order_no, sender, platform, paid)])
    return _finish(root, sender)


@dataclass(frozen=True)
class _Payment:
    payer: Party
    charge: Decimal
    accounted: datetime  # the payment is booked before it is declared


def _receipt(rng: random.Random, order_no: str, ebc: Party, ebp: Party, paid: _Payment) -> Fields:
    return [
        ("ebpCode", ebp.code),
        ("ebpName", ebp.name),
        ("ebcCode", ebc.code),
        ("ebcName", ebc.name),
        ("orderNo", order_no),
        ("payCode", paid.payer.code),
        ("payName", paid.payer.name),
        ("payNo", f"{paid.accounted:%Y%m%d}{rng.randint(10**17, 10**18 - 1)}"),
        ("charge", paid.charge),
        ("currency", CNY),
        ("accountingDate", _stamp(paid.accounted)),
    ]


# --- CEB505 waybill -------------------------------------------------------------------------


def waybill_message(
    sender: Party,
    shipments: Sequence[Shipment | tuple[str, Party]],
    *,
    app_type: str = "1",
    app_status: str = "2",
    items_per_order: int = 2,
    seed: int = 0,
    at: datetime | None = None,
) -> bytes:
    """A CEB505Message: one Logistics per shipment; `sender` is the logistics enterprise.

    A shipment is (logisticsNo, ebc) or a `Shipment` that also names the order it carries.
    """
    refs = [Shipment(*s) for s in shipments]
    keys = [s.logistics_no for s in refs]
    rng = _message_rng("CEB505", seed, sender, keys, app_type, app_status)
    root = _root("CEB505Message", rng)
    for ref in refs:
        head = _declaration(rng, app_type, app_status, _moment(rng, at))
        parcel = _parcel(ref, seed, items_per_order)
        _add(root, "Logistics", [*head, *_logistics(rng, sender, ref, parcel)])
    return _finish(root, sender)


def _parcel(ref: Shipment, seed: int, items: int) -> OrderAmounts:
    # Without an order number the parcel still needs believable contents and weight.
    return order_amounts(ref.order_no or ref.logistics_no, seed, items)


def _logistics(rng: random.Random, carrier: Party, ref: Shipment, parcel: OrderAmounts) -> Fields:
    return [
        ("logisticsCode", carrier.code),
        ("logisticsName", carrier.name),
        ("logisticsNo", ref.logistics_no),
        ("freight", parcel.freight),
        ("insuredFee", "0.00"),
        ("currency", CNY),
        ("grossWeight", parcel.gross_weight.quantize(Decimal("0.001"))),
        ("packNo", 1),
        ("goodsInfo", ";".join(item.item_name for item in parcel.items)[:200]),
        ("ebcCode", ref.ebc.code),
        ("ebcName", ref.ebc.name),
        ("ebcTelephone", f"0571-{rng.randint(8000_0000, 8999_9999)}"),
    ]
