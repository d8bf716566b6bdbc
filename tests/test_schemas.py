"""The hand-written XSDs follow ceb-messages.md, and `schemas.validate` reports like R-COM-1 says:
every error, with line, path and libxml2's reason."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from lxml import etree

from gateway.codes import CEB_NS, DSIG_NS, DXP_NS
from gateway.ecx import samples
from gateway.xmlsafe import parse
from schemas import known_message_types, loader, message_type, validate

GUID = "4CDE1D2E-1B2C-4F6A-9D8E-0A1B2C3D4E5F"
RECORD_GUID = "9F3A0C1B-7D2E-4B5A-8C6D-1E2F3A4B5C6D"

# Receipts shaped exactly as in ceb-messages.md, "Receipts".
CEB304 = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB304Message guid="{GUID}" version="1.0" xmlns:ceb="{CEB_NS}">
  <ceb:OrderReturn>
    <ceb:guid>{RECORD_GUID}</ceb:guid>
    <ceb:ebpCode>3301964J31</ceb:ebpCode>
    <ceb:ebcCode>3301960Z01</ceb:ebcCode>
    <ceb:orderNo>EO2026112200001</ceb:orderNo>
    <ceb:returnStatus>2</ceb:returnStatus>
    <ceb:returnTime>20261122103015123</ceb:returnTime>
    <ceb:returnInfo>新增申报成功[{RECORD_GUID}]</ceb:returnInfo>
  </ceb:OrderReturn>
</ceb:CEB304Message>
"""

CEB404 = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB404Message guid="{GUID}" version="1.0" xmlns:ceb="{CEB_NS}">
  <ceb:ReceiptsReturn>
    <ceb:guid>{RECORD_GUID}</ceb:guid>
    <ceb:ebcCode>3301960Z01</ceb:ebcCode>
    <ceb:orderNo>EO2026112200001</ceb:orderNo>
    <ceb:payNo>20261122421416589124548587</ceb:payNo>
    <ceb:returnStatus>120</ceb:returnStatus>
    <ceb:returnTime>20261122103515456</ceb:returnTime>
    <ceb:returnInfo>[Code:1800;Desc:逻辑校验通过]</ceb:returnInfo>
  </ceb:ReceiptsReturn>
</ceb:CEB404Message>
"""

CEB506 = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB506Message guid="{GUID}" version="1.0" xmlns:ceb="{CEB_NS}">
  <ceb:LogisticsReturn>
    <ceb:guid>{RECORD_GUID}</ceb:guid>
    <ceb:logisticsCode>3301980L07</ceb:logisticsCode>
    <ceb:logisticsNo>YT7300000000001</ceb:logisticsNo>
    <ceb:returnStatus>800</ceb:returnStatus>
    <ceb:returnTime>20261122110000789</ceb:returnTime>
    <ceb:returnInfo>[Code:2600;Desc:放行]</ceb:returnInfo>
  </ceb:LogisticsReturn>
</ceb:CEB506Message>
"""

# CEB900: returnInfo comes before returnTime, and oriBizMessage holds the original content.
CEB900 = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB900Message guid="{GUID}" version="1.0" xmlns:ceb="{CEB_NS}">
  <ceb:MessageReturn>
    <ceb:guid>{RECORD_GUID}</ceb:guid>
    <ceb:returnStatus>-301010</ceb:returnStatus>
    <ceb:returnInfo>[Code:0002;Desc:报文XSD校验失败]</ceb:returnInfo>
    <ceb:returnTime>20261122103015123</ceb:returnTime>
    <ceb:oriCopMsgId>CEB303Message_20261122103000_0001</ceb:oriCopMsgId>
    <ceb:oriMessageType>CEB303Message</ceb:oriMessageType>
    <ceb:oriBizMessage>
      <ceb:CEB303Message guid="x"><ceb:Order/></ceb:CEB303Message>
    </ceb:oriBizMessage>
  </ceb:MessageReturn>
