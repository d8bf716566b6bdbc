"""Receipts: parsing in every namespace form and encoding, building, and round trips."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway import xmlsafe
from gateway.errors import ReceiptError
from receipts import (
    CORRELATION_FIELDS,
    RECEIPT_KINDS,
    build_message_return,
    build_receipt,
    exchange_code,
    is_error,
    parse_receipt,
    return_time,
)
from receipts.parse import CHINA_TZ, parse_return_time
from schemas import loader

NS = "http://www.chinaport.gov.cn/ceb"
ROOT_GUID = "9F1C2B3A-4D5E-4F60-8A7B-1C2D3E4F5A6B"
ENTITY_GUID = "0A1B2C3D-4E5F-4A6B-9C8D-7E6F5A4B3C2D"

ORDER_RETURN_PREFIXED = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB304Message guid="{ROOT_GUID}" version="1.0" xmlns:ceb="{NS}">
  <ceb:OrderReturn>
    <ceb:guid>{ENTITY_GUID}</ceb:guid>
    <ceb:ebpCode>3301960Z01</ceb:ebpCode>
    <ceb:ebcCode>3301960Z02</ceb:ebcCode>
    <ceb:orderNo>ORD20260115001</ceb:orderNo>
    <ceb:returnStatus>120</ceb:returnStatus>
    <ceb:returnTime>20260115103000123</ceb:returnTime>
    <ceb:returnInfo>[Code:1800;Desc:逻辑校验通过]</ceb:returnInfo>
  </ceb:OrderReturn>
</ceb:CEB304Message>
"""


def _order_return(
    root_open: str, root_close: str, prefix: str = "", encoding: str = "UTF-8"
) -> str:
    p = prefix
    return f"""<?xml version="1.0" encoding="{encoding}"?>
{root_open}
  <{p}OrderReturn>
    <{p}guid>{ENTITY_GUID}</{p}guid>
    <{p}ebpCode>3301960Z01</{p}ebpCode>
    <{p}ebcCode>3301960Z02</{p}ebcCode>
    <{p}orderNo>ORD20260115001</{p}orderNo>
    <{p}returnStatus>2</{p}returnStatus>
    <{p}returnTime>20260115103000123</{p}returnTime>
    <{p}returnInfo>新增申报成功[{ENTITY_GUID}]</{p}returnInfo>
  </{p}OrderReturn>
{root_close}
"""


# --- namespace forms -----------------------------------------------------------------------------


def test_prefixed_order_return() -> None:
    receipt = parse_receipt(ORDER_RETURN_PREFIXED.encode())
    assert receipt.message_type == "CEB304Message"
    assert receipt.guid == ROOT_GUID
    (entity,) = receipt.entities
    assert entity.kind == "OrderReturn"
    assert entity.return_status == "120"
    assert entity.return_info == "[Code:1800;Desc:逻辑校验通过]"
    assert entity.guid == ENTITY_GUID
    assert entity.return_time == datetime(2026, 1, 15, 10, 30, 0, 123000, tzinfo=CHINA_TZ)
    assert entity.correlation_key() == ("3301960Z02", "ORD20260115001")
    assert entity.fields["ebpCode"] == "3301960Z01"
    assert not entity.is_error


@pytest.mark.parametrize(
    ("root_open", "root_close", "prefix"),
    [
        (f'<CEB304Message guid="{ROOT_GUID}" version="1.0" xmlns="{NS}">', "</CEB304Message>", ""),
        (f'<CEB304Message guid="{ROOT_GUID}" version="1.0">', "</CEB304Message>", ""),
        (f'<x:CEB304Message xmlns:x="{NS}">', "</x:CEB304Message>", "x:"),
    ],
    ids=["default-namespace", "no-namespace", "other-prefix"],
)
def test_namespace_forms_parse_alike(root_open: str, root_close: str, prefix: str) -> None:
    receipt = parse_receipt(_order_return(root_open, root_close, prefix).encode())
    (entity,) = receipt.entities
    assert entity.correlation_key() == ("3301960Z02", "ORD20260115001")
    assert entity.return_info == f"新增申报成功[{ENTITY_GUID}]"


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["GB2312", "GBK", "GB18030", "gb2312"])
def test_chinese_encodings(encoding: str) -> None:
    text = _order_return(
        f'<ceb:CEB304Message xmlns:ceb="{NS}">', "</ceb:CEB304Message>", "ceb:", encoding
    )
    data = text.encode(encoding)
    assert "新增申报成功".encode(encoding) in data  # really encoded, not UTF-8
    (entity,) = parse_receipt(data).entities
    assert entity.return_info.startswith("新增申报成功")


