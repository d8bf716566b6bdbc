"""Business checks beyond the XSD (gateway.core.checks with gateway.ecx.checks), each rule at
its boundary."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

import pytest

from gateway import xmlsafe
from gateway.core import checks
from gateway.core.checks import RULES, check_message
from gateway.errors import Violation
from schemas import loader

NS = "http://www.chinaport.gov.cn/ceb"
ROOT_GUID = "9F1C2B3A-4D5E-4F60-8A7B-1C2D3E4F5A6B"
RECORD_GUID = "0A1B2C3D-4E5F-4A6B-9C8D-7E6F5A4B3C2D"

BASE_TRANSFER = """
  <ceb:BaseTransfer>
    <ceb:copCode>3301960Z01</ceb:copCode>
    <ceb:copName>杭州示例跨境电商有限公司</ceb:copName>
    <ceb:dxpMode>{dxp_mode}</ceb:dxpMode>
    <ceb:dxpId>DXPENT0000458763</ceb:dxpId>
  </ceb:BaseTransfer>"""


def order_line(gnum: int = 1, qty: str = "2", price: str = "10.50", total: str = "21.00",
               currency: str = "142") -> str:  # fmt: skip
    return f"""
    <ceb:OrderList>
      <ceb:gnum>{gnum}</ceb:gnum>
      <ceb:itemNo>SKU-{gnum:04d}</ceb:itemNo>
      <ceb:itemName>保温杯</ceb:itemName>
      <ceb:unit>011</ceb:unit>
      <ceb:currency>{currency}</ceb:currency>
      <ceb:qty>{qty}</ceb:qty>
      <ceb:price>{price}</ceb:price>
      <ceb:totalPrice>{total}</ceb:totalPrice>
      <ceb:note></ceb:note>
    </ceb:OrderList>"""


def order(lines: list[str] | None = None, *, goods_value: str = "21.00", app_status: str = "2",
          app_time: str = "20260115103000", guid: str = RECORD_GUID, currency: str = "142",
          ebc_name: str = "杭州示例电商企业", order_type: str = "E", app_type: str = "1",
          freight: str = "0") -> str:  # fmt: skip
    body = "".join(lines if lines is not None else [order_line()])
    return f"""
  <ceb:Order>
    <ceb:OrderHead>
      <ceb:guid>{guid}</ceb:guid>
      <ceb:appType>{app_type}</ceb:appType>
      <ceb:appTime>{app_time}</ceb:appTime>
      <ceb:appStatus>{app_status}</ceb:appStatus>
      <ceb:orderType>{order_type}</ceb:orderType>
      <ceb:orderNo>ORD20260115001</ceb:orderNo>
      <ceb:ebpCode>3301960Z01</ceb:ebpCode>
      <ceb:ebpName>示例跨境平台</ceb:ebpName>
      <ceb:ebcCode>3301960Z01</ceb:ebcCode>
      <ceb:ebcName>{ebc_name}</ceb:ebcName>
      <ceb:goodsValue>{goods_value}</ceb:goodsValue>
      <ceb:freight>{freight}</ceb:freight>
      <ceb:currency>{currency}</ceb:currency>
    </ceb:OrderHead>{body}
  </ceb:Order>"""


def receipts(*, charge: str = "31.00", accounting_date: str = "20260115100000",
             app_status: str = "2", currency: str = "142") -> str:  # fmt: skip
    return f"""
  <ceb:Receipts>
    <ceb:guid>{RECORD_GUID}</ceb:guid>
    <ceb:appType>1</ceb:appType>
    <ceb:appTime>20260115103000</ceb:appTime>
    <ceb:appStatus>{app_status}</ceb:appStatus>
    <ceb:ebpCode>3301960Z01</ceb:ebpCode>
    <ceb:ebpName>示例跨境平台</ceb:ebpName>
    <ceb:ebcCode>3301960Z01</ceb:ebcCode>
    <ceb:ebcName>杭州示例电商企业</ceb:ebcName>
    <ceb:orderNo>ORD20260115001</ceb:orderNo>
    <ceb:payName>示例支付有限公司</ceb:payName>
    <ceb:charge>{charge}</ceb:charge>
    <ceb:currency>{currency}</ceb:currency>
    <ceb:accountingDate>{accounting_date}</ceb:accountingDate>
  </ceb:Receipts>"""


def logistics(*, freight: str = "12.00", insured_fee: str = "0", gross_weight: str = "1.25",
              pack_no: str = "1", currency: str = "142") -> str:  # fmt: skip
    return f"""
  <ceb:Logistics>
    <ceb:guid>{RECORD_GUID}</ceb:guid>
    <ceb:appType>1</ceb:appType>
    <ceb:appTime>20260115103000</ceb:appTime>
    <ceb:appStatus>2</ceb:appStatus>
    <ceb:logisticsCode>3301980Z03</ceb:logisticsCode>
    <ceb:logisticsName>示例国际物流有限公司</ceb:logisticsName>
    <ceb:logisticsNo>SF1234567890</ceb:logisticsNo>
    <ceb:freight>{freight}</ceb:freight>
    <ceb:insuredFee>{insured_fee}</ceb:insuredFee>
    <ceb:currency>{currency}</ceb:currency>
    <ceb:grossWeight>{gross_weight}</ceb:grossWeight>
    <ceb:packNo>{pack_no}</ceb:packNo>
    <ceb:goodsInfo>保温杯</ceb:goodsInfo>
  </ceb:Logistics>"""


def message(records: list[str], root: str = "CEB303Message", *, guid: str = ROOT_GUID,
            dxp_mode: str = "DXP", namespace: str = NS) -> str:  # fmt: skip
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ceb:{root} guid="{guid}" version="1.0" xmlns:ceb="{namespace}">'
        + "".join(records)
        + BASE_TRANSFER.format(dxp_mode=dxp_mode)
        + f"\n</ceb:{root}>\n"
    )


def check(xml: str) -> list[Violation]:
    return check_message(xmlsafe.parse(xml.encode()).getroot())


def rules(xml: str) -> list[str]:
    return [v.rule for v in check(xml)]


def line_of(xml: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing needle."""
    hits = [n for n, text in enumerate(xml.splitlines(), start=1) if needle in text]
    return hits[occurrence - 1]


