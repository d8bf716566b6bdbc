"""The sample generator makes valid, deterministic messages whose numbers agree with each other."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from lxml import etree

from gateway.codes import CEB_NS, CURRENCIES
from gateway.ecx import samples
from gateway.ecx.samples import DEMO_EBC, DEMO_EBP, DEMO_LOGISTICS, DEMO_PAYER, Party, Shipment
from gateway.xmlsafe import parse
from schemas import validate

NS = {"ceb": CEB_NS}
ORDERS = samples.order_numbers(3)


def _root(data: bytes) -> etree._Element:
    return parse(data).getroot()


def _texts(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.xpath(path, namespaces=NS)]


def _order() -> bytes:
    return samples.order_message(DEMO_EBC, DEMO_EBP, ORDERS)


def _payment() -> bytes:
    return samples.payment_message(DEMO_EBC, DEMO_EBP, DEMO_PAYER, ORDERS)


def _waybill() -> bytes:
    refs = [
        Shipment(no, DEMO_EBC, order) for no, order in zip(samples.logistics_numbers(3), ORDERS)
    ]
    return samples.waybill_message(DEMO_LOGISTICS, refs)


MAKERS = {"CEB303Message": _order, "CEB403Message": _payment, "CEB505Message": _waybill}


@pytest.mark.parametrize("kind", MAKERS)
def test_samples_validate(kind: str) -> None:
    root = _root(MAKERS[kind]())
    assert etree.QName(root).localname == kind
    assert validate(root) == []


@pytest.mark.parametrize("count", [1, 100])
@pytest.mark.parametrize("items", [1, 5, 100])
def test_order_samples_validate_at_the_limits(count: int, items: int) -> None:
    nos = samples.order_numbers(count)
    assert (
        validate(_root(samples.order_message(DEMO_EBC, DEMO_EBP, nos, items_per_order=items))) == []
    )


def test_other_codes_and_a_fixed_time_validate() -> None:
    at = datetime(2026, 12, 1, 8, 5, 9)
    data = samples.order_message(DEMO_EBC, DEMO_EBP, ORDERS, app_type="2", app_status="1", at=at)
    root = _root(data)
    assert validate(root) == []
    assert set(_texts(root, "//ceb:appTime")) == {"20261201080509"}
    assert set(_texts(root, "//ceb:appType")) == {"2"}
    assert set(_texts(root, "//ceb:appStatus")) == {"1"}


def test_waybills_accept_plain_pairs() -> None:
    pairs = [(no, DEMO_EBC) for no in samples.logistics_numbers(2)]
    assert validate(_root(samples.waybill_message(DEMO_LOGISTICS, pairs))) == []


@pytest.mark.parametrize("kind", MAKERS)
def test_generation_is_deterministic(kind: str) -> None:
    assert MAKERS[kind]() == MAKERS[kind]()


@pytest.mark.parametrize(
    "change", [{"seed": 1}, {"app_type": "2"}, {"app_status": "1"}], ids=lambda c: str(c)
)
def test_another_message_gets_another_guid(change: dict) -> None:
    base = _root(samples.order_message(DEMO_EBC, DEMO_EBP, ORDERS))
    other = _root(samples.order_message(DEMO_EBC, DEMO_EBP, ORDERS, **change))
    assert other.get("guid") != base.get("guid")


@pytest.mark.parametrize("kind", MAKERS)
def test_guids_are_fresh_upper_case_uuids(kind: str) -> None:
    root = _root(MAKERS[kind]())
    guids = [root.get("guid"), *_texts(root, "//ceb:guid")]
    assert len(guids) == 4 and len(set(guids)) == 4
    for guid in guids:
        assert guid == guid.upper() and len(guid) == 36
        assert uuid.UUID(guid).version == 4


@pytest.mark.parametrize("kind", MAKERS)
def test_envelope_follows_the_standard(kind: str) -> None:
    data = MAKERS[kind]()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ceb:')
    root = _root(data)
    assert root.get("version") == "1.0"
    sender = DEMO_LOGISTICS if kind == "CEB505Message" else DEMO_EBC
    transfer = root.find("ceb:BaseTransfer", NS)
    assert [child.text for child in transfer] == [
        sender.code,
        sender.name,
        "DXP",
        sender.dxp_id,
    ]
    assert all(re.fullmatch(r"2026\d{10}", t) for t in _texts(root, "//ceb:appTime"))


def test_order_amounts_add_up() -> None:
    root = _root(_order())
    for order in root.iterfind("ceb:Order", NS):
        total = Decimal(0)
        for line in order.iterfind("ceb:OrderList", NS):
            qty, price, line_total = (
                Decimal(line.findtext(f"ceb:{f}", namespaces=NS))
                for f in ("qty", "price", "totalPrice")
            )
            assert line_total == (qty * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            total += line_total
        assert Decimal(order.findtext("ceb:OrderHead/ceb:goodsValue", namespaces=NS)) == total
        gnums = _texts(order, "ceb:OrderList/ceb:gnum")
        assert gnums == [str(n) for n in range(1, len(gnums) + 1)]


def test_payments_charge_what_the_orders_cost() -> None:
    orders = _root(_order())
    payments = _root(_payment())
    for head in orders.iterfind("ceb:Order/ceb:OrderHead", NS):
        order_no = head.findtext("ceb:orderNo", namespaces=NS)
        paid = payments.xpath("ceb:Receipts[ceb:orderNo=$no]", namespaces=NS, no=order_no)[0]
        cost = Decimal(head.findtext("ceb:goodsValue", namespaces=NS)) + Decimal(
            head.findtext("ceb:freight", namespaces=NS)
        )
        assert Decimal(paid.findtext("ceb:charge", namespaces=NS)) == cost
        assert paid.findtext("ceb:ebcCode", namespaces=NS) == head.findtext(
            "ceb:ebcCode", namespaces=NS
        )
        assert paid.findtext("ceb:ebpCode", namespaces=NS) == head.findtext(
            "ceb:ebpCode", namespaces=NS
        )
        assert paid.findtext("ceb:payCode", namespaces=NS) == DEMO_PAYER.code
        assert paid.findtext("ceb:accountingDate", namespaces=NS) < paid.findtext(
            "ceb:appTime", namespaces=NS
        )


def test_order_amounts_helper_matches_the_message() -> None:
    amounts = samples.order_amounts(ORDERS[0], seed=0, items_per_order=2)
    head = _root(_order()).find("ceb:Order/ceb:OrderHead", NS)
    assert str(amounts.goods_value) == head.findtext("ceb:goodsValue", namespaces=NS)
    assert str(amounts.freight) == head.findtext("ceb:freight", namespaces=NS)
    assert amounts.charge == amounts.goods_value + amounts.freight
    assert samples.order_amounts(ORDERS[0], seed=1) != amounts


def test_waybill_follows_its_order() -> None:
    amounts = samples.order_amounts(ORDERS[0])
    logistics = _root(_waybill()).find("ceb:Logistics", NS)
    assert logistics.findtext("ceb:freight", namespaces=NS) == str(amounts.freight)
    assert logistics.findtext("ceb:goodsInfo", namespaces=NS) == ";".join(
        item.item_name for item in amounts.items
    )
    assert Decimal(logistics.findtext("ceb:grossWeight", namespaces=NS)) == amounts.gross_weight
    assert logistics.findtext("ceb:ebcCode", namespaces=NS) == DEMO_EBC.code


def test_data_looks_real() -> None:
    root = _root(_order())
    assert set(_texts(root, "//ceb:currency")) == {"142"} and "142" in CURRENCIES
    for code in (DEMO_EBC.code, DEMO_EBP.code, DEMO_PAYER.code, DEMO_LOGISTICS.code):
        assert re.fullmatch(r"\d{5}[0-9A-Z]{5}", code)
    for party in (DEMO_EBC, DEMO_EBP, DEMO_PAYER, DEMO_LOGISTICS):
        assert re.fullmatch(r"DXPENT\d{10}", party.dxp_id)
    for name in _texts(root, "//ceb:itemName"):
        assert re.search(r"[\u4e00-\u9fff]", name)
    for unit in _texts(root, "//ceb:unit"):
        assert re.fullmatch(r"\d{3}", unit)
    for bar_code in _texts(root, "//ceb:barCode"):
        digits = [int(d) for d in bar_code]
        assert len(digits) == 13 and bar_code.startswith("69")
        assert (sum(digits[0::2]) + 3 * sum(digits[1::2])) % 10 == 0


def test_numbers_have_the_usual_shapes() -> None:
    assert samples.order_numbers(2, start=9) == ["EO2026112200009", "EO2026112200010"]
    assert samples.logistics_numbers(1) == ["YT7300000000001"]
    assert all(len(no) <= 32 for no in samples.logistics_numbers(5, carrier="SF"))


def test_party_is_frozen() -> None:
    party = Party("3301960Z01", "杭州云织服饰有限公司", "DXPENT0000458763")
    with pytest.raises(AttributeError):
        party.code = "x"  # type: ignore[misc]
    assert party == DEMO_EBC


def test_three_orders_make_a_benchmark_sized_message() -> None:
    # Validation throughput is quoted for a ~5 KB CEB303: this message, keep it near that size.
    assert 4_000 < len(_order()) < 6_500