def test_gb2312_declared_with_gbk_only_characters_is_read_as_gb18030() -> None:
    # 喆 is not in GB2312; senders declare GB2312 and write GBK all the same.
    text = ORDER_RETURN_PREFIXED.replace("UTF-8", "GB2312").replace("逻辑校验通过", "张喆")
    (entity,) = parse_receipt(text.encode("gbk")).entities
    assert entity.return_info == "[Code:1800;Desc:张喆]"


def test_utf8_declared_but_gbk_bytes_is_a_receipt_error() -> None:
    with pytest.raises(ReceiptError, match="cannot be read"):
        parse_receipt(ORDER_RETURN_PREFIXED.encode("gbk"))


# --- the other receipt kinds ---------------------------------------------------------------------


def test_payment_key_with_and_without_pay_no() -> None:
    base = {"ebcCode": "3301960Z02", "orderNo": "ORD1", "returnStatus": "120", "returnInfo": "ok"}
    with_pay = parse_receipt(build_receipt("CEB404Message", [base | {"payNo": "PAY9"}]))
    without = parse_receipt(build_receipt("CEB404Message", [base]))
    assert with_pay.entities[0].correlation_key() == ("3301960Z02", "ORD1", "PAY9")
    assert without.entities[0].correlation_key() == ("3301960Z02", "ORD1", "")


def test_waybill_key_and_many_entities() -> None:
    entities = [
        {"logisticsCode": "3301980Z03", "logisticsNo": f"SF{n}", "returnStatus": "120",
         "returnInfo": "ok"}
        for n in range(3)
    ]  # fmt: skip
    receipt = parse_receipt(build_receipt("CEB506Message", entities))
    keys = [e.correlation_key() for e in receipt.entities]
    assert keys == [("3301980Z03", "SF0"), ("3301980Z03", "SF1"), ("3301980Z03", "SF2")]


def test_correlation_fields_as_documented() -> None:
    assert CORRELATION_FIELDS["OrderReturn"] == ("ebcCode", "orderNo")
    assert CORRELATION_FIELDS["ReceiptsReturn"] == ("ebcCode", "orderNo", "payNo")
    assert CORRELATION_FIELDS["LogisticsReturn"] == ("logisticsCode", "logisticsNo")
    assert CORRELATION_FIELDS["ArrivalReturn"] == ("copNo", "msgSeqNo")
    assert CORRELATION_FIELDS["InventoryReturn"] == ("agentCode", "copNo")
    assert CORRELATION_FIELDS["SummaryReturn"] == ("copNo", "msgSeqNo")


def test_assigned_numbers_only_when_present() -> None:
    entity = {
        "agentCode": "3301960Z09", "copNo": "COP1", "preNo": "", "invtNo": "INV7",
        "ebcCode": "3301960Z02", "ebpCode": "3301960Z01", "orderNo": "ORD1",
        "statisticsFlag": "A", "returnStatus": "399", "returnInfo": "审结",
    }  # fmt: skip
    (parsed,) = parse_receipt(build_receipt("CEB604Message", [entity])).entities
    assert parsed.correlation_key() == ("3301960Z09", "COP1")
    assert parsed.assigned_numbers() == {"invtNo": "INV7"}


def _sample(kind_name: str) -> dict[str, str]:
    kind = RECEIPT_KINDS[kind_name]
    values = {name: f"{name}-值" for name in kind.fields}
    return values | {"returnStatus": "-301010", "returnTime": "20260115103000999"}