# --- clean messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xml",
    [
        message([order()]),
        message([order([order_line(1), order_line(2, "3", "3.333", "10.00")], goods_value="31")]),
        message([receipts()], "CEB403Message"),
        message([logistics()], "CEB505Message"),
    ],
    ids=["order", "order-2-lines", "receipts", "logistics"],
)
def test_clean_messages_pass(xml: str) -> None:
    assert check(xml) == []


@pytest.mark.parametrize(
    "xml",
    [
        message([order([order_line(1), order_line(2, "3", "3.333", "10.00")], goods_value="31")]),
        message([receipts()] * 100, "CEB403Message"),
        message([logistics()], "CEB505Message"),
        message([order(app_time="20260230120000", currency="999", ebc_name="")]),
    ],
    ids=["order", "receipts", "logistics", "broken-but-schema-valid"],
)
def test_fixtures_are_schema_valid(xml: str) -> None:
    # check_message assumes XSD-valid input: the fixtures must be, even the broken ones.
    assert loader.validate(xmlsafe.parse(xml.encode())) == []


def test_other_message_types_are_left_to_the_xsd() -> None:
    # (CEB603 and the rest of the export set have tables now: tests/test_checks_ecx.py)
    assert check(message([order(currency="999")], "CEB999Message")) == []
    assert check(message([order(currency="999")], namespace="urn:other")) == []


# --- R-COM-2 empty mandatory ---------------------------------------------------------------------


