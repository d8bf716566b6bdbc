"""The test-only permit system: one kind, its XSD folder, nothing else.

Everything else (intake, signing, the relay, the simulated customs' generic answer, receipt
correlation by the business key) is the core's, found through this one declaration.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from lxml import etree

from gateway.core.kinds import DocumentKind
from gateway.core.parties import Party
from gateway.core.system import BusinessSystem

NS = "urn:customs-gateway:test:1"

PERMIT = DocumentKind(
    name="tst_permit",
    title="test permit",
    message_type="TST101Message",
    receipt_type="TST102Message",
    record_tag="Permit",
    head_tag=None,
    key_fields=("declarantCode", "copNo"),
    receipt_entity="PermitReturn",
    receipt_fields="guid declarantCode copNo",
    receipt_echo_fields=("guid", "declarantCode", "copNo"),
)

SYSTEM = BusinessSystem(
    name="tst",
    title="test-only permits",
    kinds=(PERMIT,),
    xsd_dir=Path(__file__).with_name("xsd"),
)


def permit_message(sender: Party, cop_no: str, *, app_status: str = "2") -> bytes:
    """A TST101 with one permit of `sender`, declared (appStatus 2) unless told otherwise."""
    root = etree.Element(f"{{{NS}}}TST101Message", nsmap={"tst": NS})
    root.set("guid", str(uuid.uuid4()).upper())
    root.set("version", "1.0")
    permit = etree.SubElement(root, f"{{{NS}}}Permit")
    fields = {
        "guid": str(uuid.uuid4()).upper(),
        "appType": "1",
        "appTime": "20261204100000",
        "appStatus": app_status,
        "declarantCode": sender.code,
        "copNo": cop_no,
        "goodsName": "展品",
    }
    _children(permit, fields)
    transfer = etree.SubElement(root, f"{{{NS}}}BaseTransfer")
    _children(transfer, {"copCode": sender.code, "copName": sender.name, "dxpMode": "DXP",
                         "dxpId": sender.dxp_id})  # fmt: skip
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _children(parent: etree._Element, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        etree.SubElement(parent, f"{{{NS}}}{name}").text = value
