"""APT110Message: reference data customs announces to the gateway (参数更新).

It comes on the receipts channel like any customs answer. `handle_envelope` takes it in
(XSD first, R-COM-1) and upserts its rows with `refdata.load`; any other envelope is left
to the receipt processor. The simulated customs builds it with `build`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from lxml import etree

from gateway import xmlsafe
from gateway.appointments import refdata
from gateway.appointments.codes import APT_NS, CHINA_TZ
from gateway.core.db import Database
from gateway.errors import InvalidMessage
from receipts.build import new_guid
from schemas import loader
from transports.envelope import unwrap

log = logging.getLogger(__name__)

MESSAGE_TYPE = "APT110Message"

#: element → (refdata section, [(xml field, row key)])
_SECTIONS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "RefEnterprise": ("enterprises", (
        ("code", "code"), ("uscc", "uscc"), ("ciqCode", "ciq_code"), ("name", "name"),
        ("creditClass", "credit_class"), ("qualified", "qualified"), ("dishonest", "dishonest"))),
    "RefPortDay": ("calendar", (
        ("port", "port"), ("day", "day"), ("working", "working"), ("workStart", "work_start"),
        ("workEnd", "work_end"), ("note", "note"))),
    "RefTariff": ("tariff", (("hsCode", "hs_code"), ("name", "name"))),
    "RefDeclaration": ("declarations", (
        ("entryId", "entry_id"), ("ieFlag", "ie_flag"), ("declarantCode", "declarant_code"),
        ("consigneeCode", "consignee_code"), ("declPort", "decl_port"), ("iePort", "ie_port"),
        ("declTime", "declared_at"))),
}  # fmt: skip


def build(data: Mapping[str, Any]) -> bytes:
    """The message for rows shaped like `refdata.load` takes them."""
    root = etree.Element(f"{{{APT_NS}}}{MESSAGE_TYPE}", nsmap={"apt": APT_NS})
    root.set("guid", new_guid())
    root.set("version", "1.0")
    for element, (section, fields) in _SECTIONS.items():
        for row in data.get(section) or ():
            entry = etree.SubElement(root, f"{{{APT_NS}}}{element}")
            for xml_name, key in fields:
                if row.get(key) is not None:
                    etree.SubElement(entry, f"{{{APT_NS}}}{xml_name}").text = _text(row[key])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def read(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """The rows of a valid APT110Message; InvalidMessage with the XSD's errors otherwise."""
    root = xmlsafe.parse(data).getroot()
    errors = loader.validate(root, MESSAGE_TYPE)
    if errors:
        raise InvalidMessage(errors)
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in root:
        spec = _SECTIONS.get(etree.QName(entry).localname) if isinstance(entry.tag, str) else None
        if spec is None:
            continue
        values = {etree.QName(c).localname: (c.text or "").strip() for c in entry}
        row = {key: _value(key, values[name]) for name, key in spec[1] if name in values}
        out.setdefault(spec[0], []).append(row)
    return out


def _value(key: str, text: str) -> Any:
    if key in ("qualified", "dishonest", "working"):
        return text in ("true", "1")
    if key == "declared_at":
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=CHINA_TZ)
    return text


def handle_envelope(db: Database, body: bytes) -> bool:
    """True when `body` carried an APT110Message (taken in, or refused and logged)."""
    if f">{MESSAGE_TYPE}<".encode() not in body[:4096]:
        return False  # the envelope header names the type; receipts pass by untouched
    try:
        env = unwrap(body)
        if env.msg_type != MESSAGE_TYPE:
            return False
        rows = read(env.data)
    except InvalidMessage as exc:
        log.warning("reference data from customs refused: %s", exc.message)
        return True
    with db.session() as session:
        counts = refdata.load(session, rows)
    log.info("reference data from customs: %s", counts)
    return True
