"""Business checks and document kinds of the rest of the export set (gateway/ecx/checks.py,
gateway/ecx/kinds_full.py): every rule with its id, and receipts that find their record."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from gateway.core import checks, kinds, registry
from gateway.core.status import MODIFIABLE, Status
from gateway.ecx import kinds_full as ecx_full
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.ecx.status import EcxStatus
from gateway.xmlsafe import parse
from receipts.build import build_receipt
from receipts.parse import RECEIPT_KINDS, parse_receipt
from schemas import validate
from tests.test_schemas import _edit, _first, _remove, _repeat, _set

ORDERS = samples.order_numbers(2, start=51)
LOGISTICS = samples.logistics_numbers(2, start=51)
INVT_NOS = ecx.inventory_numbers(2, start=51)
PARCELS = [ecx.Parcel(o, n) for o, n in zip(ORDERS, LOGISTICS, strict=True)]
DECLARED = [
    ecx.Parcel(o, n, invt_no=i) for o, n, i in zip(ORDERS, LOGISTICS, INVT_NOS, strict=True)
]

MESSAGES: dict[str, Callable[[], bytes]] = {
    "arrival": lambda: ecx.arrival_message(ecx.DEMO_OPERATOR, LOGISTICS, ecx.Batch("AR51", 2, 1)),
    "departure": lambda: ecx.departure_message(
        samples.DEMO_LOGISTICS, LOGISTICS, ecx.Batch("DP51")
    ),
    "inventory": lambda: ecx.inventory_message(samples.DEMO_EBC, PARCELS),
    "invt_cancel": lambda: ecx.invt_cancel_message(ecx.DEMO_AGENT, DECLARED),
    "waybill_total": lambda: ecx.waybill_list_message(ecx.DEMO_AGENT, DECLARED, ecx.Batch("WB51")),
    "refund": lambda: ecx.refund_message(ecx.DEMO_AGENT, DECLARED),
    "refund_tally": lambda: ecx.refund_detail_message(ecx.DEMO_OPERATOR, DECLARED),
    "summary": lambda: ecx.summary_message(ecx.DEMO_AGENT, INVT_NOS, ecx.Batch("SA51")),
}


def _violations(data: bytes) -> list:
    root = parse(data).getroot()
    assert validate(root) == []  # the business rules, not the XSD, must catch these
    return checks.check_message(root)


def _rules(data: bytes) -> list[str]:
    return [v.rule for v in _violations(data)]


@pytest.mark.parametrize("name", MESSAGES)
def test_samples_pass_the_business_checks(name: str) -> None:
    assert _violations(MESSAGES[name]()) == []


# --- R-COM-2 and code lists ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("arrival", "domesticTrafNo"),
        ("departure", "copNo"),
        ("inventory", "orderNo"),
        ("inventory", "gname"),
        ("invt_cancel", "reason"),
        ("waybill_total", "billNo"),
        ("refund", "coElNo"),
        ("refund_tally", "operatorName"),
        ("summary", "declAgentCode"),
    ],
)
def test_empty_mandatory_fields_are_refused(name: str, field: str) -> None:
    [violation] = _violations(_edit(MESSAGES[name](), _set(field, "")))
    assert violation.rule == "R-COM-2" and violation.field.endswith(field)
    assert "必填项为空" in violation.message


def test_empty_optional_fields_are_fine() -> None:
    assert _violations(_edit(MESSAGES["arrival"](), _set("billNo", ""))) == []


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("inventory", "statisticsFlag", "C"),
        ("inventory", "tradeMode", "0110"),
        ("inventory", "ieFlag", "I"),
        ("arrival", "ieFlag", "I"),
        ("refund", "ieFlag", "E"),
        ("refund_tally", "ieFlag", "E"),
        ("refund", "tradeMode", "9611"),
        ("inventory", "fCurrency", "999"),
        ("inventory", "currency", "999"),
        ("inventory", "appType", "4"),
        ("summary", "summaryFlag", "3"),
    ],
)
def test_code_lists(name: str, field: str, value: str) -> None:
    [violation] = _violations(_edit(MESSAGES[name](), _set(field, value)))
    assert violation.rule == "R-COM-1.code" and violation.value == value


@pytest.mark.parametrize("mode", ["9610", "1210", "9710", "9810"])
def test_every_export_trade_mode_is_accepted(mode: str) -> None:
    assert _violations(_edit(MESSAGES["inventory"](), _set("tradeMode", mode))) == []


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("inventory", "ieDate", "20261131"),
        ("departure", "leaveTime", "20261122256000"),
        ("inventory", "appTime", "2026112210300X"),
    ],
)
def test_dates_and_times(name: str, field: str, value: str) -> None:
    assert _rules(_edit(MESSAGES[name](), _set(field, value))) == ["R-COM-1.time"]


# --- HS codes, batches, lines ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["inventory", "refund"])
def test_gcode_is_a_10_digit_hs_code(name: str) -> None:
    [violation] = _violations(_edit(MESSAGES[name](), _set("gcode", "61101100AB")))
    assert violation.rule == "R-ECX-2.gcode" and "10" in violation.message


@pytest.mark.parametrize(("count", "seq", "ok"), [(2, 2, True), (2, 3, False), (2, 0, False),
                                                  (1, 1, True), (0, 0, False)])  # fmt: skip
@pytest.mark.parametrize("name", ["arrival", "departure", "waybill_total", "summary"])
def test_msg_seq_no_within_msg_count(name: str, count: int, seq: int, ok: bool) -> None:
    def numbers(root: etree._Element) -> None:
        _first(root, "msgCount").text = str(count)
        _first(root, "msgSeqNo").text = str(seq)

    rules = _rules(_edit(MESSAGES[name](), numbers))
    assert rules == ([] if ok else ["R-ECX-3.seq"])


def test_inventory_total_price_to_the_cent() -> None:
    data = MESSAGES["inventory"]()
    root = parse(data).getroot()
    price = _first(root, "price").text
    qty = _first(root, "qty").text
    from decimal import Decimal

    total = Decimal(qty or "0") * Decimal(price or "0")
    assert _rules(_edit(data, _set("totalPrice", str(total + Decimal("0.01"))))) == ["R-ECX-1.line"]
    # qty × price rounded half-up to the cent is fine
    exact = _edit(data, lambda r: (_set("price", "33.335")(r), _set("qty", "1")(r)))
    assert _rules(_edit(exact, _set("totalPrice", "33.34"))) == []


def test_inventory_line_numbers_run_without_gaps() -> None:
    assert set(_rules(_edit(MESSAGES["inventory"](), _set("gnum", "3")))) == {"R-ECX-1.gnum"}


def test_net_weight_not_over_gross_weight() -> None:
    assert _rules(_edit(MESSAGES["inventory"](), _set("netWeight", "99"))) == ["R-ECX-2.weight"]


@pytest.mark.parametrize(("field", "value"), [("grossWeight", "0"), ("qty", "0"), ("packNo", "0")])
def test_inventory_amounts(field: str, value: str) -> None:
    assert "R-ECX-1.amount" in _rules(_edit(MESSAGES["inventory"](), _set(field, value)))


def test_a_parcel_appears_once_per_arrival() -> None:
    def twice(root: etree._Element) -> None:
        lines = root.xpath("//*[local-name()='ArrivalList']/*[local-name()='logisticsNo']")
        lines[1].text = lines[0].text

    [violation] = _violations(_edit(MESSAGES["arrival"](), twice))
    assert violation.rule == "R-ECX-3.duplicate" and violation.value == LOGISTICS[0]


def test_arrival_may_have_no_list_and_long_lists_are_fine() -> None:
    def drop(root: etree._Element) -> None:
        for line in root.xpath("//*[local-name()='ArrivalList']"):
            line.getparent().remove(line)

    assert _violations(_edit(MESSAGES["arrival"](), drop)) == []
    many = ecx.arrival_message(ecx.DEMO_OPERATOR, samples.logistics_numbers(1500), ecx.Batch("X"))
    assert _violations(many) == []


def test_inventory_lines_are_limited_to_100() -> None:
    data = _edit(MESSAGES["inventory"](), _remove("InventoryList"))
    assert validate(parse(_edit(data, _repeat("InventoryList", 101))))  # the XSD's limit


def test_summary_needs_a_period_or_lists() -> None:
    def no_lists(root: etree._Element) -> None:
        for line in root.xpath("//*[local-name()='SummaryApplyList']"):
            line.getparent().remove(line)

    bare = _edit(MESSAGES["summary"](), no_lists)
    assert _rules(bare) == ["R-COM-1.count"]
    from datetime import datetime

    period = (datetime(2026, 10, 1), datetime(2026, 10, 31, 23, 59, 59))
    with_period = ecx.summary_message(ecx.DEMO_AGENT, [], ecx.Batch("SA52"), period=period)
    assert _violations(with_period) == []
    assert _rules(_edit(with_period, _remove("endTime"))) == ["R-ECX-8.period"]
    backwards = _edit(with_period, _set("endTime", "20260930000000"))
    assert _rules(backwards) == ["R-ECX-8.period"]


def test_every_rule_is_described() -> None:
    for rule in ("R-ECX-2.gcode", "R-ECX-3.seq", "R-ECX-3.duplicate", "R-ECX-2.weight",
                 "R-ECX-8.period"):  # fmt: skip
        assert rule in checks.RULES


# --- kinds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ecx_full.KINDS, ids=lambda k: k.name)
def test_kind_is_registered_and_matches_its_receipt(kind: kinds.DocumentKind) -> None:
    assert registry.for_message(kind.message_type) is kind
    assert registry.for_receipt_entity(kind.receipt_entity) is kind
    receipt = RECEIPT_KINDS[kind.receipt_type]
    assert receipt.entity == kind.receipt_entity
    assert receipt.correlation == kind.receipt_key_fields == kind.key_fields
    returned = {"returnStatus", "returnTime", "returnInfo"}
    assert set(kind.receipt_echo_fields) == set(receipt.fields) - returned
    assert set(kind.customs_number_fields) >= set(receipt.assigned)


@pytest.mark.parametrize("kind", ecx_full.KINDS, ids=lambda k: k.name)
def test_a_receipt_built_from_a_record_finds_it_again(kind: kinds.DocumentKind) -> None:
    root = parse(MESSAGES[kind.name]()).getroot()
    records = list(kind.records(root))
    assert records and all(all(r.business_key) for r in records)
    assert len({r.business_key for r in records}) == len(records)
    entities = [
        {**{f: r.fields.get(f, "") for f in kind.receipt_echo_fields}, "returnStatus": "120",
         "returnInfo": "[Code:1800;Desc:逻辑校验通过]"}
        for r in records
    ]  # fmt: skip
    parsed = parse_receipt(build_receipt(kind.receipt_type, entities))
    assert [e.correlation_key() for e in parsed.entities] == [r.business_key for r in records]


def test_signatures_and_final_states_per_the_catalogue() -> None:
    required = {k.name for k in ecx_full.KINDS if k.signature_required}
    assert required == {"arrival", "departure", "inventory", "invt_cancel", "waybill_total",
                        "summary"}  # fmt: skip
    # R-ECX-5: closed (899) is followed by finalised (结案); a revoked list is final for
    # receipts but may be modified and sent again (R-COM-5 plus REVOKED)
    assert ecx_full.INVENTORY.final_states == {EcxStatus.FINALISED, EcxStatus.REVOKED}
    assert not ecx_full.INVENTORY.is_final(Status.STORED)
    assert not ecx_full.INVENTORY.is_final(Status.CLOSED)
    assert ecx_full.INVENTORY.modifiable_states == MODIFIABLE | {EcxStatus.REVOKED}
    assert ecx_full.ARRIVAL.is_final(Status.STORED)
    assert ecx_full.INVENTORY.customs_number_fields == ("preNo", "invtNo")
    assert ecx_full.SUMMARY.customs_number_fields == ("preNo", "sumNo")


def test_simulated_customs_numbers_are_stable_and_keep_the_records_own() -> None:
    from gateway.ecx.sim import numbers as ecx_numbers

    def first(kind: kinds.DocumentKind, data: bytes) -> kinds.Record:
        return next(kind.records(parse(data).getroot()))

    inventory = first(ecx_full.INVENTORY, MESSAGES["inventory"]())
    made = ecx_numbers.numbers(ecx_full.INVENTORY, inventory)
    assert len(made["preNo"]) == 18 and made["preNo"].startswith("29912026")
    assert len(made["invtNo"]) == 18 and made["invtNo"].startswith("29912026E")
    modified = ecx.inventory_message(samples.DEMO_EBC, PARCELS, app_type="2", seed=3)
    assert ecx_numbers.numbers(ecx_full.INVENTORY, first(ecx_full.INVENTORY, modified)) == made
    cancel = first(ecx_full.INVT_CANCEL, MESSAGES["invt_cancel"]())
    assert set(ecx_numbers.numbers(ecx_full.INVT_CANCEL, cancel)) == {"preNo"}
    assert ecx_numbers.with_numbers(ecx_full.INVT_CANCEL, cancel).fields["invtNo"] == INVT_NOS[0]
    summary = first(ecx_full.SUMMARY, MESSAGES["summary"]())
    assert set(ecx_numbers.numbers(ecx_full.SUMMARY, summary)) == {"preNo", "sumNo"}
