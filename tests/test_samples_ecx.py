"""The sample generators of the rest of the export set agree with the order, payment and
waybill samples: same orderNo and logisticsNo, the order's items with 10-digit HS codes,
amounts to the cent; and they are deterministic and valid against the XSDs."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from lxml import etree

from gateway.codes import CEB_NS
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.xmlsafe import parse
from schemas import validate

ORDERS = samples.order_numbers(4, start=31)
LOGISTICS = samples.logistics_numbers(4, start=31)
PARCELS = [ecx.Parcel(o, n) for o, n in zip(ORDERS, LOGISTICS, strict=True)]
DECLARED = [
    ecx.Parcel(o, n, invt_no=i)
    for o, n, i in zip(ORDERS, LOGISTICS, ecx.inventory_numbers(4, start=31), strict=True)
]

GENERATORS = {
    "inventory": lambda **kw: ecx.inventory_message(samples.DEMO_EBC, PARCELS, **kw),
    "cancel": lambda **kw: ecx.invt_cancel_message(ecx.DEMO_AGENT, DECLARED, **kw),
    "arrival": lambda **kw: ecx.arrival_message(
        ecx.DEMO_OPERATOR, LOGISTICS, ecx.Batch("AR1"), **kw
    ),
    "departure": lambda **kw: ecx.departure_message(
        samples.DEMO_LOGISTICS, LOGISTICS, ecx.Batch("DP1"), **kw
    ),
    "waybill_list": lambda **kw: ecx.waybill_list_message(
        ecx.DEMO_AGENT, DECLARED, ecx.Batch("WB1"), **kw
    ),
    "refund": lambda **kw: ecx.refund_message(ecx.DEMO_AGENT, DECLARED, **kw),
    "tally": lambda **kw: ecx.refund_detail_message(ecx.DEMO_OPERATOR, DECLARED, **kw),
    "summary": lambda **kw: ecx.summary_message(
        ecx.DEMO_AGENT, [p.invt_no or "" for p in DECLARED], ecx.Batch("SA1"), **kw
    ),
}


def _texts(data: bytes, local: str) -> list[str]:
    return [e.text or "" for e in parse(data).getroot().iter(f"{{{CEB_NS}}}{local}")]


@pytest.mark.parametrize("kind", GENERATORS)
def test_samples_validate_and_are_deterministic(kind: str) -> None:
    data = GENERATORS[kind]()
    assert validate(parse(data)) == []
    assert GENERATORS[kind]() == data
    assert GENERATORS[kind](seed=7) != data
    assert GENERATORS[kind](app_type="2") != data


def test_inventory_carries_exactly_the_orders_items() -> None:
    data = GENERATORS["inventory"]()
    order = samples.order_message(samples.DEMO_EBC, samples.DEMO_EBP, ORDERS)
    for local in ("orderNo", "itemNo", "qty", "price", "totalPrice", "barCode"):
        assert _texts(data, local) == _texts(order, local), local
    assert _texts(data, "logisticsNo") == LOGISTICS
    waybill = samples.waybill_message(
        samples.DEMO_LOGISTICS,
        [samples.Shipment(n, samples.DEMO_EBC, o) for o, n in zip(ORDERS, LOGISTICS, strict=True)],
    )
    assert _texts(data, "grossWeight") == _texts(waybill, "grossWeight")
    assert _texts(data, "ebcCode") == _texts(order, "ebcCode")


def test_inventory_lines_add_up_and_have_hs_codes() -> None:
    root = parse(GENERATORS["inventory"]()).getroot()
    for line in root.iter(f"{{{CEB_NS}}}InventoryList"):
        fields = {etree.QName(c).localname: c.text or "" for c in line}
        assert re.fullmatch(r"[0-9]{10}", fields["gcode"])
        total = (Decimal(fields["qty"]) * Decimal(fields["price"])).quantize(Decimal("0.01"))
        assert Decimal(fields["totalPrice"]) == total
        if fields["unit1"] != ecx.KILOGRAM:
            assert fields["qty1"] == fields["qty"]
    heads = list(root.iter(f"{{{CEB_NS}}}InventoryHead"))
    for head in heads:
        assert head.findtext(f"{{{CEB_NS}}}tradeMode") == "9610"
        assert head.findtext(f"{{{CEB_NS}}}ieFlag") == "E"
        assert head.find(f"{{{CEB_NS}}}invtNo") is None  # a new list has no customs number


def test_every_catalogue_good_has_a_10_digit_hs_code() -> None:
    names = {g.name for g in samples._CATALOGUE}
    assert names == set(ecx.HS_CODES)
    assert all(re.fullmatch(r"[0-9]{10}", code) for code, _ in ecx.HS_CODES.values())


def test_returns_carry_the_orders_goods_and_the_inventory_numbers() -> None:
    data = GENERATORS["refund"]()
    assert _texts(data, "invtNo") == [p.invt_no for p in DECLARED]
    inventory = GENERATORS["inventory"]()
    assert _texts(data, "gcode") == _texts(inventory, "gcode")
    assert _texts(data, "qty") == _texts(inventory, "qty")
    assert set(_texts(data, "ieFlag")) == {"I"}


def test_batches_number_their_messages() -> None:
    nos = samples.logistics_numbers(2500)
    chunks = ecx.batches(nos, 1000)
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    messages = [
        ecx.arrival_message(ecx.DEMO_OPERATOR, c, ecx.Batch("AR9", len(chunks), n))
        for n, c in enumerate(chunks, start=1)
    ]
    assert [_texts(m, "msgSeqNo") for m in messages] == [["1"], ["2"], ["3"]]
    assert {_texts(m, "msgCount")[0] for m in messages} == {"3"}
    assert _texts(messages[2], "gnum")[-1] == "500"
    assert len({parse(m).getroot().get("guid") for m in messages}) == 3
    assert validate(parse(messages[0])) == []


def test_waybill_list_weight_is_the_parcels_total() -> None:
    data = GENERATORS["waybill_list"]()
    weights = [samples.order_amounts(o).gross_weight for o in ORDERS]
    assert Decimal(_texts(data, "grossWeight")[0]) == sum(weights, Decimal(0))
    assert _texts(data, "invtNo") == [p.invt_no for p in DECLARED]
