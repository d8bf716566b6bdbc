"""The DXP envelope: wrap/unwrap without a broker."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from gateway.codes import DXP_NS, EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID
from gateway.errors import InvalidMessage
from tests.transport_fixtures import is_uuid_upper
from transports import unwrap, wrap

SENDER = "DXPENT0000000001"
SIGNED = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n<CEB303Message>订单 &amp; 	</CEB303Message>\n'
)
D = f"{{{DXP_NS}}}"


def fields(error: InvalidMessage) -> list[str]:
    return [v.field for v in error.violations]


def envelope_xml(trans_info: str, data: str = "PHgvPg==", root: str = "DxpMsg") -> bytes:
    return (
        f'<dxp:{root} xmlns:dxp="{DXP_NS}" ver="1.0"><dxp:TransInfo>{trans_info}</dxp:TransInfo>'
        f"<dxp:Data>{data}</dxp:Data></dxp:{root}>"
    ).encode()


FULL_INFO = (
    "<dxp:CopMsgId>ID1</dxp:CopMsgId><dxp:SenderId>S</dxp:SenderId>"
    "<dxp:ReceiverIds><dxp:ReceiverId>R</dxp:ReceiverId></dxp:ReceiverIds>"
    "<dxp:CreatTime>2024-05-01T10:00:00</dxp:CreatTime><dxp:MsgType>CEB303Message</dxp:MsgType>"
)


@pytest.mark.parametrize(
    "data",
    [SIGNED.encode(), SIGNED.encode("gb18030"), bytes(range(256))],
    ids=["utf8-crlf", "gb18030", "binary"],
)
def test_round_trip_is_byte_exact(data: bytes) -> None:
    envelope = wrap(data, msg_type="CEB303Message", sender_id=SENDER)
    assert unwrap(envelope.body).data == data


def test_wrap_fields_and_order() -> None:
    when = datetime(2024, 5, 1, 2, 3, 4, tzinfo=UTC)
    envelope = wrap(
        SIGNED.encode(),
        msg_type="CEB303Message",
        sender_id=SENDER,
        receiver_ids=[EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID],
        cop_msg_id="COP-1",
        ic_card="1234567890123",
        biz_keys={"orderNo": "O1", "ebpCode": "E1"},
        created=when,
    )
    assert envelope.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(envelope.body)
    assert root.tag == f"{D}DxpMsg" and root.get("ver") == "1.0"
    assert [etree.QName(c).localname for c in root] == ["TransInfo", "Data", "AddInfo"]
    info = root.find(f"{D}TransInfo")
    assert [etree.QName(c).localname for c in info] == [
        "CopMsgId",
        "SenderId",
        "ReceiverIds",
        "CreatTime",
        "MsgType",
    ]
    assert info.findtext(f"{D}CreatTime") == "2024-05-01T10:03:04"  # Beijing time
    assert root.findtext(f"{D}Data") == base64.b64encode(SIGNED.encode()).decode()
    opened = unwrap(envelope.body)
    assert opened.receiver_ids == (EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID)
    assert opened.biz_keys == {"orderNo": "O1", "ebpCode": "E1"}
    assert (opened.cop_msg_id, opened.sender_id, opened.msg_type) == (
        "COP-1",
        SENDER,
        "CEB303Message",
    )
    assert (opened.ic_card, opened.file_name) == ("1234567890123", "CEB303Message_COP-1.xml")
    assert opened.created == "2024-05-01T10:03:04"


def test_defaults() -> None:
    envelope = wrap(b"<x/>", msg_type="CEB311Message", sender_id=SENDER)
    assert is_uuid_upper(envelope.cop_msg_id)
    assert envelope.receiver_ids == (EXPORT_RECEIVER_ID,)
    assert envelope.file_name == f"CEB311Message_{envelope.cop_msg_id}.xml"
    assert wrap(b"<x/>", msg_type="T", sender_id=SENDER).cop_msg_id != envelope.cop_msg_id
    opened = unwrap(envelope.body)
    assert opened.biz_keys == {} and opened.ic_card is None


def test_unwrap_through_dxpmsgsv() -> None:
    inner = wrap(SIGNED.encode(), msg_type="CEB303Message", sender_id=SENDER).body
    inner_xml = inner.split(b"?>", 1)[1]
    sv = (
        (
            f'<dxp:DxpMsgSv xmlns:dxp="{DXP_NS}"><dxp:SvNo><dxp:MsgId>12345678'
            "202405011000000000000001</dxp:MsgId><dxp:SendTime>2024-05-01T10:00:00</dxp:SendTime>"
            "</dxp:SvNo>"
        ).encode()
        + inner_xml
        + b"</dxp:DxpMsgSv>"
    )
    assert unwrap(sv).data == SIGNED.encode()


def test_base64_wrapped_at_76_columns_is_accepted() -> None:
    data = bytes(range(256)) * 3
    encoded = base64.encodebytes(data).decode()  # MIME style: newline every 76 chars
    assert unwrap(envelope_xml(FULL_INFO, "\n" + encoded)).data == data


@pytest.mark.parametrize("bad", ["PHgvPg=", "PHgvP", "PHg*Pg==", "PHgvPg==PHgv"])
def test_truncated_or_invalid_base64_names_data(bad: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        unwrap(envelope_xml(FULL_INFO, bad))
    assert fields(caught.value) == ["DxpMsg/Data"]
    assert caught.value.violations[0].rule == "R-COM-1"


def test_every_missing_transinfo_field_is_named() -> None:
    with pytest.raises(InvalidMessage) as caught:
        unwrap(envelope_xml("<dxp:SenderId>S</dxp:SenderId>", data=""))
    assert fields(caught.value) == [
        "DxpMsg/TransInfo/CopMsgId",
        "DxpMsg/TransInfo/CreatTime",
        "DxpMsg/TransInfo/MsgType",
        "DxpMsg/TransInfo/ReceiverIds/ReceiverId",
        "DxpMsg/Data",
    ]


def test_wrong_root_or_namespace_is_refused() -> None:
    with pytest.raises(InvalidMessage) as caught:
        unwrap(envelope_xml(FULL_INFO).replace(DXP_NS.encode(), b"urn:other"))
    assert fields(caught.value) == ["DxpMsg"]


def test_hostile_xml_is_refused() -> None:
    hostile = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + envelope_xml(FULL_INFO)
    with pytest.raises(InvalidMessage, match="DTD"):
        unwrap(hostile)
    with pytest.raises(InvalidMessage, match="over the limit"):
        unwrap(envelope_xml(FULL_INFO), max_bytes=100)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"receiver_ids": [f"DXPR{i:012d}" for i in range(6)]}, "ReceiverIds"),
        ({"receiver_ids": []}, "ReceiverIds"),
        ({"receiver_ids": ["X" * 17]}, "ReceiverId"),
        ({"sender_id": "X" * 17}, "SenderId"),
        ({"sender_id": ""}, "SenderId"),
        ({"ic_card": "1" * 14}, "IcCard"),
        ({"biz_keys": {f"k{i}": "v" for i in range(6)}}, "BizKey"),
        ({"cop_msg_id": "X" * 256}, "CopMsgId"),
        ({"msg_type": ""}, "MsgType"),
    ],
)
def test_wrap_refuses_out_of_bounds_fields(options: dict, field: str) -> None:
    arguments = {"msg_type": "CEB303Message", "sender_id": SENDER, **options}
    with pytest.raises(ValueError, match=f"^{field}"):
        wrap(b"<x/>", **arguments)


@pytest.mark.parametrize("data", [b"", "<x/>"])
def test_wrap_refuses_empty_or_text_data(data: object) -> None:
    with pytest.raises(ValueError, match="^Data"):
        wrap(data, msg_type="T", sender_id=SENDER)  # type: ignore[arg-type]


def test_single_receiver_string_is_not_split_into_characters() -> None:
    envelope = wrap(b"<x/>", msg_type="T", sender_id=SENDER, receiver_ids=IMPORT_RECEIVER_ID)
    assert envelope.receiver_ids == (IMPORT_RECEIVER_ID,)


DXP_XSD = Path(__file__).resolve().parents[1] / "schemas" / "xsd" / "dxp.xsd"


@pytest.mark.skipif(not DXP_XSD.exists(), reason="schemas/xsd/dxp.xsd not present")
def test_wrapped_envelope_is_valid_against_the_dxp_schema() -> None:
    schema = etree.XMLSchema(etree.parse(str(DXP_XSD)))
    envelope = wrap(
        SIGNED.encode(),
        msg_type="CEB303Message",
        sender_id=SENDER,
        receiver_ids=[f"DXPR{i:012d}" for i in range(5)],
        ic_card="1234567890123",
        biz_keys={f"k{i}": "v" for i in range(5)},
    )
    assert schema.validate(etree.fromstring(envelope.body)), schema.error_log