@pytest.mark.parametrize("message_type", sorted(RECEIPT_KINDS))
@pytest.mark.parametrize(
    ("default_namespace", "encoding"), [(False, "UTF-8"), (True, "UTF-8"), (True, "GB2312")]
)
def test_round_trip_every_kind(message_type: str, default_namespace: bool, encoding: str) -> None:
    entity = _sample(message_type)
    data = build_receipt(
        message_type, [entity], guid=ROOT_GUID, default_namespace=default_namespace,
        encoding=encoding,
    )  # fmt: skip
    receipt = parse_receipt(data)
    assert receipt.message_type == message_type
    assert receipt.guid == ROOT_GUID
    (parsed,) = receipt.entities
    assert parsed.kind == RECEIPT_KINDS[message_type].entity
    assert dict(parsed.fields) == entity
    assert parsed.is_error
    assert parsed.return_time == datetime(2026, 1, 15, 10, 30, 0, 999000, tzinfo=CHINA_TZ)


# --- CEB900 --------------------------------------------------------------------------------------

ORIGINAL = (
    f'<ceb:CEB303Message guid="{ROOT_GUID}" xmlns:ceb="{NS}"><ceb:Order/></ceb:CEB303Message>'
)


def _message_return(ori_biz: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<CEB900Message xmlns="{NS}" guid="{ROOT_GUID}" version="1.0">
  <MessageReturn>
    <guid>{ENTITY_GUID}</guid>
    <returnStatus>-1</returnStatus>
    <returnInfo>[Code:0002;Desc:报文格式校验失败]</returnInfo>
    <returnTime>20260115103000</returnTime>
    <oriCopMsgId>COPMSG-0001</oriCopMsgId>
    <oriMessageType>CEB303Message</oriMessageType>
    <oriBizMessage>{ori_biz}</oriBizMessage>
  </MessageReturn>
</CEB900Message>
""".encode()


def test_message_return_base64_original() -> None:
    encoded = base64.b64encode(ORIGINAL.encode()).decode()
    (entity,) = parse_receipt(_message_return(encoded)).entities
    assert entity.kind == "MessageReturn"
    assert entity.fields["oriCopMsgId"] == "COPMSG-0001"
    assert entity.fields["oriMessageType"] == "CEB303Message"
    assert entity.correlation_key() == ("COPMSG-0001",)
    assert entity.ori_biz_message == encoded
    assert entity.original_message() == ORIGINAL.encode()
    assert entity.is_error
    assert exchange_code(entity.return_info) == "0002"
    assert entity.return_time == datetime(2026, 1, 15, 10, 30, tzinfo=CHINA_TZ)


def test_message_return_escaped_original() -> None:
    escaped = ORIGINAL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    (entity,) = parse_receipt(_message_return(escaped)).entities
    assert entity.ori_biz_message == ORIGINAL
    assert entity.original_message() == ORIGINAL.encode()


def test_message_return_inline_original_is_serialized() -> None:
    (entity,) = parse_receipt(_message_return(ORIGINAL)).entities
    assert entity.ori_biz_message is not None
    assert entity.ori_biz_message.startswith("<ceb:CEB303Message")
    assert f'guid="{ROOT_GUID}"' in entity.ori_biz_message
    assert f'xmlns:ceb="{NS}"' in entity.ori_biz_message  # self-contained


def test_build_message_return_round_trip() -> None:
    when = datetime(2026, 1, 15, 2, 30, 0, 5000, tzinfo=UTC)
    data = build_message_return(
        ori_cop_msg_id="COPMSG-0002", ori_message_type="CEB505Message", return_status="-1",
        return_info="[Code:1004;Desc:签名与数据不符]", ori_biz_message=ORIGINAL.encode("gbk"),
        return_time=when,
    )  # fmt: skip
    (entity,) = parse_receipt(data).entities
    assert entity.fields["returnTime"] == "20260115103000005"
    assert entity.return_time == when
    assert exchange_code(entity.return_info) == "1004"
    assert entity.original_message() == ORIGINAL.encode("gbk")
    assert list(entity.fields)[:4] == ["guid", "returnStatus", "returnInfo", "returnTime"]


def test_build_message_return_without_original() -> None:
    data = build_message_return(
        ori_cop_msg_id="C3", ori_message_type="CEB303Message", return_status="-1",
        return_info="[Code:0001;Desc:x]", ori_biz_message=None,
    )  # fmt: skip
    (entity,) = parse_receipt(data).entities
    assert entity.ori_biz_message == ""
    assert entity.original_message() is None
    assert entity.return_time is not None


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<ceb:CEB304Message xmlns:ceb='x'><ceb:OrderReturn>", "cannot be read"),
        (b"", "cannot be read"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><CEB304Message/>', "DTD"),
        (f'<ceb:CEB303Message xmlns:ceb="{NS}"/>'.encode(), "not a known receipt"),
        (f'<ceb:CEB304Message xmlns:ceb="{NS}"/>'.encode(), "no OrderReturn"),
        (f'<CEB304Message xmlns="{NS}"><LogisticsReturn/></CEB304Message>'.encode(), "no Order"),
    ],
    ids=["not-well-formed", "empty", "doctype", "unknown-root", "no-entities", "wrong-entity"],
)
def test_refused(data: bytes, message: str) -> None:
    with pytest.raises(ReceiptError, match=message):
        parse_receipt(data)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("<ceb:returnStatus>120</ceb:returnStatus>", "", "has no returnStatus"),
        ("<ceb:returnStatus>120</ceb:returnStatus>", "<ceb:returnStatus> </ceb:returnStatus>",
         "has no returnStatus"),
        ("<ceb:returnStatus>120</ceb:returnStatus>", "<ceb:returnStatus>OK</ceb:returnStatus>",
         "not a status code"),
    ],
)  # fmt: skip
def test_refused_return_status(old: str, new: str, message: str) -> None:
    with pytest.raises(ReceiptError, match=message) as info:
        parse_receipt(ORDER_RETURN_PREFIXED.replace(old, new).encode())
    assert "OrderReturn[1] (line 3)" in str(info.value)
    assert not info.value.retryable


def test_comments_and_unknown_children_are_harmless() -> None:
    text = ORDER_RETURN_PREFIXED.replace(
        "<ceb:guid>", "<!-- e-port --><ceb:extra> x </ceb:extra><ceb:guid>"
    )
    (entity,) = parse_receipt(text.encode()).entities
    assert entity.fields["extra"] == "x"
    with pytest.raises(TypeError):
        entity.fields["orderNo"] = "other"  # type: ignore[index]


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260115103000123", datetime(2026, 1, 15, 10, 30, 0, 123000, tzinfo=CHINA_TZ)),
        ("20260115103000", datetime(2026, 1, 15, 10, 30, tzinfo=CHINA_TZ)),
        (" 20260115103000 ", datetime(2026, 1, 15, 10, 30, tzinfo=CHINA_TZ)),
        ("20260230103000123", None),
        ("2026011510300012", None),
        ("2026-01-15 10:30", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_return_time(text: str | None, expected: datetime | None) -> None:
    assert parse_return_time(text) == expected


def test_return_time_format() -> None:
    assert return_time(datetime(2026, 1, 15, 10, 30, 0, 7999)) == "20260115103000007"
    assert return_time(datetime(2026, 1, 15, 2, 30, tzinfo=UTC)) == "20260115103000000"
    tokyo = timezone(timedelta(hours=9))
    assert return_time(datetime(2026, 1, 15, 11, 30, tzinfo=tokyo)) == "20260115103000000"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("-1", True), ("-301010", True), (" -2 ", True), ("120", False), ("0", False),
     ("", False), ("abc", False)],
)  # fmt: skip
def test_is_error(status: str, expected: bool) -> None:
    assert is_error(status) is expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ("[Code:1004;Desc:签名与数据不符]", "1004"),
        ("[Code:1800;Desc:逻辑校验通过]", "1800"),
        ("[code : 0002;Desc:报文格式校验失败]", "0002"),
        ("[Code：2001;Desc:接收方不存在]", "2001"),
        (f"新增申报成功[{ENTITY_GUID}]", None),
        ("", None),
    ],
)
def test_exchange_code(info: str, expected: str | None) -> None:
    assert exchange_code(info) == expected


# --- building ------------------------------------------------------------------------------------

ORDER_ENTITY = {
    "returnInfo": "新增申报成功", "returnStatus": "2", "orderNo": "ORD1",
    "ebcCode": "3301960Z02", "ebpCode": "3301960Z01", "guid": ENTITY_GUID,
    "returnTime": "20260115103000123",
}  # fmt: skip


def test_build_writes_fields_in_standard_order_with_prefix() -> None:
    data = build_receipt("CEB304Message", [ORDER_ENTITY], guid=ROOT_GUID)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ceb:CEB304Message')
    order = [b"guid>", b"ebpCode>", b"ebcCode>", b"orderNo>", b"returnStatus>", b"returnTime>"]
    positions = [data.index(b"<ceb:" + tag) for tag in order]
    assert positions == sorted(positions)
    assert b'version="1.0"' in data and f'guid="{ROOT_GUID}"'.encode() in data


def test_build_default_namespace_and_gb2312() -> None:
    data = build_receipt("CEB304Message", [ORDER_ENTITY], default_namespace=True, encoding="GB2312")
    assert data.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
    assert f'<CEB304Message xmlns="{NS}"'.encode() in data
    assert "新增申报成功".encode("gb2312") in data
    assert dict(parse_receipt(data).entities[0].fields) == ORDER_ENTITY


def test_build_fills_guid_and_time_and_skips_absent_optional() -> None:
    entity = {"ebcCode": "3301960Z02", "orderNo": "ORD1", "returnStatus": "120", "returnInfo": ""}
    before = datetime.now(CHINA_TZ).replace(microsecond=0)
    (parsed,) = parse_receipt(build_receipt("CEB404Message", [entity])).entities
    assert "payNo" not in parsed.fields
    assert len(parsed.guid) == 36 and parsed.guid == parsed.guid.upper()
    assert parsed.return_time is not None and parsed.return_time >= before


@pytest.mark.parametrize(
    ("message_type", "entity", "message"),
    [
        ("CEB304Message", ORDER_ENTITY | {"payNo": "P1"}, "no field"),
        ("CEB304Message", {k: v for k, v in ORDER_ENTITY.items() if k != "orderNo"}, "orderNo"),
        ("CEB303Message", ORDER_ENTITY, "not a receipt"),
    ],
)
def test_build_refuses(message_type: str, entity: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_receipt(message_type, [entity])


def test_build_refuses_unknown_encoding() -> None:
    with pytest.raises(ValueError, match="encoding"):
        build_receipt("CEB304Message", [ORDER_ENTITY], encoding="KLINGON-8")


# --- agreement with the project's XSD ------------------------------------------------------------


@pytest.mark.parametrize("default_namespace", [False, True])
def test_built_receipts_are_schema_valid(default_namespace: bool) -> None:
    payment = {"ebcCode": "3301960Z02", "orderNo": "ORD1", "payNo": "PAY1", "returnStatus": "120",
               "returnInfo": "[Code:1800;Desc:逻辑校验通过]"}  # fmt: skip
    waybill = {"logisticsCode": "3301980Z03", "logisticsNo": "SF1", "returnStatus": "-301010",
               "returnInfo": "重复申报"}  # fmt: skip
    built = [
        build_receipt("CEB304Message", [ORDER_ENTITY], default_namespace=default_namespace),
        build_receipt("CEB404Message", [payment], default_namespace=default_namespace),
        build_receipt("CEB506Message", [waybill], default_namespace=default_namespace),
        build_message_return(
            ori_cop_msg_id="COPMSG-0001", ori_message_type="CEB303Message", return_status="-1",
            return_info="[Code:0002;Desc:x]", ori_biz_message=ORIGINAL.encode(),
        ),
    ]  # fmt: skip
    for data in built:
        assert loader.validate(xmlsafe.parse(data)) == []
