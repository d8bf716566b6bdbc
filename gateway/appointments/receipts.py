"""Building APT102/104/106/108 receipts (the simulated customs and tests use them).

Field order comes from the parser's table (`receipts.parse.RECEIPT_KINDS`), so a built
receipt always parses back; the namespace is the appointment messages' own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from lxml import etree

from gateway.appointments.codes import APT_NS
from gateway.errors import InvalidField, Violation
from receipts.build import new_guid, return_time
from receipts.parse import RECEIPT_KINDS


def stamp(delay: float = 0.0) -> str:
    """returnTime `delay` seconds from now."""
    return return_time(datetime.now(UTC) + timedelta(seconds=delay))


def build(message_type: str, entities: Sequence[Mapping[str, str]]) -> bytes:
    kind = RECEIPT_KINDS[message_type]
    root = etree.Element(f"{{{APT_NS}}}{message_type}", nsmap={"apt": APT_NS})
    root.set("guid", new_guid())
    root.set("version", "1.0")
    for entity in entities:
        values = {"guid": new_guid(), "returnTime": stamp(), **entity}
        unknown = sorted(set(values) - set(kind.fields))
        if unknown:
            raise InvalidField(
                [
                    Violation("R-COM-1", f"{kind.entity}/{name}", "no such field")
                    for name in unknown
                ],
                f"{kind.entity} has no field(s) {', '.join(unknown)}",
            )
        element = etree.SubElement(root, f"{{{APT_NS}}}{kind.entity}")
        for name in kind.fields:
            if name in values:
                etree.SubElement(element, f"{{{APT_NS}}}{name}").text = values[name]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