def test_blank_mandatory_field() -> None:
    xml = message([order(ebc_name="  \n ")])
    (violation,) = check(xml)
    assert violation.rule == "R-COM-2"
    assert violation.field == "Order[1]/OrderHead/ebcName"
    assert violation.line == line_of(xml, "<ceb:ebcName>")
    assert "电商企业名称" in violation.message
    assert violation.value == "  \n "


def test_empty_optional_field_passes_and_empty_envelope_field_fails() -> None:
    assert check(message([order()])) == []  # OrderList/note is empty and optional
    xml = message([order()]).replace("DXPENT0000458763", "")
    (violation,) = check(xml)
    assert (violation.rule, violation.field) == ("R-COM-2", "BaseTransfer/dxpId")


def test_empty_field_is_not_also_a_code_error() -> None:
    assert rules(message([order(currency="")])) == ["R-COM-2"]


# --- R-COM-1.code --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (message([order(app_type="4")]), "Order[1]/OrderHead/appType"),
        (message([order(app_status="3")]), "Order[1]/OrderHead/appStatus"),
        (message([order(order_type="X")]), "Order[1]/OrderHead/orderType"),
        (message([order(currency="999")]), "Order[1]/OrderHead/currency"),
        (message([order([order_line(currency="USD")])]), "Order[1]/OrderList[1]/currency"),
        (message([receipts(currency="000")], "CEB403Message"), "Receipts[1]/currency"),
        (message([logistics(currency="14")], "CEB505Message"), "Logistics[1]/currency"),
        (message([order()], dxp_mode="FTP"), "BaseTransfer/dxpMode"),
    ],
)
def test_code_lists(xml: str, field: str) -> None:
    (violation,) = check(xml)
    assert (violation.rule, violation.field) == ("R-COM-1.code", field)


@pytest.mark.parametrize("currency", ["142", "502", "300", "110"])
def test_known_currencies_pass(currency: str) -> None:
    assert check(message([order([order_line(currency=currency)], currency=currency)])) == []


# --- R-COM-1.guid --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("guid", "ok"),
    [
        (ROOT_GUID, True),
        (ROOT_GUID.lower(), True),
        (ROOT_GUID[:-1], False),  # 35 characters
        (ROOT_GUID + "0", False),  # 37 characters
        ("G" + ROOT_GUID[1:], False),  # not hex
        (ROOT_GUID.replace("-", "0"), False),  # 36 hex digits, no dashes
        ("9F1C2B3A4-D5E-4F60-8A7B-1C2D3E4F5A6B", False),  # dashes misplaced
    ],
)
def test_guid_form(guid: str, ok: bool) -> None:
    root = check(message([order()], guid=guid))
    record = check(message([order(guid=guid)]))
    assert [v.field for v in root] == ([] if ok else ["CEB303Message/@guid"])
    assert [v.field for v in record] == ([] if ok else ["Order[1]/OrderHead/guid"])
    assert {v.rule for v in root + record} <= {"R-COM-1.guid"}


# --- R-COM-1.time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_time", "ok"),
    [
        ("20260115103000", True),
        ("20240229235959", True),  # leap day
        ("20260230120000", False),  # 30 February
        ("20250229120000", False),  # not a leap year
        ("20261301120000", False),
        ("20260115240000", False),
        ("20260115235960", False),
        ("2026011510300", False),  # 13 digits
        ("2026-01-15 10:", False),
        ("２０２６０１１５１０３０００", False),  # full-width digits are not digits here
    ],
)
def test_app_time(app_time: str, ok: bool) -> None:
    assert rules(message([order(app_time=app_time)])) == ([] if ok else ["R-COM-1.time"])


def test_accounting_date() -> None:
    xml = message([receipts(accounting_date="20260230120000")], "CEB403Message")
    (violation,) = check(xml)
    assert (violation.rule, violation.field) == ("R-COM-1.time", "Receipts[1]/accountingDate")


# --- R-COM-1.count -------------------------------------------------------------------------------


