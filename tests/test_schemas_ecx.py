"""The XSDs of the rest of the export catalogue follow ceb-messages.md: arrival, departure,
inventory, revoke, total/sub waybill, return, tally, summary application and result, and
their receipts. Per message type: a message shaped as in the tables passes; a missing
mandatory element, a value over its length, elements out of order and one record too many
fail (R-COM-1) — through `schemas.validate` and through `customs-gateway validate
--schema-only`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from gateway.codes import CEB_NS
from gateway.core.cli import main
from gateway.ecx import samples_lists as ecx
from gateway.ecx.samples import DEMO_EBC, DEMO_LOGISTICS, logistics_numbers, order_numbers
from receipts.build import build_receipt
from schemas import known_message_types
from tests.test_schemas import (
    SIGNATURE,
    _edit,
    _errors,
    _first,
    _insert_after,
    _remove,
    _repeat,
    _set,
    _swap,
)

ORDERS = order_numbers(3, start=401)
LOGISTICS = logistics_numbers(3, start=401)
INVT_NOS = ecx.inventory_numbers(3, start=401)
PARCELS = [ecx.Parcel(o, n, invt_no=i) for o, n, i in zip(ORDERS, LOGISTICS, INVT_NOS, strict=True)]
NEW_PARCELS = [ecx.Parcel(o, n) for o, n in zip(ORDERS, LOGISTICS, strict=True)]
PRE_NO = "299120261000000401"
RET = {"returnStatus": "120", "returnTime": "20261122103015123",
       "returnInfo": "[Code:1800;Desc:逻辑校验通过]"}  # fmt: skip

# One message per business type, from the sample generators (shaped as in the tables).
BUSINESS: dict[str, Callable[[], bytes]] = {
    "CEB507Message": lambda: ecx.arrival_message(
        ecx.DEMO_OPERATOR, LOGISTICS, ecx.Batch("AR2026112200401")
    ),
    "CEB509Message": lambda: ecx.departure_message(
        DEMO_LOGISTICS, LOGISTICS, ecx.Batch("DP2026112200401")
    ),
    "CEB603Message": lambda: ecx.inventory_message(DEMO_EBC, NEW_PARCELS),
    "CEB605Message": lambda: ecx.invt_cancel_message(ecx.DEMO_AGENT, PARCELS[:2]),
    "CEB607Message": lambda: ecx.waybill_list_message(
        ecx.DEMO_AGENT, PARCELS, ecx.Batch("WB2026112200401")
    ),
    "CEB213Message": lambda: ecx.refund_message(ecx.DEMO_AGENT, PARCELS[:2]),
    "CEB215Message": lambda: ecx.refund_detail_message(ecx.DEMO_OPERATOR, PARCELS[:2]),
    "CEB701Message": lambda: ecx.summary_message(
        ecx.DEMO_AGENT, INVT_NOS, ecx.Batch("SA2026110001")
    ),
    "CEB792Message": lambda: ecx.summary_result_message(
        "299120261100000401", "299120261000000401", list(ecx.result_lines(PARCELS))
    ),
}

# Receipt entities with every field of the Receipts table, in the table's order.
RECEIPTS: dict[str, dict[str, str]] = {
    "CEB508Message": {"operatorCode": ecx.DEMO_OPERATOR.code, "logisticsCode": DEMO_LOGISTICS.code,
                      "preNo": PRE_NO, "copNo": "AR2026112200401", "billNo": "784-20261122",
                      "msgSeqNo": "1"},
    "CEB510Message": {"logisticsCode": DEMO_LOGISTICS.code, "copNo": "DP2026112200401",
                      "preNo": PRE_NO, "msgSeqNo": "1"},
    "CEB604Message": {"agentCode": DEMO_EBC.code, "copNo": "CIEO2026112200401", "preNo": PRE_NO,
                      "invtNo": INVT_NOS[0], "ebcCode": DEMO_EBC.code, "ebpCode": "3301964J31",
                      "orderNo": ORDERS[0], "statisticsFlag": "B"},
    "CEB606Message": {"agentCode": ecx.DEMO_AGENT.code, "copNo": "CXEO2026112200401",
                      "preNo": PRE_NO, "invtNo": INVT_NOS[0]},
    "CEB608Message": {"agentCode": ecx.DEMO_AGENT.code, "logisticsCode": DEMO_LOGISTICS.code,
                      "copNo": "WB2026112200401", "preNo": PRE_NO, "billNo": "784-20261122",
                      "msgSeqNo": "1"},
    "CEB214Message": {"ebpCode": "3301964J31", "ebcCode": DEMO_EBC.code,
                      "agentCode": ecx.DEMO_AGENT.code, "coElNo": "RTEO2026112200401",
                      "preNo": PRE_NO, "invtNo": INVT_NOS[0]},
    "CEB216Message": {"operatorCode": ecx.DEMO_OPERATOR.code,
                      "logisticsCode": DEMO_LOGISTICS.code, "logisticsNo": LOGISTICS[0],
                      "coElNo": "TLEO2026112200401", "preNo": PRE_NO},
    "CEB702Message": {"agentCode": ecx.DEMO_AGENT.code, "ebcCode": DEMO_EBC.code,
                      "copNo": "SA2026110001", "preNo": PRE_NO, "sumNo": "299120261100000401",
                      "msgSeqNo": "1"},
}  # fmt: skip


def _valid(kind: str) -> bytes:
    if kind in BUSINESS:
        return BUSINESS[kind]()
    guid = "7C1D2E3F-4A5B-4C6D-8E7F-9A0B1C2D3E4F"
    return build_receipt(kind, [{"guid": guid, **RECEIPTS[kind], **RET}])


@dataclass(frozen=True)
class Case:
    kind: str
    mandatory: str  # an element that must be there
    bounded: tuple[str, int]  # an element and its maximum length
    swapped: str  # an element that must come before its next sibling
    record: str  # the repeated business record / receipt entity
    limit: int = 100


CASES = [
    Case("CEB507Message", "domesticTrafNo", ("copNo", 30), "operatorCode", "Arrival"),
    Case("CEB509Message", "leaveTime", ("voyageNo", 32), "trafMode", "Departure"),
    Case("CEB603Message", "gcode", ("logisticsNo", 32), "portCode", "Inventory"),
    Case("CEB605Message", "reason", ("invtNo", 20), "agentCode", "InvtCancel"),
    Case("CEB607Message", "billNo", ("totalPackageNo", 60), "voyageNo", "WayBill"),
    Case("CEB213Message", "coElNo", ("reason", 500), "ebpCode", "InvtRefund"),
    Case("CEB215Message", "operatorName", ("coElNo", 20), "billNo", "InvtRefundDetail"),
    Case("CEB701Message", "summaryFlag", ("declAgentCode", 18), "ebcCode", "SummaryApply"),
    Case("CEB792Message", "declSeqNo", ("declAgentName", 100), "opDate", "SummaryResult"),
    Case("CEB508Message", "billNo", ("copNo", 30), "operatorCode", "ArrivalReturn"),
    Case("CEB510Message", "preNo", ("copNo", 30), "logisticsCode", "DepartureReturn"),
    Case("CEB604Message", "statisticsFlag", ("orderNo", 60), "invtNo", "InventoryReturn"),
    Case("CEB606Message", "invtNo", ("invtNo", 20), "copNo", "InvtCancelReturn"),
    Case("CEB608Message", "msgSeqNo", ("billNo", 37), "agentCode", "WayBillReturn"),
    Case("CEB214Message", "coElNo", ("coElNo", 30), "agentCode", "RefundReturn"),
    Case(
        "CEB216Message",
        "logisticsNo",
        ("logisticsNo", 80),
        "operatorCode",
        "InvtRefundDetailReturn",
    ),
    # sumNo is exact (C18) here, not bounded: test_schemas_official.py pins it
    Case("CEB702Message", "msgSeqNo", ("copNo", 30), "copNo", "SummaryReturn"),
]
IDS = [c.kind for c in CASES]


def test_every_message_of_the_catalogue_has_a_schema() -> None:
    catalogue = {
        f"CEB{n}Message" for n in (303, 403, 505, 507, 509, 603, 605, 607, 213, 215, 701, 792, 900)
    }
    receipts = {f"CEB{n}Message" for n in (304, 404, 506, 508, 510, 604, 606, 608, 214, 216, 702)}
    assert catalogue | receipts <= known_message_types()
    assert set(IDS) == (catalogue | receipts) - {
        f"CEB{n}Message" for n in (303, 304, 403, 404, 505, 506, 900)
    }


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_valid_message_passes(case: Case) -> None:
    assert _errors(_valid(case.kind)) == []
    assert _errors(_valid(case.kind), case.kind) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_missing_mandatory_element_fails(case: Case) -> None:
    errors = _errors(_edit(_valid(case.kind), _remove(case.mandatory)))
    assert len(errors) == 1
    assert errors[0].rule == "R-COM-1"
    assert "Expected is" in errors[0].message and case.mandatory in errors[0].message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_over_its_length_fails(case: Case) -> None:
    name, limit = case.bounded
    assert _errors(_edit(_valid(case.kind), _set(name, "9" * limit))) == []
    errors = _errors(_edit(_valid(case.kind), _set(name, "9" * (limit + 1))))
    assert len(errors) == 1
    assert errors[0].field.endswith(f":{name}")
    assert "maxLength" in errors[0].message and f"'{limit}'" in errors[0].message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_elements_out_of_order_fail(case: Case) -> None:
    errors = _errors(_edit(_valid(case.kind), _swap(case.swapped)))
    assert errors and "not expected" in errors[0].message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_record_too_many_fails(case: Case) -> None:
    assert _errors(_edit(_valid(case.kind), _repeat(case.record, case.limit))) == []
    errors = _errors(_edit(_valid(case.kind), _repeat(case.record, case.limit + 1)))
    assert len(errors) == 1
    assert errors[0].field.endswith(f":{case.record}[{case.limit + 1}]")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_record_guid_must_have_36_chars(case: Case) -> None:
    errors = _errors(_edit(_valid(case.kind), _set("guid", "A" * 37)))
    assert len(errors) == 1 and errors[0].field.endswith(":guid")


# --- lists inside a record: the catalogue's bounds -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "lines", "least", "most"),
    [
        ("CEB507Message", "ArrivalList", 0, None),  # 0..n
        ("CEB509Message", "DepartureList", 1, None),  # 1..n
        ("CEB603Message", "InventoryList", 1, 100),  # 1..100
        ("CEB607Message", "WayBillList", 1, None),  # 1..n
        ("CEB213Message", "InvtRefundList", 1, 100),  # 1..100
        ("CEB701Message", "SummaryApplyList", 0, None),  # 0..n
        ("CEB792Message", "SummaryResultList", 0, None),  # 0..n
    ],
)
def test_lists_have_the_catalogue_bounds(
    kind: str, lines: str, least: int, most: int | None
) -> None:
    def only_first_record(root: etree._Element) -> None:
        first = _first(root, lines).getparent()
        for other in list(first.itersiblings(first.tag)):
            root.remove(other)

    def drop_all(root: etree._Element) -> None:
        for line in root.xpath(f"//*[local-name()='{lines}']"):
            line.getparent().remove(line)

    one_record = _edit(_valid(kind), only_first_record)
    none = _errors(_edit(one_record, drop_all))
    assert (none == []) is (least == 0)
    if least:
        assert "Missing child" in none[0].message or "Expected is" in none[0].message
    many = most + 1 if most else 1000
    errors = _errors(_edit(one_record, _repeat(lines, many)))
    assert (errors == []) is (most is None)
    if most:
        assert errors[0].field.endswith(f":{lines}[{most + 1}]")


# --- types the tables give -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field", "value", "ok"),
    [
        ("CEB603Message", "gcode", "611011000", False),  # C10: exactly 10
        ("CEB603Message", "gcode", "61101100001", False),
        ("CEB603Message", "POD", "50", False),  # C3..4
        ("CEB603Message", "POD", "USLA", True),
        ("CEB603Message", "POD", "USLAX", False),
        ("CEB603Message", "ieDate", "2026112", False),  # C8
        ("CEB603Message", "packNo", "1234567890", False),  # int(9)
        ("CEB603Message", "netWeight", "1.123456", False),  # N19,5
        ("CEB603Message", "unit2", "", True),  # C..3 (may be empty)
        ("CEB507Message", "msgSeqNo", "1.5", False),  # int(9)
        ("CEB509Message", "leaveTime", "202611221030", False),  # C14
        ("CEB213Message", "gnum", "10000", False),  # int(4) here
        ("CEB213Message", "logisticsNo", "Y" * 80, True),  # C..80 here
        ("CEB215Message", "note", "备" * 250, True),  # C..250 here
        ("CEB215Message", "note", "备" * 251, False),
        ("CEB792Message", "sumNo", "29912026110000040", False),  # C18 in the result
        ("CEB792Message", "decState", "1234", False),  # C1..3
        ("CEB792Message", "decState", "", False),
        ("CEB792Message", "opDate", "20261122103015123", True),  # C17
        ("CEB508Message", "preNo", "29912026100000040", False),  # C18
        ("CEB604Message", "statisticsFlag", "AB", False),  # C1
    ],
)
def test_field_types(kind: str, field: str, value: str, ok: bool) -> None:
    data = _valid(kind)
    if field in ("unit2", "note") and b":" + field.encode() not in data:
        anchor = {"unit2": "unit1", "note": "location"}[field]
        data = _edit(
            data, _insert_after(anchor, f'<ceb:{field} xmlns:ceb="{CEB_NS}">x</ceb:{field}>')
        )
    assert (_errors(_edit(data, _set(field, value))) == []) is ok


def test_optional_fields_may_be_left_out() -> None:
    # preNo/invtNo of a new inventory list, billNo of an arrival, sumNo of a summary receipt
    assert b"invtNo" not in BUSINESS["CEB603Message"]()
    assert _errors(_edit(_valid("CEB507Message"), _remove("billNo"))) == []
    assert _errors(_edit(_valid("CEB702Message"), _remove("sumNo"))) == []
    assert _errors(_edit(_valid("CEB214Message"), _remove("preNo"))) == []


def test_empty_mandatory_strings_pass_the_xsd_as_in_the_2022_schema() -> None:
    assert _errors(_edit(_valid("CEB213Message"), _set("reason", ""))) == []
    assert _errors(_edit(_valid("CEB605Message"), _set("invtNo", ""))) == []


def test_signature_goes_before_extend_message_in_the_new_export_messages() -> None:
    for kind in ("CEB603Message", "CEB605Message", "CEB607Message", "CEB509Message"):
        signed = _edit(_valid(kind), _insert_after("BaseTransfer", SIGNATURE))
        assert _errors(signed) == [], kind
    inventory = _valid("CEB603Message")
    errors = _errors(_edit(inventory, _insert_after("InventoryHead", SIGNATURE)))
    assert errors and "not expected" in errors[0].message


def test_summary_result_from_customs_needs_no_base_transfer_but_a_declaration_does() -> None:
    assert b"BaseTransfer" not in _valid("CEB792Message")
    [error] = _errors(_edit(_valid("CEB701Message"), _remove("BaseTransfer")))
    assert "Missing child" in error.message


def test_default_namespace_receipts_validate() -> None:
    guid = "7C1D2E3F-4A5B-4C6D-8E7F-9A0B1C2D3E4F"
    for kind, fields in RECEIPTS.items():
        data = build_receipt(kind, [{"guid": guid, **fields, **RET}], default_namespace=True)
        assert b"ceb:" not in data and _errors(data) == [], kind


# --- the command line agrees ----------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_validate_schema_only_agrees(case: Case, tmp_path: Path) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes(_valid(case.kind))
    code, out = _cli("validate", "--schema-only", str(good))
    assert code == 0, out
    assert case.kind in out
    for name, change in (
        ("missing", _remove(case.mandatory)),
        ("long", _set(case.bounded[0], "9" * (case.bounded[1] + 1))),
        ("order", _swap(case.swapped)),
    ):
        bad = tmp_path / f"{name}.xml"
        bad.write_bytes(_edit(_valid(case.kind), change))
        code, out = _cli("validate", "--schema-only", str(bad))
        assert code == 1 and "[R-COM-1]" in out, (name, out)
