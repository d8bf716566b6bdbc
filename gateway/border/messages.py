"""The BDR101/103/105 messages: built from a declaration's form, read back from a record.

A form is a plain mapping, the one shape the terminal's API, the rules, the store and the
simulated customs share:

    {"head": {element: text, ...},            # leaf fields of the record, by element name
     "goods": [{element: text, ...}, ...],    # EntryGoods / ImportGoods lines
     "vehicles": [...], "attachments": [...], # entry declarations only
     "delegates": [{"idNumber": ..., "authenticatedAt": ...}, ...],
     "biometric": {"method": ..., "passed": "Y", ...} or None}

Element order follows `xsd/bdr_messages.xsd`; an optional element with no value is left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lxml import etree

from gateway.border.codes import BDR_NS, Form
from gateway.codes import CHINA_TZ
from gateway.core.kinds import head_fields

ENTRY_MESSAGE, IMPORT_MESSAGE, REVOKE_MESSAGE = "BDR101Message", "BDR103Message", "BDR105Message"
ENTRY_RECORD, IMPORT_RECORD, REVOKE_RECORD = "EntryDeclaration", "ImportDeclaration", "Revoke"

APP_FIELDS = ("guid", "appType", "appTime", "appStatus")
DECLARANT_FIELDS = (
    "preEntryNo",
    "declType",
    "origDeclNo",
    "reason",
    "districtCode",
    "ieFlag",
    "declarantType",
    "idNumber",
    "declarantName",
    "terminalId",
    "placeCode",
    "placeName",
    "orgRegNo",
    "orgName",
    "orgUscc",
)
HEAD_FIELDS = (
    "businessMode",
    "shopCode",
    "shopName",
    "transportMode",
    "vehicleType",
    "voyageNo",
    "vehicleNo",
    "billNo",
    "currency",
    "packages",
    "grossWeight",
    "netWeight",
    "totalAmount",
    "tradeCountry",
    "certType",
    "certInvolved",
    "certNo",
    "goodsFlow",
    "processingUscc",
    "processingName",
    "carPooling",
    "remark",
)
#: head fields the XSD requires (the rest are minOccurs 0)
REQUIRED_HEAD = frozenset(
    {
        "preEntryNo",
        "declType",
        "districtCode",
        "ieFlag",
        "declarantType",
        "idNumber",
        "declarantName",
        "terminalId",
        "placeCode",
        "businessMode",
        "transportMode",
        "currency",
        "packages",
        "grossWeight",
        "netWeight",
        "totalAmount",
        "tradeCountry",
        "origPreEntryNo",
    }
)
GOODS_FIELDS = (
    "itemNo",
    "goodsCode",
    "goodsName",
    "spec",
    "origin",
    "qty",
    "unit",
    "unitPrice",
    "amount",
    "grossWeight",
    "netWeight",
    "qualification",
)
VEHICLE_FIELDS = ("seqNo", "vehicleNo", "vehicleType")
ATTACHMENT_FIELDS = ("seqNo", "docType", "fileName", "sha256", "size")
DELEGATE_FIELDS = ("idNumber", "authenticatedAt")
BIOMETRIC_FIELDS = ("method", "passed", "attempts", "checkedAt", "terminalId")

#: the sequence of each record: (element or list tag, fields) in XSD order
_ENTRY_LAYOUT: tuple[tuple[str, Any], ...] = (
    ("", DECLARANT_FIELDS),
    ("", HEAD_FIELDS),
    ("EntryGoods", "goods"),
    ("Vehicle", "vehicles"),
    ("Attachment", "attachments"),
    ("Delegate", "delegates"),
    ("BiometricCheck", "biometric"),
)
_IMPORT_LAYOUT: tuple[tuple[str, Any], ...] = (
    ("", DECLARANT_FIELDS),
    ("", ("entryDeclNo",)),
    ("", HEAD_FIELDS),
    ("ImportGoods", "goods"),
    ("Delegate", "delegates"),
    ("BiometricCheck", "biometric"),
)
_REVOKE_LAYOUT: tuple[tuple[str, Any], ...] = (
    ("", DECLARANT_FIELDS),
    ("", ("origPreEntryNo",)),
)
_LIST_FIELDS = {
    "goods": GOODS_FIELDS,
    "vehicles": VEHICLE_FIELDS,
    "attachments": ATTACHMENT_FIELDS,
    "delegates": DELEGATE_FIELDS,
    "biometric": BIOMETRIC_FIELDS,
}
_LIST_TAGS = {
    "EntryGoods": "goods",
    "ImportGoods": "goods",
    "Vehicle": "vehicles",
    "Attachment": "attachments",
    "Delegate": "delegates",
}


def message_of(form: Form | None) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
    """(message type, record tag, layout) of a form; None is a revoke."""
    if form is Form.ENTRY:
        return ENTRY_MESSAGE, ENTRY_RECORD, _ENTRY_LAYOUT
    if form is Form.IMPORT:
        return IMPORT_MESSAGE, IMPORT_RECORD, _IMPORT_LAYOUT
    return REVOKE_MESSAGE, REVOKE_RECORD, _REVOKE_LAYOUT


def guid() -> str:
    return str(uuid.uuid4()).upper()


def app_time(at: datetime) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")


def build(
    form: Form | None,
    values: Mapping[str, Any],
    sender: Any,
    *,
    app_type: str = "1",
    app_status: str = "2",
    at: datetime,
) -> bytes:
    """One message with one record; `sender` has `code`, `name`, `dxp_id` (the supervised
    place's operator, whose key signs it)."""
    mtype, tag, layout = message_of(form)
    q = lambda name: f"{{{BDR_NS}}}{name}"  # noqa: E731
    root = etree.Element(q(mtype), nsmap={"bdr": BDR_NS})
    root.set("guid", guid())
    root.set("version", "1.0")
    rec = etree.SubElement(root, q(tag))
    app = {"guid": guid(), "appType": app_type, "appTime": app_time(at), "appStatus": app_status}
    _leaves(rec, q, APP_FIELDS, app)
    head = values.get("head", {})
    for list_tag, what in layout:
        if not list_tag:
            _leaves(rec, q, what, head)
            continue
        items = values.get(what)
        if what == "biometric":
            items = [items] if items else []
        for item in items or []:
            _leaves(etree.SubElement(rec, q(list_tag)), q, _LIST_FIELDS[what], item, strict=True)
    transfer = etree.SubElement(root, q("BaseTransfer"))
    fields = {
        "copCode": sender.code,
        "copName": sender.name,
        "dxpMode": "DXP",
        "dxpId": sender.dxp_id,
    }
    _leaves(transfer, q, ("copCode", "copName", "dxpMode", "dxpId"), fields)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _leaves(
    parent: etree._Element,
    q: Any,
    names: Sequence[str],
    values: Mapping[str, Any],
    *,
    strict: bool = False,
) -> None:
    """The leaves `names` in order; an empty one only where the XSD requires it (then the
    XSD or the rules name it)."""
    required = _REQUIRED_IN_LISTS if strict else REQUIRED_HEAD | set(APP_FIELDS)
    for name in names:
        value = values.get(name)
        text = "" if value is None else str(value).strip()
        if text or name in required:
            etree.SubElement(parent, q(name)).text = text


#: list fields the XSD requires (the optional ones are left out when empty)
_REQUIRED_IN_LISTS = frozenset(
    set(GOODS_FIELDS) - {"spec", "qualification"}
    | set(VEHICLE_FIELDS)
    | set(ATTACHMENT_FIELDS)
    | {"idNumber"}
    | set(BIOMETRIC_FIELDS)
)


def read(record: etree._Element) -> dict[str, Any]:
    """The form of one record element (the inverse of `build`)."""
    out: dict[str, Any] = {
        "head": head_fields(record, None),
        "goods": [],
        "vehicles": [],
        "attachments": [],
        "delegates": [],
        "biometric": None,
    }
    for child in record:
        tag = child.tag
        if not isinstance(tag, str) or not len(child):
            continue
        local = tag[tag.find("}") + 1 :]
        fields = head_fields(child, None)
        if local == "BiometricCheck":
            out["biometric"] = fields
        elif local in _LIST_TAGS:
            out[_LIST_TAGS[local]].append(fields)
    for name in APP_FIELDS:
        out["head"].pop(name, None)
    return out