def test_one_hundred_records_pass_and_one_hundred_and_one_fail() -> None:
    assert check(message([receipts()] * 100, "CEB403Message")) == []
    xml = message([receipts()] * 101, "CEB403Message")
    (violation,) = check(xml)
    assert (violation.rule, violation.field, violation.value) == (
        "R-COM-1.count", "CEB403Message/Receipts", "101",
    )  # fmt: skip
    assert violation.line == 2


def test_no_record_fails() -> None:
    assert rules(message([], "CEB505Message")) == ["R-COM-1.count"]


def test_order_lines_are_counted_too() -> None:
    lines = [order_line(n, "1", "1", "1") for n in range(1, 102)]
    xml = message([order(lines[:100], goods_value="100")])
    assert check(xml) == []
    (violation,) = check(message([order(lines, goods_value="101")]))
    assert (violation.rule, violation.field) == ("R-COM-1.count", "Order[1]/OrderList")


# --- R-COM-2.mixed -------------------------------------------------------------------------------


def test_mixed_app_status() -> None:
    xml = message([order(), order(app_status="1"), order()])
    (violation,) = check(xml)
    assert violation.rule == "R-COM-2.mixed"
    assert violation.field == "Order[2]/OrderHead/appStatus"
    assert violation.line == line_of(xml, "<ceb:appStatus>1<")
    assert violation.value == "1"


def test_same_app_status_passes() -> None:
    assert check(message([receipts(app_status="1")] * 3, "CEB403Message")) == []


# --- R-ECX-1.sum / .line / .gnum -----------------------------------------------------------------

TWO_LINES = [order_line(1, "2", "10.50", "21.00"), order_line(2, "1", "9.99", "9.99")]


@pytest.mark.parametrize(
    ("goods_value", "ok"),
    [("30.99", True), ("30.990", True), ("30.99000", True), ("31.00", False), ("30.98", False)],
)
def test_goods_value_equals_sum_of_lines(goods_value: str, ok: bool) -> None:
    xml = message([order(TWO_LINES, goods_value=goods_value)])
    found = check(xml)
    assert [v.rule for v in found] == ([] if ok else ["R-ECX-1.sum"])
    if not ok:
        assert found[0].field == "Order[1]/OrderHead/goodsValue"
        assert "30.99" in found[0].message


@pytest.mark.parametrize(
    ("qty", "price", "total", "ok"),
    [
        ("3", "3.333", "10.00", True),  # 9.999 rounds to 10.00
        ("3", "3.333", "9.99", False),
        ("1", "0.125", "0.13", True),  # half-up, not banker's rounding
        ("1", "0.125", "0.12", False),
        ("2", "10.50", "21.01", False),
        ("0.5", "0.01", "0.01", True),  # 0.005 rounds up
    ],
)
def test_line_total_is_qty_times_price(qty: str, price: str, total: str, ok: bool) -> None:
    xml = message([order([order_line(1, qty, price, total)], goods_value=total)])
    assert rules(xml) == ([] if ok else ["R-ECX-1.line"])


@pytest.mark.parametrize(("qty", "price"), [("1", "1.005"), ("999999.99999", "99999999.99999")])
def test_line_total_uses_exact_decimal_arithmetic(qty: str, price: str) -> None:
    # A float check gets the first wrong (1.005 is stored as 1.00499… and rounds to 1.00);
    # the second is a 14-digit amount, at the edge of N19,5, where floats lose the cents.
    exact = Context(prec=80).multiply(Decimal(qty), Decimal(price))
    cents = exact.quantize(Decimal("0.01"), ROUND_HALF_UP, Context(prec=80))
    for total, ok in [
        (cents, True),
        (cents - Decimal("0.01"), False),
        (cents + Decimal("0.01"), False),
    ]:
        xml = message([order([order_line(1, qty, price, str(total))], goods_value=str(total))])
        assert rules(xml) == ([] if ok else ["R-ECX-1.line"])