</ceb:CEB900Message>
"""

DATA = base64.b64encode(samples.order_message(samples.DEMO_EBC, samples.DEMO_EBP, ["EO1"]))

DXP = f"""<?xml version="1.0" encoding="UTF-8"?>
<dxp:DxpMsg ver="1.0" Id="MSG1" xmlns:dxp="{DXP_NS}">
  <dxp:TransInfo>
    <dxp:CopMsgId>20261122103000000000000001</dxp:CopMsgId>
    <dxp:SenderId>DXPENT0000458763</dxp:SenderId>
    <dxp:ReceiverIds>
      <dxp:ReceiverId>DXPEDCCEB0000003</dxp:ReceiverId>
    </dxp:ReceiverIds>
    <dxp:CreatTime>2026-11-22T10:30:00</dxp:CreatTime>
    <dxp:MsgType>CEB303Message</dxp:MsgType>
  </dxp:TransInfo>
  <dxp:Data>{DATA.decode()}</dxp:Data>
  <dxp:AddInfo>
    <dxp:FileName>CEB303Message_20261122103000000000000001.xml</dxp:FileName>
    <dxp:IcCard>8930000012345</dxp:IcCard>
    <dxp:BizKey>
      <dxp:Key name="orderNo">EO2026112200001</dxp:Key>
    </dxp:BizKey>
    <dxp:IsText>false</dxp:IsText>
  </dxp:AddInfo>
</dxp:DxpMsg>
"""

_B64 = base64.b64encode(bytes(range(256)) * 3).decode()
# Wrapped at 76 columns, as most signers write certificates and signature values.
_WRAPPED = "\n".join(_B64[i : i + 76] for i in range(0, len(_B64), 76))

SIGNATURE = f"""<ds:Signature xmlns:ds="{DSIG_NS}">
  <ds:SignedInfo>
    <ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
    <ds:SignatureMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"/>
    <ds:Reference URI="">
      <ds:Transforms>
        <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
      </ds:Transforms>
      <ds:DigestMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"/>
      <ds:DigestValue>q1MKE+RZFJgrefm34/uplM/R8/si9xzqGvvwK0YMbR0=</ds:DigestValue>
    </ds:Reference>
  </ds:SignedInfo>
  <ds:SignatureValue>{_WRAPPED}</ds:SignatureValue>
  <ds:KeyInfo>
    <ds:KeyName>01a2b3c4d5e6</ds:KeyName>
    <ds:X509Data>
      <ds:X509Certificate>{_WRAPPED}</ds:X509Certificate>
    </ds:X509Data>
  </ds:KeyInfo>
</ds:Signature>"""

EXTEND = f"""<ceb:ExtendMessage xmlns:ceb="{CEB_NS}">
  <ceb:name>erp</ceb:name>
  <ceb:version>1.0</ceb:version>
  <ceb:Message><shop xmlns="urn:erp"><id a="1">42</id>text</shop></ceb:Message>
