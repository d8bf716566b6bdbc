"""Reading customs receipts: CEB304/404/506 and every other CEBxxx receipt, plus CEB900.

Receipts come back from the e-port in several shapes: with the `ceb:` prefix, with a default
namespace and no prefix, occasionally with no namespace at all, in UTF-8 or GB2312. So
elements are matched by local name only, and the bytes go through the hardened parser with
the encoding the document declares.

The receipt kinds are one table (`RECEIPT_KINDS`): adding a receipt is adding one line.
CEB792, the summary result (R-ECX-8), comes the same way but is no receipt (no
returnStatus): `parse_message` reads either, `parse_summary_result` the CEB792 alone.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from lxml import etree

from gateway import xmlsafe
from gateway.codes import CHINA_TZ
from gateway.errors import ConfigError, InvalidMessage, ReceiptError

ORI_BIZ_MESSAGE = "oriBizMessage"


@dataclass(frozen=True)
class ReceiptKind:
    """One receipt message type: its entity element, field order and correlation key."""

    message_type: str  # root local name, e.g. "CEB304Message"
    entity: str  # entity local name, e.g. "OrderReturn"
    fields: tuple[str, ...]  # schema order
    optional: frozenset[str]
    correlation: tuple[str, ...]  # business key of the original record
    assigned: tuple[str, ...] = ()  # numbers customs assigns, used once known ("then preNo")


def _kind(message_type: str, entity: str, spec: str, key: str, assigned: str = "") -> ReceiptKind:
    # spec: field names in schema order, "?" marks an optional (O) field.
    names = spec.split()
    return ReceiptKind(
        message_type=message_type,
        entity=entity,
        fields=tuple(n.rstrip("?") for n in names),
        optional=frozenset(n.rstrip("?") for n in names if n.endswith("?")),
        correlation=tuple(key.split()),
        assigned=tuple(assigned.split()),
    )


#: the fields every receipt entity ends with, in schema order
RETURN_FIELDS = ("returnStatus", "returnTime", "returnInfo")

#: CEB900 answers a whole message, found by the CopMsgId of its exchange envelope. It is the
#: exchange platform's, so it is known here; every other receipt kind is derived from the
#: document kind it answers and registered by the business system that declares that kind.
MESSAGE_RETURN = _kind(
    "CEB900Message", "MessageReturn",
    "guid returnStatus returnInfo returnTime oriCopMsgId oriMessageType oriBizMessage",
    "oriCopMsgId",
)  # fmt: skip

#: receipt kinds by root local name (ceb-messages.md's receipts table, and the gateway's own)
RECEIPT_KINDS: dict[str, ReceiptKind] = {MESSAGE_RETURN.message_type: MESSAGE_RETURN}

#: receipt entity local name → the fields that find the original record.
CORRELATION_FIELDS: dict[str, tuple[str, ...]] = {MESSAGE_RETURN.entity: MESSAGE_RETURN.correlation}

#: receipt entity local name → numbers customs assigns (preNo, invtNo, sumNo), tried once known.
ASSIGNED_FIELDS: dict[str, tuple[str, ...]] = {MESSAGE_RETURN.entity: MESSAGE_RETURN.assigned}


def register(kind: ReceiptKind) -> None:
    """Know one more receipt kind (gateway.core.registry, as it installs a business system)."""
    known = RECEIPT_KINDS.get(kind.message_type)
    if known is not None and known != kind:
        raise ConfigError(f"receipt kind {kind.message_type} is already known otherwise")
    RECEIPT_KINDS[kind.message_type] = kind
    CORRELATION_FIELDS[kind.entity] = kind.correlation
    ASSIGNED_FIELDS[kind.entity] = kind.assigned


def kind_for_entity(entity: str) -> ReceiptKind:
    """The receipt kind whose entity element is `entity` (KeyError if none)."""
    return {k.entity: k for k in RECEIPT_KINDS.values()}[entity]


@dataclass(frozen=True)
class ReceiptEntity:
    """One entity of a receipt (an OrderReturn, a MessageReturn…), fields by local name."""

    kind: str
    fields: Mapping[str, str] = field(hash=False)  # read-only view; hash by the rest
    return_status: str
    return_time: datetime | None
    return_info: str
    guid: str
    #: CEB900 only: the original message as it came (base64 text, escaped or inline XML).
    ori_biz_message: str | None = None

    def key(self, names: Sequence[str]) -> tuple[str, ...]:
        """Values of the named fields, "" for an absent one (an absent payNo is a valid key)."""
        return tuple(self.fields.get(name, "") for name in names)

    def correlation_key(self) -> tuple[str, ...]:
        """The business key of the original record, per ceb-messages.md."""
        return self.key(CORRELATION_FIELDS.get(self.kind, ()))

    def assigned_numbers(self) -> dict[str, str]:
        """Customs-assigned numbers present on this receipt (preNo, invtNo, sumNo)."""
        names = ASSIGNED_FIELDS.get(self.kind, ())
        return {n: self.fields[n] for n in names if self.fields.get(n)}

    @property
    def is_error(self) -> bool:
        return is_error(self.return_status)

    def original_message(self) -> bytes | None:
        """CEB900: the original message bytes, decoding base64 when that is what was sent."""
        if not self.ori_biz_message:
            return None
        return _decode_original(self.ori_biz_message)


@dataclass(frozen=True)
class ParsedReceipt:
    """A whole receipt message: its root local name and its entities in document order."""

    message_type: str
    entities: tuple[ReceiptEntity, ...]
    guid: str = ""  # the root guid attribute, when present

    @property
    def kind(self) -> ReceiptKind:
        return RECEIPT_KINDS[self.message_type]


def is_error(return_status: str) -> bool:
    """Negative returnStatus codes are errors (format errors on CEB900, business ones else)."""
    try:
        return int(return_status.strip()) < 0
    except ValueError:
        return False


_EXCHANGE_CODE = re.compile(r"Code\s*[:：]\s*([0-9]+)", re.IGNORECASE)


def exchange_code(return_info: str) -> str | None:
    """The `Code:NNNN` of a returnInfo like `[Code:1004;Desc:签名与数据不符]`, or None."""
    # Chinese systems sometimes write the full-width colon; accept both.
    match = _EXCHANGE_CODE.search(return_info)
    return match.group(1) if match else None


def parse_return_time(text: str | None) -> datetime | None:
    """yyyyMMddHHmmssfff (or yyyyMMddHHmmss) in Beijing time; None if absent or malformed."""
    text = (text or "").strip()
    if not re.fullmatch(r"[0-9]{14}(?:[0-9]{3})?", text):
        return None
    try:
        stamp = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    millis = int(text[14:] or "0")
    return stamp.replace(microsecond=millis * 1000, tzinfo=CHINA_TZ)


def parse_receipt(data: bytes) -> ParsedReceipt:
    """Parse a receipt message; ReceiptError says why one cannot be read."""
    parsed = parse_message(data)
    if isinstance(parsed, ParsedSummaryResult):
        raise ReceiptError(
            f"{SUMMARY_RESULT} is a summary result, not a receipt", message_type=SUMMARY_RESULT
        )
    return parsed


def parse_message(data: bytes) -> ParsedReceipt | ParsedSummaryResult:
    """Any message customs sends the enterprise: a receipt, or a CEB792 summary result."""
    root = _parse_root(data)
    if xmlsafe.local_name(root) == SUMMARY_RESULT:
        return _summary_result(root)
    return _receipt(root)


def _receipt(root: etree._Element) -> ParsedReceipt:
    message_type = xmlsafe.local_name(root)
    kind = RECEIPT_KINDS.get(message_type)
    if kind is None:
        known = ", ".join(sorted(RECEIPT_KINDS))
        raise ReceiptError(
            f"{message_type} is not a known receipt message (expected one of {known})",
            message_type=message_type,
        )
    elements = [c for c in _children(root) if xmlsafe.local_name(c) == kind.entity]
    if not elements:
        raise ReceiptError(
            f"{message_type} carries no {kind.entity} entity", message_type=message_type
        )
    entities = tuple(_entity(kind, el, n) for n, el in enumerate(elements, start=1))
    return ParsedReceipt(message_type, entities, (root.get("guid") or "").strip())


# --- parsing ---------------------------------------------------------------------------------

_DECLARED_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._-]+)""")
# Senders declare GB2312 yet write characters only GBK/GB18030 have (rare names like 喆 or
# 镕): GB18030 is a superset of both, so a failed GB2312/GBK decode is retried as GB18030.
_GB_FAMILY = {b"gb2312", b"gbk", b"cp936", b"gb_2312-80", b"euc-cn", b"x-gbk"}


