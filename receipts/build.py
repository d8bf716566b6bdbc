"""Building customs receipts, for the simulated customs service and for tests.

The same table as the parser (`RECEIPT_KINDS`) gives the entity element and field order, so a
built receipt always parses back. Receipt messages carry no BaseTransfer: ceb-messages.md
gives one to business messages only, so none is written here.
"""

from __future__ import annotations

import base64
import codecs
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from lxml import etree

from gateway.codes import CEB_NS
from gateway.errors import InvalidField, InvalidInput, Violation
from receipts.parse import CHINA_TZ, RECEIPT_KINDS, ReceiptKind

MESSAGE_RETURN = "CEB900Message"
#: the longest returnInfo a CEB900 may carry: C..5000, the one length ceb-messages.md gives it
MESSAGE_RETURN_INFO_MAX = 5000
#: the longest returnInfo any other CEB receipt may carry: C..1000, the official schema's
#: (issue #16 gap 12; ceb-messages.md gives no length there)
RETURN_INFO_MAX = 1000
VERSION = "1.0"


def new_guid() -> str:
    """An upper-case UUID, the form the standard recommends for guid fields."""
    return str(uuid.uuid4()).upper()


def return_time(dt: datetime) -> str:
    """Format a time as returnTime (yyyyMMddHHmmssfff, Beijing time)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(CHINA_TZ)  # naive times are taken as already in Beijing time
    return dt.strftime("%Y%m%d%H%M%S") + f"{dt.microsecond // 1000:03d}"


def epoch_return_time(epoch: float) -> str:
    """returnTime of a moment given in epoch seconds."""
    return return_time(datetime.fromtimestamp(epoch, UTC))


# build_message_return's keyword `return_time` shadows the function inside it.
_format_time = return_time


def build_receipt(
    message_type: str,
    entities: Sequence[Mapping[str, str]],
    *,
    guid: str | None = None,
    default_namespace: bool = False,
    encoding: str = "UTF-8",
    namespace: str = CEB_NS,
    prefix: str = "ceb",
) -> bytes:
    """A receipt message with one entity per mapping, fields in the standard's order.

    `namespace`/`prefix`: the CEB receipts' by default; a business system whose messages
    have a namespace of their own (appointments, temporary goods) builds its receipts here
    with it.

    An entity without `guid` gets a fresh one (the e-port makes it) and one without
    `returnTime` gets the current time; any other mandatory field must be given.
    InvalidInput for an unknown message type or encoding, InvalidField (each violation names
    its field) for an unknown or missing field; both are ValueErrors.
    """
    kind = _kind(message_type)
    _check_encoding(encoding)
    root = _root(kind, guid or new_guid(), {None if default_namespace else prefix: namespace})
    for entity in entities:
        entity = _with_defaults(entity)
        if namespace == CEB_NS:
            entity = _fitted(kind, entity)
        _append_entity(root, kind, entity, namespace)
    return _serialize(root, encoding)


def build_message_return(
    *,
    ori_cop_msg_id: str,
    ori_message_type: str,
    return_status: str,
    return_info: str,
    ori_biz_message: bytes | None,
    return_time: datetime | None = None,
) -> bytes:
    """A CEB900 MessageReturn answering the message sent under `ori_cop_msg_id`."""
    # The original goes back as base64 text: it is signed bytes in any encoding, and base64
    # keeps them exact where inline or escaped XML would be re-encoded by the writer.
    original = base64.b64encode(ori_biz_message).decode("ascii") if ori_biz_message else ""
    entity = {
        "returnStatus": return_status,
        "returnInfo": return_info,
        "oriCopMsgId": ori_cop_msg_id,
        "oriMessageType": ori_message_type,
        "oriBizMessage": original,
    }
    if return_time is not None:
        entity["returnTime"] = _format_time(return_time)
    return build_receipt(MESSAGE_RETURN, [entity])


def return_info_max(message_type: str) -> int:
    """The longest returnInfo a CEB receipt of this type may carry (its XSD's limit)."""
    return MESSAGE_RETURN_INFO_MAX if message_type == MESSAGE_RETURN else RETURN_INFO_MAX


def _fitted(kind: ReceiptKind, entity: dict[str, str]) -> dict[str, str]:
    # The one place every CEB receipt of the simulated customs passes: a refusal quoting the
    # values it refuses (a four-document mismatch, a summary problem, a format error) could
    # outgrow the receipt's returnInfo, and real customs never sends what its own schema
    # refuses. The start (the [Code:…] in front) is kept, the cut marked with "…". A test
    # wanting an oversize receipt from customs edits the built XML (the consumer is lenient).
    info = entity.get("returnInfo")
    limit = return_info_max(kind.message_type)
    if info is None or len(info) <= limit:
        return entity
    return entity | {"returnInfo": info[: limit - 1] + "…"}


def _kind(message_type: str) -> ReceiptKind:
    try:
        return RECEIPT_KINDS[message_type]
    except KeyError:
        raise InvalidInput(f"{message_type!r} is not a receipt message type") from None


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InvalidInput(f"unknown encoding {encoding!r}") from None


def _with_defaults(entity: Mapping[str, str]) -> dict[str, str]:
    defaults = {"guid": new_guid(), "returnTime": return_time(datetime.now(CHINA_TZ))}
    return defaults | dict(entity)


def _root(kind: ReceiptKind, guid: str, nsmap: dict[str | None, str]) -> etree._Element:
    namespace = next(iter(nsmap.values()))
    root = etree.Element(_tag(kind.message_type, namespace), nsmap=nsmap)
    root.set("guid", guid)
    root.set("version", VERSION)
    return root


def _append_entity(
    root: etree._Element, kind: ReceiptKind, entity: Mapping[str, str], namespace: str
) -> None:
    unknown = sorted(set(entity) - set(kind.fields))
    if unknown:
        raise _refused(kind, unknown, "no such field", "has no field(s)")
    missing = [f for f in kind.fields if f not in entity and f not in kind.optional]
    if missing:
        raise _refused(kind, missing, "mandatory field missing", "is missing mandatory field(s)")
    element = etree.SubElement(root, _tag(kind.entity, namespace))
    for name in kind.fields:
        if name in entity:
            etree.SubElement(element, _tag(name, namespace)).text = entity[name]


def _refused(kind: ReceiptKind, names: list[str], why: str, summary: str) -> InvalidField:
    """One violation per field: the receipt's XSD is the rule (R-COM-1) a built one must meet."""
    violations = [Violation("R-COM-1", f"{kind.entity}/{name}", why) for name in names]
    return InvalidField(violations, f"{kind.entity} {summary} {', '.join(names)}")


def _tag(local: str, namespace: str) -> str:
    return f"{{{namespace}}}{local}"


def _serialize(root: etree._Element, encoding: str) -> bytes:
    # Written by hand so the declaration has the usual double quotes, as receipts in the wild.
    header = f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode("ascii")
    body = etree.tostring(root, encoding=encoding, xml_declaration=False, pretty_print=True)
    return header + body
