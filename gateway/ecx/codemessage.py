"""ECX110Message: customs' code tables, announced to the gateway (参数更新), like APT110 for
appointment reference data (`gateway.appointments.refmessage`).

It comes on the receipts channel; the core lets only customs' messages reach this handler
(R-COM-4, gateway/core/receipt_trust.py). Each CodeTable replaces a whole table
(`codetables.load`, as `ecx-codes load` does); the message is kept as a receipt (msg_type
ECX110Message) with its outcome: `matched` (every table loaded), or `unreadable` with the
XSD's or the table checks' reasons, and then nothing changes. This process takes the new
tables at once; the others within `codetables.REFRESH_SECONDS`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from lxml import etree
from sqlalchemy import select

from gateway import xmlsafe
from gateway.core.models import Receipt
from gateway.ecx import codetables
from gateway.ecx.declarations import ECX_NS
from gateway.errors import InvalidMessage
from receipts.build import new_guid
from schemas import loader
from transports.envelope import unwrap

log = logging.getLogger(__name__)

MESSAGE_TYPE = "ECX110Message"


def build(tables: Mapping[str, Mapping[str, str]]) -> bytes:
    """The message for whole tables (the simulated customs and the tests send it)."""
    root = etree.Element(f"{{{ECX_NS}}}{MESSAGE_TYPE}", nsmap={"ecx": ECX_NS})
    root.set("guid", new_guid())
    root.set("version", "1.0")
    for name, codes in tables.items():
        table = etree.SubElement(root, f"{{{ECX_NS}}}CodeTable")
        etree.SubElement(table, f"{{{ECX_NS}}}table").text = name
        for code, text in codes.items():
            entry = etree.SubElement(table, f"{{{ECX_NS}}}Code")
            etree.SubElement(entry, f"{{{ECX_NS}}}code").text = code
            etree.SubElement(entry, f"{{{ECX_NS}}}name").text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read(data: bytes) -> dict[str, dict[str, str]]:
    """The tables of a valid ECX110Message; InvalidMessage with the XSD's errors otherwise."""
    root = xmlsafe.parse(data).getroot()
    errors = loader.validate(root, MESSAGE_TYPE)
    if errors:
        raise InvalidMessage(errors)
    out: dict[str, dict[str, str]] = {}
    for table in root.iterchildren(f"{{{ECX_NS}}}CodeTable"):
        name = table.findtext(f"{{{ECX_NS}}}table", "").strip()
        out[name] = {
            e.findtext(f"{{{ECX_NS}}}code", "").strip(): e.findtext(f"{{{ECX_NS}}}name", "").strip()
            for e in table.iterchildren(f"{{{ECX_NS}}}Code")
        }
    return out


def take(session: Any, data: bytes, cop_msg_id: str | None) -> Receipt:
    """Keep the message and load its tables, all or none (in the caller's transaction)."""
    row = Receipt(raw=data, sha256=hashlib.sha256(data).hexdigest(), msg_type=MESSAGE_TYPE,
                  cop_msg_id=cop_msg_id, parsed={}, outcome="unreadable")  # fmt: skip
    session.add(row)
    session.flush()
    try:
        tables = read(data)
        problems = [v for name, codes in tables.items() for v in codetables.validate(name, codes)]
        if problems:
            raise InvalidMessage(problems)
    except InvalidMessage as exc:
        row.error = exc.message[:2000]
        return row
    versions = {name: codetables.load(session, name, codes, MESSAGE_TYPE)
                for name, codes in tables.items()}  # fmt: skip
    row.parsed = {
        "tables": {n: {"codes": len(c), "version": versions[n]} for n, c in tables.items()}
    }
    row.outcome = "matched"
    return row


def handle_envelope(db: Any, body: bytes) -> bool:
    """The system's reference-data handler: True when `body` carried an ECX110Message."""
    if f">{MESSAGE_TYPE}<".encode() not in body[:4096]:
        return False
    try:
        env = unwrap(body)
    except InvalidMessage:
        return False
    if env.msg_type != MESSAGE_TYPE:
        return False
    with db.session() as session:
        digest = hashlib.sha256(env.data).hexdigest()
        if session.scalar(select(Receipt.id).where(Receipt.sha256 == digest).limit(1)):
            return True  # a redelivery
        row = take(session, env.data, env.cop_msg_id[:255])
        loaded = row.outcome == "matched"
        log.info("code tables from customs: %s %s", row.outcome, row.parsed or row.error)
    if loaded:
        with db.session() as session:
            codetables.refresh(session)
    return True
