"""The DXP exchange envelope (`dxp:DxpMsg`) that carries a signed message to and from customs.

    <dxp:DxpMsg xmlns:dxp="http://www.chinaport.gov.cn/dxp" ver="1.0">
      <dxp:TransInfo>
        <dxp:CopMsgId/> <dxp:SenderId/> <dxp:ReceiverIds><dxp:ReceiverId/>+</dxp:ReceiverIds>
        <dxp:CreatTime/> <dxp:MsgType/>
      </dxp:TransInfo>
      <dxp:Data>base64 of the signed message, byte for byte</dxp:Data>
      <dxp:AddInfo> <dxp:FileName/> <dxp:IcCard/>? <dxp:BizKey><dxp:Key name=""/>*</dxp:BizKey>?
      </dxp:AddInfo>
    </dxp:DxpMsg>

The signed bytes travel base64-encoded precisely so that no XML tooling on the way can
re-serialize them and break the signature: `unwrap(wrap(x).body).data == x` always.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from gateway.codes import CHINA_TZ, DXP_NS, EXPORT_RECEIVER_ID
from gateway.errors import InvalidField, InvalidMessage, Violation
from gateway.xmlsafe import DEFAULT_MAX_BYTES, local_name, namespace, parse

RULE = "R-COM-1"
VERSION = "1.0"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

MAX_COP_MSG_ID = 255
MAX_NODE_ID = 16
MAX_RECEIVERS = 5
MAX_IC_CARD = 13
MAX_BIZ_KEYS = 5

_TRANS_FIELDS = ("CopMsgId", "SenderId", "CreatTime", "MsgType")


@dataclass(frozen=True)
class Envelope:
    """A serialized DxpMsg ready to publish, with the fields a publisher routes on."""

    body: bytes
    cop_msg_id: str
    msg_type: str
    sender_id: str
    receiver_ids: tuple[str, ...]
    file_name: str


@dataclass(frozen=True)
class Unwrapped:
    """What a received DxpMsg said; `data` is the decoded inner message, untouched."""

    cop_msg_id: str
    sender_id: str
    receiver_ids: tuple[str, ...]
    msg_type: str
    created: str
    data: bytes
    file_name: str | None = None
    ic_card: str | None = None
    biz_keys: Mapping[str, str] = field(default_factory=dict)


# --- wrap -------------------------------------------------------------------------------


def wrap(
    data: bytes,
    *,
    msg_type: str,
    sender_id: str,
    receiver_ids: Sequence[str] = (EXPORT_RECEIVER_ID,),
    cop_msg_id: str | None = None,
    file_name: str | None = None,
    ic_card: str | None = None,
    biz_keys: Mapping[str, str] | None = None,
    created: datetime | None = None,
) -> Envelope:
    """Put signed message bytes in a DxpMsg; InvalidField (a ValueError) names the first
    field out of bounds."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise _refused("Data", "the signed message must be non-empty bytes")
    receivers = (receiver_ids,) if isinstance(receiver_ids, str) else tuple(receiver_ids)
    msg_id = cop_msg_id if cop_msg_id is not None else str(uuid.uuid4()).upper()
    name = file_name if file_name is not None else f"{msg_type}_{msg_id}.xml"
    keys = dict(biz_keys or {})
    _check_wrap(msg_type, sender_id, receivers, msg_id, name, ic_card, keys)
    root = etree.Element(_q("DxpMsg"), nsmap={"dxp": DXP_NS}, ver=VERSION)
    _trans_info(root, msg_id, sender_id, receivers, _creat_time(created), msg_type)
    _sub(root, "Data", base64.b64encode(bytes(data)).decode("ascii"))
    _add_info(root, name, ic_card, keys)
    # Declaration written by hand: lxml's uses single quotes, which some exchange nodes reject.
    body = XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return Envelope(body, msg_id, msg_type, sender_id, receivers, name)


def _check_wrap(
    msg_type: str,
    sender_id: str,
    receivers: tuple[str, ...],
    cop_msg_id: str,
    file_name: str,
    ic_card: str | None,
    biz_keys: dict[str, str],
) -> None:
    _check_text("MsgType", msg_type, 255)
    _check_text("SenderId", sender_id, MAX_NODE_ID)
    _check_text("CopMsgId", cop_msg_id, MAX_COP_MSG_ID)
    _check_text("FileName", file_name, 255)
    if not 1 <= len(receivers) <= MAX_RECEIVERS:
        raise _refused("ReceiverIds", f"{len(receivers)} receivers, allowed 1..{MAX_RECEIVERS}")
    for receiver in receivers:
        _check_text("ReceiverId", receiver, MAX_NODE_ID)
    if ic_card is not None:
        _check_text("IcCard", ic_card, MAX_IC_CARD)
    if len(biz_keys) > MAX_BIZ_KEYS:
        raise _refused("BizKey", f"{len(biz_keys)} keys, at most {MAX_BIZ_KEYS} allowed")
    for key, value in biz_keys.items():
        _check_text("BizKey/Key/@name", key, 255)
        if not isinstance(value, str):
            raise _refused(f"BizKey/Key[@name={key!r}]", "value must be a string")


def _check_text(name: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _refused(name, f"required, got {value!r}")
    if len(value) > limit:
        raise _refused(name, f"{len(value)} characters, at most {limit} allowed")


def _refused(field_name: str, message: str) -> InvalidField:
    """A field wrap cannot write: the DXP envelope's bounds are part of the exchange schema."""
    return InvalidField([Violation(RULE, field_name, message)], f"{field_name}: {message}")


def _creat_time(created: datetime | None) -> str:
    moment = created or datetime.now(CHINA_TZ)
    if moment.tzinfo is not None:  # naive values are taken as already in Beijing time
        moment = moment.astimezone(CHINA_TZ)
    return moment.strftime(TIME_FORMAT)


def _trans_info(
    root: etree._Element,
    cop_msg_id: str,
    sender_id: str,
    receivers: tuple[str, ...],
    creat_time: str,
    msg_type: str,
) -> None:
    info = _sub(root, "TransInfo")
    _sub(info, "CopMsgId", cop_msg_id)
    _sub(info, "SenderId", sender_id)
    ids = _sub(info, "ReceiverIds")
    for receiver in receivers:
        _sub(ids, "ReceiverId", receiver)
    _sub(info, "CreatTime", creat_time)
    _sub(info, "MsgType", msg_type)


def _add_info(
    root: etree._Element, file_name: str, ic_card: str | None, biz_keys: dict[str, str]
) -> None:
    # FileName always has a value (the `<MsgType>_<CopMsgId>.xml` convention), so AddInfo is
    # always written: receiving nodes in practice file messages under that name.
    add = _sub(root, "AddInfo")
    _sub(add, "FileName", file_name)
    if ic_card is not None:
        _sub(add, "IcCard", ic_card)
    if biz_keys:
        keys = _sub(add, "BizKey")
        for key, value in biz_keys.items():
            _sub(keys, "Key", value).set("name", key)


def _q(tag: str) -> str:
    return f"{{{DXP_NS}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, _q(tag))
    child.text = text
    return child


# --- unwrap -----------------------------------------------------------------------------


def unwrap(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Unwrapped:
    """Read a DxpMsg (bare or inside a DxpMsgSv) from untrusted bytes.

    Raises InvalidMessage (rule R-COM-1) listing every missing field, or DxpMsg/Data when the
    payload is not strict base64 — a truncated transfer must never pass as a shorter message.
    """
    msg = _find_dxp_msg(parse(body, max_bytes).getroot())
    info = _child(msg, "TransInfo")
    violations: list[Violation] = []
    values = {name: _required_text(info, name, violations) for name in _TRANS_FIELDS}
    receivers = _receivers(info, violations)
    data = _decode_data(_child(msg, "Data"), violations)
    if violations:
        raise InvalidMessage(violations)
    add = _child(msg, "AddInfo")
    return Unwrapped(
        cop_msg_id=values["CopMsgId"],
        sender_id=values["SenderId"],
        receiver_ids=receivers,
        msg_type=values["MsgType"],
        created=values["CreatTime"],
        data=data,
        file_name=_text(_child(add, "FileName")),
        ic_card=_text(_child(add, "IcCard")),
        biz_keys=_biz_keys(add),
    )


def _find_dxp_msg(root: etree._Element) -> etree._Element:
    if _is(root, "DxpMsg"):
        return root
    if _is(root, "DxpMsgSv"):
        # A transport node's wrapper: the DxpMsg sits beside SvNo, possibly one level deeper.
        for element in root.iter(_q("DxpMsg")):
            return element
        raise _invalid("DxpMsgSv/DxpMsg", "DxpMsgSv carries no DxpMsg")
    found = f"{{{namespace(root) or ''}}}{local_name(root)}"
    raise _invalid("DxpMsg", f"root element is {found}, expected DxpMsg in {DXP_NS}")


def _is(element: etree._Element | None, name: str) -> bool:
    # Children are accepted unqualified too: some senders qualify only the root element.
    if element is None or not isinstance(element.tag, str):
        return False
    return local_name(element) == name and namespace(element) in (DXP_NS, None)


def _child(parent: etree._Element | None, name: str) -> etree._Element | None:
    if parent is None:
        return None
    return next((c for c in parent if _is(c, name)), None)


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _required_text(info: etree._Element | None, name: str, out: list[Violation]) -> str:
    value = _text(_child(info, name))
    if value is None:
        out.append(Violation(RULE, f"DxpMsg/TransInfo/{name}", "required element missing or empty"))
    return value or ""


def _receivers(info: etree._Element | None, out: list[Violation]) -> tuple[str, ...]:
    ids = _child(info, "ReceiverIds")
    children = [c for c in ids if _is(c, "ReceiverId")] if ids is not None else []
    found = tuple(text for c in children if (text := _text(c)))
    if not found:
        where = "DxpMsg/TransInfo/ReceiverIds/ReceiverId"
        out.append(Violation(RULE, where, "at least one required"))
    return found


def _decode_data(element: etree._Element | None, out: list[Violation]) -> bytes:
    text = "".join((_text(element) or "").split())  # senders may wrap base64 at 76 columns
    if not text:
        out.append(Violation(RULE, "DxpMsg/Data", "required element missing or empty"))
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        out.append(Violation(RULE, "DxpMsg/Data", f"not valid base64 (truncated?): {exc}"))
        return b""


def _biz_keys(add: etree._Element | None) -> dict[str, str]:
    keys = _child(add, "BizKey")
    if keys is None:
        return {}
    return {c.get("name", ""): _text(c) or "" for c in keys if _is(c, "Key")}


def _invalid(field_name: str, message: str) -> InvalidMessage:
    return InvalidMessage([Violation(RULE, field_name, message)])
