"""Building TMP102/104/106 receipts (the simulated customs and tests use them).

Field order comes from the parser's table (`receipts.parse.RECEIPT_KINDS`, derived from the
kinds), so a built receipt always parses back; the namespace is the TMP messages' own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree

from gateway.errors import InvalidField, Violation
from gateway.temporary.codes import TMP_NS
from receipts.build import epoch_return_time, new_guid
from receipts.parse import RECEIPT_KINDS


def build(message_type: str, entities: Sequence[Mapping[str, str]], at: float) -> bytes:
    """A receipt message; returnTime of every entity without one is epoch `at`."""
    kind = RECEIPT_KINDS[message_type]
    root = etree.Element(f"{{{TMP_NS}}}{message_type}", nsmap={"tmp": TMP_NS})
    root.set("guid", new_guid())
    root.set("version", "1.0")
    for entity in entities:
        values = {"guid": new_guid(), "returnTime": epoch_return_time(at), **entity}
        unknown = sorted(set(values) - set(kind.fields))
        if unknown:
            raise InvalidField(
                [
                    Violation("R-COM-1", f"{kind.entity}/{name}", "no such field")
                    for name in unknown
                ],
                f"{kind.entity} has no field(s) {', '.join(unknown)}",
            )
        element = etree.SubElement(root, f"{{{TMP_NS}}}{kind.entity}")
        for name in kind.fields:
            if name in values:
                etree.SubElement(element, f"{{{TMP_NS}}}{name}").text = values[name]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