def _parse_root(data: bytes) -> etree._Element:
    try:
        return xmlsafe.parse(data).getroot()
    except InvalidMessage as exc:
        retried = _as_gb18030(data)
        if retried is not None:
            try:
                return xmlsafe.parse(retried).getroot()
            except InvalidMessage:
                pass
        raise ReceiptError(f"receipt cannot be read: {exc.violations[0].message}") from exc


def _as_gb18030(data: bytes) -> bytes | None:
    match = _DECLARED_ENCODING.match(data[:200])
    if not match or match.group(2).lower() not in _GB_FAMILY:
        return None
    return _DECLARED_ENCODING.sub(rb"\g<1>GB18030", data, count=1)


def _children(element: etree._Element) -> list[etree._Element]:
    # Comments and processing instructions are children too in lxml; skip them.
    return [c for c in element if isinstance(c.tag, str)]


def _entity(kind: ReceiptKind, element: etree._Element, number: int) -> ReceiptEntity:
    fields = {xmlsafe.local_name(c): _content(c).strip() for c in _children(element)}
    status = fields.get("returnStatus", "")
    where = f"{kind.entity}[{number}] (line {element.sourceline})"
    if not status:
        raise ReceiptError(f"{where} has no returnStatus", message_type=kind.message_type)
    if not re.fullmatch(r"-?[0-9]+", status):
        raise ReceiptError(
            f"{where} returnStatus {status!r} is not a status code",
            message_type=kind.message_type,
        )
    return ReceiptEntity(
        kind=kind.entity,
        fields=MappingProxyType(fields),
        return_status=status,
        return_time=parse_return_time(fields.get("returnTime")),
        return_info=fields.get("returnInfo", ""),
        guid=fields.get("guid", ""),
        ori_biz_message=fields.get(ORI_BIZ_MESSAGE),
    )