</ceb:ExtendMessage>"""


def _order() -> bytes:
    return samples.order_message(samples.DEMO_EBC, samples.DEMO_EBP, samples.order_numbers(2))


def _payment() -> bytes:
    nos = samples.order_numbers(2)
    return samples.payment_message(samples.DEMO_EBC, samples.DEMO_EBP, samples.DEMO_PAYER, nos)


def _waybill() -> bytes:
    shipments = [(no, samples.DEMO_EBC) for no in samples.logistics_numbers(2)]
    return samples.waybill_message(samples.DEMO_LOGISTICS, shipments)


# --- helpers ------------------------------------------------------------------------------


def _errors(data: bytes | str, expected: str | None = None) -> list:
    raw = data.encode() if isinstance(data, str) else data
    return validate(parse(raw), expected)


def _edit(data: bytes | str, change: Callable[[etree._Element], None]) -> bytes:
    """Apply `change` to the parsed message and serialise it, so line numbers are fresh."""
    raw = data.encode() if isinstance(data, str) else data
    root = parse(raw).getroot()
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _first(root: etree._Element, local: str) -> etree._Element:
    found = root.xpath(f"//*[local-name()='{local}']")
    assert found, local
    return found[0]


def _remove(local: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = _first(root, local)
        element.getparent().remove(element)

    return change


def _set(local: str, text: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        _first(root, local).text = text

    return change


def _swap(local: str) -> Callable[[etree._Element], None]:
    """Move `local` after its next sibling."""

    def change(root: etree._Element) -> None:
        element = _first(root, local)
        element.addprevious(element.getnext())  # moves the sibling in front of element

    return change


def _repeat(local: str, total: int) -> Callable[[etree._Element], None]:
    """Copy the first `local` until its parent holds `total` of them."""

    def change(root: etree._Element) -> None:
        element = _first(root, local)
        for _ in range(total - len(element.getparent().findall(element.tag))):
            element.addnext(etree.fromstring(etree.tostring(element)))

    return change


def _insert_after(local: str, xml: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        _first(root, local).addnext(etree.fromstring(xml))

    return change


# --- one table of cases per message type ---------------------------------------------------


VALID: dict[str, Callable[[], bytes | str]] = {
    "CEB303Message": _order,
    "CEB403Message": _payment,
    "CEB505Message": _waybill,
    "CEB304Message": lambda: CEB304,
    "CEB404Message": lambda: CEB404,
    "CEB506Message": lambda: CEB506,
    "CEB900Message": lambda: CEB900,
    "DxpMsg": lambda: DXP,
}


@dataclass(frozen=True)
class Case:
    kind: str
    mandatory: str  # an element that must be there
    bounded: tuple[str, int]  # an element and its maximum length
    swapped: str  # an element that must come before its next sibling
    record: str  # the repeated business record / receipt entity
    limit: int = 100  # how many records are allowed

    def valid(self) -> bytes | str:
        return VALID[self.kind]()


CASES = [
    Case("CEB303Message", "orderNo", ("orderNo", 60), "ebpCode", "Order"),
    Case("CEB403Message", "payName", ("payNo", 60), "charge", "Receipts"),
    Case("CEB505Message", "logisticsNo", ("goodsInfo", 200), "freight", "Logistics"),
    Case("CEB304Message", "orderNo", ("ebcCode", 18), "ebpCode", "OrderReturn"),
    Case("CEB404Message", "returnInfo", ("payNo", 60), "orderNo", "ReceiptsReturn"),
    Case("CEB506Message", "logisticsCode", ("logisticsNo", 32), "returnStatus", "LogisticsReturn"),
    Case("CEB900Message", "oriMessageType", ("oriCopMsgId", 255), "returnInfo", "MessageReturn"),
    Case("DxpMsg", "SenderId", ("SenderId", 16), "CopMsgId", "ReceiverId", limit=5),
]
IDS = [c.kind for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_valid_message_passes(case: Case) -> None:
    assert _errors(case.valid()) == []
    assert _errors(case.valid(), case.kind) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_missing_mandatory_element_fails(case: Case) -> None:
    errors = _errors(_edit(case.valid(), _remove(case.mandatory)))
    assert len(errors) == 1
    assert errors[0].rule == "R-COM-1"
    assert "Expected is" in errors[0].message and case.mandatory in errors[0].message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_over_its_length_fails(case: Case) -> None:
    name, limit = case.bounded
    assert _errors(_edit(case.valid(), _set(name, "9" * limit))) == []
    errors = _errors(_edit(case.valid(), _set(name, "9" * (limit + 1))))
    assert len(errors) == 1
    assert errors[0].field.endswith(f":{name}")
    assert "maxLength" in errors[0].message and f"'{limit}'" in errors[0].message
    assert errors[0].value is not None and errors[0].value.startswith("9" * min(limit, 100))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_elements_out_of_order_fail(case: Case) -> None:
    errors = _errors(_edit(case.valid(), _swap(case.swapped)))
    assert errors and "not expected" in errors[0].message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_record_too_many_fails(case: Case) -> None:
    assert _errors(_edit(case.valid(), _repeat(case.record, case.limit))) == []
    errors = _errors(_edit(case.valid(), _repeat(case.record, case.limit + 1)))
    assert len(errors) == 1
    assert errors[0].field.endswith(f":{case.record}[{case.limit + 1}]")


@pytest.mark.parametrize("case", [c for c in CASES if c.kind != "DxpMsg"], ids=IDS[:-1])
def test_guid_of_35_chars_fails(case: Case) -> None:
    def shorten(root: etree._Element) -> None:
        root.set("guid", GUID[:35])

    errors = _errors(_edit(case.valid(), shorten))
    assert len(errors) == 1
    assert errors[0].field == f"/ceb:{case.kind}/@guid"
    assert "length" in errors[0].message and errors[0].line == 2


@pytest.mark.parametrize("case", [c for c in CASES if c.kind != "DxpMsg"], ids=IDS[:-1])
def test_record_guid_must_have_36_chars(case: Case) -> None:
    errors = _errors(_edit(case.valid(), _set("guid", GUID + "0")))
    assert len(errors) == 1 and errors[0].field.endswith(":guid")


# --- what a violation carries ----------------------------------------------------------------


def test_violation_has_line_path_and_clean_reason() -> None:
    data = _order().replace(b"<ceb:orderNo>EO2026112200002<", b"<ceb:orderNo>" + b"X" * 61 + b"<")
    line = data[: data.index(b"X" * 61)].count(b"\n") + 1
    [error] = _errors(data)
    assert error.line == line
    assert error.field == "/ceb:CEB303Message/ceb:Order[2]/ceb:OrderHead/ceb:orderNo"
    assert error.message == (
        "[facet 'maxLength'] The value has a length of '61'; "
        "this exceeds the allowed maximum length of '60'"
    )
    assert "{" not in str(error) and "R-COM-1" in str(error)


def test_every_error_in_a_document_is_reported() -> None:
    def break_three_things(root: etree._Element) -> None:
        _first(root, "currency").text = "1420"  # C3
        _first(root, "qty").text = "two"  # N19,5
        _remove("dxpId")(root)

    errors = _errors(_edit(_order(), break_three_things))
    assert len(errors) == 3
    where = [e.field.rsplit("/", 1)[1] for e in errors]
    assert where == ["ceb:currency", "ceb:qty", "ceb:BaseTransfer"]
    assert len({e.line for e in errors}) == 3 and all(e.line for e in errors)


def test_max_errors_caps_the_list() -> None:
    def break_all_quantities(root: etree._Element) -> None:
        for qty in root.iter(f"{{{CEB_NS}}}qty"):
            qty.text = "many"

    order = samples.order_message(samples.DEMO_EBC, samples.DEMO_EBP, ["EO1"], items_per_order=8)
    data = _edit(order, break_all_quantities)
    assert len(validate(parse(data))) == 8
    assert len(validate(parse(data), max_errors=3)) == 3


def test_an_empty_mandatory_string_passes_the_xsd() -> None:
    # The 2022 schema has no minLength: the gateway's business checks refuse empties, not XSD.
    data = _edit(_order(), _set("orderNo", ""))
    assert b"<ceb:orderNo></ceb:orderNo>" in data or b"<ceb:orderNo/>" in data
    assert _errors(data) == []
    assert _errors(_edit(CEB304, _set("returnInfo", ""))) == []


def test_fixed_length_fields_refuse_empty_values() -> None:
    [error] = _errors(_edit(_order(), _set("currency", "")))
    assert "length" in error.message


# --- receipts in the forms customs send them ------------------------------------------------


def test_prefixed_and_default_namespace_receipts_both_validate() -> None:
    default = CEB304.replace("ceb:", "").replace("xmlns:ceb=", "xmlns=")
    assert "ceb:" not in default
    assert _errors(CEB304) == []
    assert _errors(default) == []
    assert message_type(parse(default.encode()).getroot()) == "CEB304Message"


def test_default_namespace_errors_still_get_readable_paths() -> None:
    default = CEB404.replace("ceb:", "").replace("xmlns:ceb=", "xmlns=")
    [error] = _errors(default.replace("<ebcCode>3301960Z01<", "<ebcCode>" + "9" * 19 + "<"))
    assert error.field == "/ceb:CEB404Message/ceb:ReceiptsReturn/ceb:ebcCode"
    assert error.line == 5


def test_gb2312_receipt_validates() -> None:
    data = CEB506.replace('encoding="UTF-8"', 'encoding="GB2312"').encode("gb2312")
    assert _errors(data) == []


def test_receipts_may_come_without_base_transfer_but_declarations_may_not() -> None:
    transfer = f"""<ceb:BaseTransfer xmlns:ceb="{CEB_NS}"><ceb:copCode>EPORT</ceb:copCode>
      <ceb:copName>电子口岸</ceb:copName><ceb:dxpMode>DXP</ceb:dxpMode>
      <ceb:dxpId>DXPEDCCEB0000003</ceb:dxpId></ceb:BaseTransfer>"""
    assert _errors(_edit(CEB304, _insert_after("OrderReturn", transfer))) == []
    [error] = _errors(_edit(_order(), _remove("BaseTransfer")))
    # libxml2 names only ceb:Order as expected here (its counter for maxOccurs=100 hides the
    # way out of the loop), but it does refuse the message, at the root.
    assert "Missing child" in error.message and error.field == "/ceb:CEB303Message"


def test_ceb900_original_message_may_be_text() -> None:
    text = CEB900.replace(
        CEB900[CEB900.index("<ceb:oriBizMessage>") : CEB900.index("</ceb:oriBizMessage>")],
        "<ceb:oriBizMessage>" + DATA.decode(),
    )
    assert _errors(text) == []


def test_receipt_return_time_is_17_characters() -> None:
    [error] = _errors(_edit(CEB304, _set("returnTime", "20261122103015")))
    assert "length" in error.message and error.value == "20261122103015"


# --- envelope parts -------------------------------------------------------------------------


def test_signature_goes_before_extend_message_in_export_messages() -> None:
    signed = _edit(_order(), _insert_after("BaseTransfer", SIGNATURE))
    assert _errors(signed) == []
    assert _errors(_edit(signed, _insert_after("Signature", EXTEND))) == []
    extended = _edit(_order(), _insert_after("BaseTransfer", EXTEND))
    errors = _errors(_edit(extended, _insert_after("ExtendMessage", SIGNATURE)))
    assert errors and errors[0].field.endswith("/ds:Signature")


def test_signature_structure_is_checked() -> None:
    signed = _edit(_order(), _insert_after("BaseTransfer", SIGNATURE))
    [error] = _errors(_edit(signed, _remove("DigestValue")))
    assert "ds:DigestValue" in error.message
    [error] = _errors(_edit(signed, _set("DigestValue", "not base64!")))
    assert error.field.endswith("/ds:DigestValue")


def test_signature_algorithms_are_any_uri() -> None:
    def w3_sm2(root: etree._Element) -> None:
        method = _first(root, "SignatureMethod")
        method.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#sm2-sm3")

    signed = _edit(_edit(_order(), _insert_after("BaseTransfer", SIGNATURE)), w3_sm2)
    assert _errors(signed) == []


def test_signed_dxp_envelope_validates() -> None:
    assert _errors(_edit(DXP, _insert_after("AddInfo", SIGNATURE))) == []


def test_at_most_five_subscribers() -> None:
    subscriber = f"""<ceb:BaseSubscribe xmlns:ceb="{CEB_NS}"><ceb:status>ALL</ceb:status>
      <ceb:dxpMode>DXP</ceb:dxpMode><ceb:dxpAddress>DXPENT0000391254</ceb:dxpAddress>
      </ceb:BaseSubscribe>"""
    with_one = _edit(_order(), _insert_after("BaseTransfer", subscriber))
    assert _errors(_edit(with_one, _repeat("BaseSubscribe", 5))) == []
    [error] = _errors(_edit(with_one, _repeat("BaseSubscribe", 6)))
    assert error.field.endswith("ceb:BaseSubscribe[6]")


def test_root_version_is_1_to_10_characters() -> None:
    def version(value: str) -> Callable[[etree._Element], None]:
        return lambda root: root.set("version", value)

    assert _errors(_edit(CEB304, version("1.0.0.0.01"))) == []
    assert _errors(_edit(CEB304, version("")))[0].field.endswith("/@version")
    assert _errors(_edit(CEB304, version("1.0.0.0.0.1")))[0].field.endswith("/@version")


def test_dxp_creat_time_and_card_number_are_checked() -> None:
    [error] = _errors(_edit(DXP, _set("CreatTime", "20261122103000")))
    assert error.field.endswith("dxp:CreatTime")
    [error] = _errors(_edit(DXP, _set("IcCard", "89300000123456")))
    assert "maxLength" in error.message


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0", True),
        ("12345678901234.12345", True),  # 19 digits, 5 after the point
        ("1.123456", False),  # 6 after the point
        ("123456789012345.12345", False),  # 20 digits
        ("1e3", False),
        ("", False),
    ],
)
def test_n19_5(value: str, ok: bool) -> None:
    assert (_errors(_edit(_order(), _set("goodsValue", value))) == []) is ok


@pytest.mark.parametrize(
    ("value", "ok"), [("1", True), ("99999", True), ("100000", False), ("1.5", False)]
)
def test_int5(value: str, ok: bool) -> None:
    assert (_errors(_edit(_order(), _set("gnum", value))) == []) is ok


# --- choosing the schema --------------------------------------------------------------------


def test_known_message_types() -> None:
    # Other families (tests/test_schemas_ecx.py, appointments…) add their own types.
    assert known_message_types() >= {
        "CEB303Message",
        "CEB304Message",
        "CEB403Message",
        "CEB404Message",
        "CEB505Message",
        "CEB506Message",
        "CEB900Message",
        "DxpMsg",
    }


def test_unknown_root_is_one_violation_naming_it() -> None:
    [error] = _errors(f'<ceb:CEB999Message xmlns:ceb="{CEB_NS}" guid="x" version="1"/>')
    assert "CEB999Message" in error.message and "CEB303Message" in error.message
    assert error.field == "/ceb:CEB999Message" and error.line == 1


def test_known_name_in_a_wrong_namespace_is_unknown() -> None:
    [error] = _errors(CEB304.replace(CEB_NS, "http://example.com/ceb"))
    assert "unknown message type" in error.message and "example.com" in error.message
    [error] = _errors(CEB304.replace("ceb:", "").replace(f' xmlns:ceb="{CEB_NS}"', ""))
    assert "unknown message type 'CEB304Message'" in error.message


def test_expected_message_type_must_match_the_root() -> None:
    [error] = _errors(CEB304, "CEB404Message")
    assert error.message == "expected CEB404Message, got CEB304Message"
    [error] = _errors(CEB304, "CEB999Message")
    assert "unknown message type 'CEB999Message'" in error.message


def test_an_element_can_be_validated_directly() -> None:
    root = parse(CEB506.encode()).getroot()
    assert validate(root) == []
    assert message_type(root) == "CEB506Message"


def test_a_wrapped_message_is_validated_as_its_own_document() -> None:
    wrapper = etree.fromstring(b"<wrapper><pad/></wrapper>")
    wrapper.append(etree.fromstring(CEB304.encode()))
    message = wrapper[1]
    _first(message, "ebcCode").text = "9" * 19
    [error] = validate(message)
    assert error.field == "/wrapper/ceb:CEB304Message/ceb:OrderReturn/ceb:ebcCode"


# --- loading and threads ----------------------------------------------------------------------


def test_schema_resources_outside_the_package_are_refused() -> None:
    for url in ("http://example.com/ceb_common.xsd", "/etc/passwd", "../xsd2/x.xsd"):
        with pytest.raises(ValueError, match="refused"):
            loader._package_name(url)
    assert loader._package_name(str(loader.XSD_DIR / "ceb_common.xsd")) == "ceb_common.xsd"


def test_an_xsd_importing_from_the_network_does_not_compile(tmp_path, monkeypatch) -> None:
    (tmp_path / "evil.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">'
        '<xs:import namespace="urn:b" schemaLocation="http://127.0.0.1:9/b.xsd"/>'
        '<xs:element name="r" type="xs:string"/></xs:schema>'
    )
    monkeypatch.setattr(loader, "XSD_DIR", tmp_path)
    loader._xsd_bytes.cache_clear()
    try:
        with pytest.raises(etree.XMLSchemaParseError):
            loader._compile("evil.xsd")
    finally:
        loader._xsd_bytes.cache_clear()


def test_each_thread_compiles_once_and_reuses() -> None:
    assert loader._schema("ceb_order.xsd") is loader._schema("ceb_order.xsd")


def test_concurrent_validation_keeps_errors_apart() -> None:
    good = parse(_order())
    bad = parse(_edit(_order(), _set("currency", "1420")))
    failures: list[str] = []

    def work(i: int) -> None:
        for _ in range(150):
            expected_errors = 1 if i % 2 else 0
            got = validate(bad if i % 2 else good)
            if len(got) != expected_errors:
                failures.append(f"thread {i}: {got}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