@pytest.mark.parametrize(
    ("numbers", "flagged"),
    [
        ([1, 2, 3], []),
        ([1, 2, 4, 5], [4]),  # one gap is reported once
        ([1, 1, 2], [1]),
        ([2, 3], [2]),
        ([1, 3, 2], [3, 2]),
    ],
)
def test_gnum_runs_without_gaps_or_repeats(numbers: list[int], flagged: list[int]) -> None:
    lines = [order_line(n, "1", "1.00", "1.00") for n in numbers]
    found = check(message([order(lines, goods_value=str(len(numbers)))]))
    assert [v.rule for v in found] == ["R-ECX-1.gnum"] * len(flagged)
    assert [int(v.value or 0) for v in found] == flagged


# --- R-ECX-1.amount ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "ok"),
    [
        (message([receipts(charge="0.01")], "CEB403Message"), True),
        (message([receipts(charge="0")], "CEB403Message"), False),
        (message([receipts(charge="-5")], "CEB403Message"), False),
        (message([logistics(gross_weight="0.001")], "CEB505Message"), True),
        (message([logistics(gross_weight="0")], "CEB505Message"), False),
        (message([logistics(pack_no="1")], "CEB505Message"), True),
        (message([logistics(pack_no="0")], "CEB505Message"), False),
        (message([logistics(freight="0", insured_fee="0")], "CEB505Message"), True),
        (message([logistics(freight="-0.01")], "CEB505Message"), False),
        (message([logistics(insured_fee="-1")], "CEB505Message"), False),
        (message([order(freight="-1")]), False),
    ],
)
def test_amount_limits(xml: str, ok: bool) -> None:
    assert rules(xml) == ([] if ok else ["R-ECX-1.amount"])


# --- several at once -----------------------------------------------------------------------------


def test_every_violation_is_reported_in_document_order_with_lines() -> None:
    lines = [order_line(1), order_line(2, "1", "5.00", "5.01", currency="999")]
    xml = message(
        [order(), order(lines, goods_value="26.00", ebc_name="", app_time="20260230120000")],
        guid="not-a-guid",
    )
    found = check(xml)
    expected = [
        ("R-COM-1.guid", "CEB303Message/@guid", 2),
        ("R-COM-1.time", "Order[2]/OrderHead/appTime", line_of(xml, "20260230120000")),
        ("R-COM-2", "Order[2]/OrderHead/ebcName", line_of(xml, "<ceb:ebcName></")),
        ("R-ECX-1.sum", "Order[2]/OrderHead/goodsValue", line_of(xml, ">26.00<")),
        ("R-COM-1.code", "Order[2]/OrderList[2]/currency", line_of(xml, ">999<")),
        ("R-ECX-1.line", "Order[2]/OrderList[2]/totalPrice", line_of(xml, ">5.01<")),
    ]
    assert [(v.rule, v.field, v.line) for v in found] == expected
    assert all(v.line and v.line > 1 for v in found)
    assert "line" in str(found[-1]) and "R-ECX-1.line" in str(found[-1])


# --- the rule table ------------------------------------------------------------------------------


def test_rules_table_lists_every_rule_once_per_line() -> None:
    ids = {
        "R-COM-1", "R-COM-1.code", "R-COM-1.guid", "R-COM-1.time", "R-COM-1.count", "R-COM-2",
        "R-COM-2.mixed", "R-ECX-1.sum", "R-ECX-1.line", "R-ECX-1.gnum", "R-ECX-1.amount",
    }  # fmt: skip
    from gateway.ecx import checks as checks_ecx

    assert set(RULES) == ids | set(checks_ecx.RULES)
    assert all(text and "\n" not in text for text in RULES.values())


def test_rule_ids_used_are_in_the_table() -> None:
    used = {rule for rule, _ in checks.VALUE_RULES.values()}
    used |= {rule for rule, _ in checks.BOUNDS.values()}
    assert used <= set(RULES)