def _content(element: etree._Element) -> str:
    """Text of a simple field; for one holding elements (inline oriBizMessage), its markup."""
    if not len(element):
        return element.text or ""
    inner = "".join(etree.tostring(child, encoding="unicode") for child in element)
    return (element.text or "") + inner


# --- CEB792 summary result -------------------------------------------------------------------

SUMMARY_RESULT = "CEB792Message"


@dataclass(frozen=True)
class SummaryResultLine:
    """One SummaryResultList line: an inventory item and its item number (gseqno) in the
    merged customs declaration."""

    invt_no: str
    logistics_no: str
    gseqno: int
    gnum: int
    gcode: str


@dataclass(frozen=True)
class SummaryResult:
    """One SummaryResult: the head (sumNo, entryId, declSeqNo…) and its lines."""

    fields: Mapping[str, str] = field(hash=False)
    lines: tuple[SummaryResultLine, ...]

    @property
    def sum_no(self) -> str:
        return self.fields.get("sumNo", "")

    @property
    def entry_id(self) -> str:
        return self.fields.get("entryId", "")


@dataclass(frozen=True)
class ParsedSummaryResult:
    """A CEB792Message (customs → enterprise, R-ECX-8): no receipt, so no returnStatus; it
    names the customs declaration (entryId) each summary's lists were merged into."""

    results: tuple[SummaryResult, ...]
    guid: str = ""
    message_type: str = SUMMARY_RESULT


_RESULT_LINE = ("invtNo", "logisticsNo", "gseqno", "gnum", "gcode")


def parse_summary_result(data: bytes) -> ParsedSummaryResult:
    """Parse a CEB792Message; ReceiptError names the element and field that is wrong."""
    parsed = parse_message(data)
    if not isinstance(parsed, ParsedSummaryResult):
        raise ReceiptError(f"{parsed.message_type} is not a {SUMMARY_RESULT}")
    return parsed


def _summary_result(root: etree._Element) -> ParsedSummaryResult:
    records = [c for c in _children(root) if xmlsafe.local_name(c) == "SummaryResult"]
    if not records:
        raise ReceiptError(
            f"{SUMMARY_RESULT} carries no SummaryResult", message_type=SUMMARY_RESULT
        )
    results = tuple(_result(n, r) for n, r in enumerate(records, start=1))
    return ParsedSummaryResult(results, (root.get("guid") or "").strip())


def _result(number: int, record: etree._Element) -> SummaryResult:
    head: dict[str, str] = {}
    lines: list[SummaryResultLine] = []
    for child in _children(record):
        name = xmlsafe.local_name(child)
        if name == "SummaryResultHead":
            head = {xmlsafe.local_name(c): _content(c).strip() for c in _children(child)}
        elif name == "SummaryResultList":
            lines.append(_result_line(number, len(lines) + 1, child))
    where = f"SummaryResult[{number}] (line {record.sourceline})"
    if not head.get("sumNo"):
        raise ReceiptError(f"{where} has no SummaryResultHead/sumNo", message_type=SUMMARY_RESULT)
    return SummaryResult(MappingProxyType(head), tuple(lines))


def _result_line(number: int, line_no: int, element: etree._Element) -> SummaryResultLine:
    values = {xmlsafe.local_name(c): _content(c).strip() for c in _children(element)}
    where = f"SummaryResult[{number}]/SummaryResultList[{line_no}] (line {element.sourceline})"
    for name in _RESULT_LINE:
        if not values.get(name):
            raise ReceiptError(f"{where} has no {name}", message_type=SUMMARY_RESULT)
    for name in ("gseqno", "gnum"):
        if not values[name].isdigit():
            raise ReceiptError(
                f"{where} {name} {values[name]!r} is not a number", message_type=SUMMARY_RESULT
            )
    return SummaryResultLine(
        values["invtNo"], values["logisticsNo"], int(values["gseqno"]), int(values["gnum"]),
        values["gcode"],
    )  # fmt: skip


def _decode_original(text: str) -> bytes:
    compact = "".join(text.split())
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("UTF-8")
    # A short plain word can also be valid base64: believe the decoding only if it is XML.
    if decoded.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return decoded
    return text.encode("UTF-8")


__all__ = [
    "ASSIGNED_FIELDS",
    "CHINA_TZ",
    "MESSAGE_RETURN",
    "RETURN_FIELDS",
    "CORRELATION_FIELDS",
    "RECEIPT_KINDS",
    "SUMMARY_RESULT",
    "ParsedReceipt",
    "ParsedSummaryResult",
    "ReceiptEntity",
    "ReceiptKind",
    "SummaryResult",
    "SummaryResultLine",
    "exchange_code",
    "is_error",
    "kind_for_entity",
    "parse_message",
    "parse_receipt",
    "parse_return_time",
    "parse_summary_result",
    "register",
]
