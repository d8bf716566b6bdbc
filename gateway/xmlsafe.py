"""Hardened XML parsing: no DTD, no entities, no network, bounded size.

Every byte that reaches the gateway from outside (declarations, envelopes, receipts) goes
through `parse`. A DOCTYPE is refused outright rather than ignored: customs messages never
carry one, and refusing it closes XXE and billion-laughs in one move.
"""

from __future__ import annotations

from lxml import etree

from gateway.errors import InvalidMessage, Violation

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
RULE = "R-COM-1"
# The markup that opens a DTD, in every encoding a parser detects from the first bytes: a
# UTF-16 document must not carry a DOCTYPE past a check that only knows ASCII (found by
# tests/test_fuzz.py: the DTD was then parsed, and refused later with a vaguer error).
_DTD_MARKUP = tuple(
    word.encode(codec)
    for word in ("<!DOCTYPE", "<!ENTITY")
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")
)


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parsers keep state and are not safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        collect_ids=False,
    )


def _refuse(message: str, line: int | None = None) -> InvalidMessage:
    return InvalidMessage([Violation(rule=RULE, field="(document)", message=message, line=line)])


def parse(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse untrusted bytes; raise InvalidMessage naming the problem."""
    if not isinstance(data, bytes | bytearray):
        raise _refuse("message must be bytes, not text")
    if len(data) > max_bytes:
        raise _refuse(f"message is {len(data)} bytes, over the limit of {max_bytes}")
    if not data.strip():
        raise _refuse("message is empty")
    # XML keywords are case-sensitive: a lower-case <!doctype is a syntax error anyway.
    if any(markup in data for markup in _DTD_MARKUP):
        raise _refuse("DTDs and entity declarations are not allowed")
    try:
        tree = etree.fromstring(bytes(data), _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise _refuse(f"not well-formed XML: {exc.msg}", exc.lineno) from exc
    except (ValueError, LookupError) as exc:  # unknown encoding and similar
        raise _refuse(f"cannot decode XML: {exc}") from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _refuse("DTDs are not allowed")
    return tree


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace
