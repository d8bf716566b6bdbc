"""The business-check engine: what the XSD lets through and customs would refuse later.

The standard's schemas accept empty mandatory strings, unknown codes, impossible dates and
amounts that do not add up; customs refuses them after signing and sending. These checks
refuse them before anything is stored. Every violation is collected, so a broker fixes the
message in one go instead of one error per round trip.

Input is an XSD-valid root (namespace CEB_NS). The engine is table-driven: `MESSAGES` names
each message type's business record and its head/list elements, `FIELDS` lists each
element's fields (mandatory unless `?`), `VALUE_RULES` checks a field wherever it occurs,
`BOUNDS` limits amounts per element, record checks span fields. The core holds the envelope's
and the common rules (R-COM-1/2); each business system adds its messages' tables once, as it
is installed (`CheckTables`, `register`): e-commerce export's orders, payments, waybills and
lists are in `gateway.ecx.checks`.

Cost: intake runs these on every record, so each head and line is read once (`_scan`: its
field texts, and whether anything in it is wrong, from tables built once per element name);
paths, lines and messages are built only for a message that has violations (`_report`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal
from functools import partial

from lxml import etree

from gateway.codes import CEB_NS, AppStatus, AppType
from gateway.errors import ConfigError, Violation

# --- rule ids ----------------------------------------------------------------------------------

SCHEMA = "R-COM-1"
CODE = "R-COM-1.code"
GUID = "R-COM-1.guid"
TIME = "R-COM-1.time"
COUNT = "R-COM-1.count"
EMPTY = "R-COM-2"
MIXED = "R-COM-2.mixed"

#: rule id → one-line description (for error reports and the README).
RULES: dict[str, str] = {
    SCHEMA: "The message is valid against the XSD of its message type (checked before these).",
    CODE: "Coded fields use their code list: appType, appStatus, orderType, currency, dxpMode.",
    GUID: "Every guid (root attribute and record) is a 36-character UUID, 8-4-4-4-12 hex.",
    TIME: "appTime and accountingDate are 14 digits YYYYMMDDhhmmss and a real date and time.",
    COUNT: "A message carries 1 to 100 business records; an order 1 to 100 order lines.",
    EMPTY: "A mandatory field (not marked (O) in the standard) is not empty or blank.",
    MIXED: "All records of one message share one appStatus: it is signed and sent as a whole.",
}

MAX_RECORDS = 100
_CEB = f"{{{CEB_NS}}}"

# --- tables ------------------------------------------------------------------------------------

RecordCheck = Callable[["Record"], Iterator[Violation]]
#: returns what is wrong with a non-empty field value, or None when it is fine
ValueCheck = Callable[[str], "str | None"]


@dataclass(frozen=True)
class MessageSpec:
    """Shape of one message type: its business record and the record's head/list elements."""

    record: str  # business record element under the root, e.g. "Order"
    head: str | None = None  # head element inside the record; None when the record is flat
    lines: str | None = None  # list element inside the record, e.g. "OrderList"
    max_lines: int | None = 100  # None: unbounded (the catalogue's "1..n" / "0..n")
    record_checks: tuple[RecordCheck, ...] = ()
    min_lines: int = 1  # 0 for the catalogue's "0..n" lists


@dataclass(frozen=True)
class Segment:
    """An element whose children are fields (a head, a line, BaseTransfer), read once by
    `_scan`: the record checks take their values from `texts` instead of the tree."""

    element: etree._Element
    #: text of the first child of each local name in CEB_NS ("" when it has none)
    texts: dict[str, str]
    #: no violation in the segment's own fields; when False, `_report` finds them
    clean: bool

    def text(self, name: str) -> str:
        """`text_of(self.field(name))`, without the search."""
        return self.texts.get(name, "")

    def field(self, name: str) -> etree._Element | None:
        """The field element, to report a violation at it."""
        return _child(self.element, name)


@dataclass(frozen=True)
class Record:
    """One business record, with its head (the record itself when flat) and its lines."""

    element: etree._Element
    head: Segment
    lines: tuple[Segment, ...]
    #: shared by the records of one message, filled by record checks as they run in
    #: document order (what the records before this one hold, for once-per-message rules)
    earlier: dict[str, set[str]]


# Field order per ceb-messages.md; "?" marks an optional (O) field, all others are mandatory.
# The envelope's here; a business system adds its records' (`register`).
FIELDS: dict[str, tuple[str, ...]] = {
    "BaseTransfer": tuple(["copCode", "copName", "dxpMode", "dxpId", "note?"]),
    "BaseSubscribe": tuple(["status", "dxpMode", "dxpAddress", "note?"]),
}

#: envelope elements checked in every message, next to the business records
ENVELOPE = ("BaseTransfer", "BaseSubscribe")

#: Chinese terms of the standard, so a broker recognises the field in a message.
TERMS: dict[str, str] = {
    "guid": "系统唯一序号", "appType": "企业报送类型", "appTime": "企业报送时间",
    "appStatus": "业务状态", "copCode": "传输企业代码", "copName": "传输企业名称",
    "dxpMode": "报文传输模式", "dxpId": "报文传输编号",
}  # fmt: skip


def label(name: str) -> str:
    term = TERMS.get(name)
    return f"{name} ({term})" if term else name


# --- value checks --------------------------------------------------------------------------------

_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
INTEGER = re.compile(r"[+-]?[0-9]+")
# N19,5 × N19,5 has up to 38 digits: the default 28-digit context would round the product.
EXACT = Context(prec=80)
CENT = Decimal("0.01")


def code_list(codes: Collection[str], what: str) -> ValueCheck:
    allowed = ", ".join(sorted(codes)) if len(codes) <= 5 else "e.g. 142 (CNY), 502 (USD)"

    def check(value: str) -> str | None:
        return None if value in codes else f"is not a valid {what}; allowed: {allowed}"

    return check


def _check_guid(value: str) -> str | None:
    if len(value) != 36:
        return f"must be exactly 36 characters, it has {len(value)}"
    if not _UUID.fullmatch(value):
        return "must be a UUID: 8-4-4-4-12 hexadecimal digits (upper case recommended)"
    return None


def check_time(value: str) -> str | None:
    if not _DIGITS14.fullmatch(value):
        return "must be 14 digits YYYYMMDDhhmmss"
    # What strptime("%Y%m%d%H%M%S") accepts of 14 digits, at a fifth of its cost.
    day, clock = divmod(int(value), 1_000_000)
    year, month, day = day // 10_000, day // 100 % 100, day % 100
    hour, minute, second = clock // 10_000, clock // 100 % 100, clock % 100
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return "is not a real calendar date and time"
    return None


_DIGITS14 = re.compile(r"[0-9]{14}")


def parse_decimal(text: str | None) -> Decimal | None:
    # Python's Decimal also reads "NaN", "Infinity" and "1_000"; the wire format does not.
    text = (text or "").strip()
    return Decimal(text) if _DECIMAL.fullmatch(text) else None


def at_least(minimum: str, *, strict: bool, wording: str) -> ValueCheck:
    bound = Decimal(minimum)

    def check(value: str) -> str | None:
        number = parse_decimal(value)
        if number is None:  # not a number at all: the XSD's business
            return None
        ok = number > bound if strict else number >= bound
        return None if ok else wording

    return check


POSITIVE = at_least("0", strict=True, wording="must be greater than 0")
NOT_NEGATIVE = at_least("0", strict=False, wording="must not be negative")
_APP_TYPE = code_list([t.value for t in AppType], "appType (1 add, 2 modify, 3 delete)")
_APP_STATUS = code_list([s.value for s in AppStatus], "appStatus (1 save, 2 declare)")

#: checks by field name, wherever the field occurs: (rule id, check)
VALUE_RULES: dict[str, tuple[str, ValueCheck]] = {
    "appType": (CODE, _APP_TYPE),
    "appStatus": (CODE, _APP_STATUS),
    "dxpMode": (CODE, code_list(["DXP"], "transport mode")),
    "status": (CODE, code_list(["ALL", "DATA", "RET"], "subscription status")),
    "guid": (GUID, _check_guid),
    "appTime": (TIME, check_time),
}

#: amount limits by (element, field): (rule id, check)
BOUNDS: dict[tuple[str, str], tuple[str, ValueCheck]] = {}


# --- entry point -------------------------------------------------------------------------------


def check_message(root: etree._Element) -> list[Violation]:
    """Every business-rule violation of an XSD-valid message, in document order.

    Message types without an entry in MESSAGES give an empty list: the XSD covers them.
    """
    spec = _spec_for(root)
    if spec is None:
        return []
    earlier: dict[str, set[str]] = {}
    records = [_record(el, spec, earlier) for el in _elements(root, spec.record)]
    found = [
        *_check_root(root, spec, records),
        *(v for segment in _segments(root, records) for v in _check_segment(segment)),
        *_check_mixed(records),
        *(v for record in records for check in spec.record_checks for v in check(record)),
    ]
    return sorted(found, key=lambda v: v.line or 0)  # stable: same line keeps rule order


def _spec_for(root: etree._Element) -> MessageSpec | None:
    qname = etree.QName(root)
    return MESSAGES.get(qname.localname) if qname.namespace == CEB_NS else None


def _record(element: etree._Element, spec: MessageSpec, earlier: dict[str, set[str]]) -> Record:
    head = _child(element, spec.head) if spec.head else element
    lines = tuple(_scan(line) for line in _elements(element, spec.lines)) if spec.lines else ()
    return Record(element, _scan(element if head is None else head), lines, earlier)


def _segments(root: etree._Element, records: list[Record]) -> Iterator[Segment]:
    yield from (_scan(el) for name in ENVELOPE for el in _elements(root, name))
    for record in records:
        yield record.head
        yield from record.lines


# --- message-level checks ----------------------------------------------------------------------


def _check_root(
    root: etree._Element, spec: MessageSpec, records: list[Record]
) -> Iterator[Violation]:
    name = etree.QName(root).localname
    guid = root.get("guid") or ""
    problem = _check_guid(guid)
    if problem:
        yield Violation(GUID, f"{name}/@guid", f"guid {problem}", root.sourceline, guid)
    yield from _check_count(root, lambda: f"{name}/{spec.record}", len(records), MAX_RECORDS)
    if spec.lines:
        limits = (spec.max_lines, spec.min_lines)
        for record in records:
            path = partial(_lines_path, record.element, spec.lines)
            yield from _check_count(record.element, path, len(record.lines), *limits)


def _lines_path(record: etree._Element, lines: str) -> str:
    return f"{path_of(record)}/{lines}"


def _check_count(
    parent: etree._Element,
    path: Callable[[], str],  # called only for a violation: a path costs a walk of siblings
    count: int,
    maximum: int | None,
    minimum: int = 1,
) -> Iterator[Violation]:
    if count < minimum or (maximum is not None and count > maximum):
        upper = "n" if maximum is None else maximum
        text = f"must occur {minimum} to {upper} times, found {count}"
        yield Violation(COUNT, path(), text, parent.sourceline, str(count))


def _check_mixed(records: list[Record]) -> Iterator[Violation]:
    values = [(r.head, value) for r in records if (value := r.head.text("appStatus")).strip()]
    if not values:
        return
    first = values[0][1]
    for head, value in values[1:]:
        if value != first:
            el = head.field("appStatus")
            text = (
                f"appStatus differs from the first record's {first}: all records of one message"
                " must share appStatus (业务状态), as the message is signed and sent as a whole"
            )
            yield Violation(MIXED, path_of(el), text, line_of(el), value)


# --- field-level checks ------------------------------------------------------------------------


def _check_segment(segment: Segment) -> list[Violation]:
    return [] if segment.clean else _report(segment.element)


#: what a child is to `_scan`: its local name when in CEB_NS (else None), its bit among the
#: segment's mandatory fields (0 when optional) and its value rules
_Entry = tuple[str | None, int, tuple[tuple[str, ValueCheck], ...]]


@dataclass(frozen=True)
class _Table:
    """One segment element's fields by child tag (Clark notation), built once per tag."""

    name: str
    entries: dict[str, _Entry]
    complete: int  # every mandatory bit: all mandatory fields seen, none blank

    @classmethod
    def build(cls, tag: str) -> _Table:
        name = tag[tag.find("}") + 1 :]
        fields = [f.removesuffix("?") for f in FIELDS.get(name, ())]
        mandatory = [f for f in FIELDS.get(name, ()) if not f.endswith("?")]
        bits = {f: 1 << n for n, f in enumerate(mandatory)}
        entries: dict[str, _Entry] = {
            _CEB + f: (f, bits.get(f, 0), _rules(name, f)) for f in fields
        }
        return cls(name, entries, (1 << len(mandatory)) - 1)

    def entry(self, child: etree._Element) -> _Entry:
        """A child the table does not know (an extra element, another namespace, a comment):
        value rules apply by local name, as in `_report`; it is no mandatory field."""
        tag = child.tag
        if not isinstance(tag, str):
            return (None, 0, ())
        local = tag[tag.find("}") + 1 :]
        return (local if tag.startswith(_CEB) else None, 0, _rules(self.name, local))


def _rules(segment: str, name: str) -> tuple[tuple[str, ValueCheck], ...]:
    return tuple(filter(None, (VALUE_RULES.get(name), BOUNDS.get((segment, name)))))


_TABLES: dict[str, _Table] = {}


def _table(tag: str) -> _Table:
    # Segments are CEB elements named in MESSAGES and ENVELOPE: a bounded set of tags.
    table = _TABLES.get(tag)
    if table is None:
        table = _TABLES[tag] = _Table.build(tag)
    return table


def _scan(element: etree._Element) -> Segment:
    """One pass over a segment's children: their texts, and whether `_report` would find
    nothing wrong (the usual case, answered without paths, lines or violations). Building
    those for every field, and a `find` per field in the record checks, made the checks
    most of intake's time for messages of many records. Conservative: when unsure (a
    repeated field), `clean` is False and `_report` decides."""
    table = _table(element.tag)
    entries, texts = table.entries, {}
    seen, clean = 0, True
    for child in element:
        name, bit, rules = entries.get(child.tag) or table.entry(child)
        text = child.text or ""
        if name is not None and name not in texts:
            texts[name] = text
        if not text or text.isspace():  # `not text.strip()`, without the copy
            clean = clean and not bit
        else:
            seen |= bit
            if rules and clean:
                clean = _passes(rules, text)
    return Segment(element, texts, clean and seen == table.complete)


def _passes(rules: tuple[tuple[str, ValueCheck], ...], text: str) -> bool:
    # A loop, not all(generator): a third of the cost, called for most fields.
    for _rule, check in rules:  # noqa: SIM110
        if check(text) is not None:
            return False
    return True


def _report(segment: etree._Element) -> list[Violation]:
    """Every violation of one segment: mandatory fields first, in FIELDS order, then the
    values in document order."""
    name = _local(segment)
    children: list[tuple[str, etree._Element]] = []
    ceb: dict[str, etree._Element] = {}  # the first child of each name in CEB_NS, as `_child`
    for child in segment:
        if isinstance(child.tag, str):
            local = _local(child)
            children.append((local, child))
            if child.tag.startswith(_CEB):
                ceb.setdefault(local, child)
    found = list(_check_mandatory(segment, FIELDS.get(name, ()), ceb))
    for local, child in children:
        rules = (VALUE_RULES.get(local), BOUNDS.get((name, local)))
        if rules != (None, None):
            found.extend(_check_value(local, child, rules))
    return found


def _check_mandatory(
    segment: etree._Element, fields: Iterable[str], children: dict[str, etree._Element]
) -> Iterator[Violation]:
    for name in (f for f in fields if not f.endswith("?")):
        field = children.get(name)
        if field is None:  # only when called on a message the XSD has not seen
            path = f"{path_of(segment)}/{name}"
            yield Violation(
                EMPTY, path, f"mandatory field {label(name)} is missing", segment.sourceline
            )
        elif not text_of(field).strip():
            text = f"mandatory field {label(name)} is empty (必填项为空)"
            yield Violation(EMPTY, path_of(field), text, field.sourceline, text_of(field))


def _check_value(
    name: str, field: etree._Element, rules: tuple[tuple[str, ValueCheck] | None, ...]
) -> Iterator[Violation]:
    value = text_of(field)
    if not value.strip():  # empty: a mandatory one is reported by _check_mandatory
        return
    for rule, check in filter(None, rules):
        problem = check(value)
        if problem:
            yield Violation(
                rule, path_of(field), f"{label(name)} {problem}", field.sourceline, value
            )


#: message types checked here, by root local name; any other type is left to its XSD
MESSAGES: dict[str, MessageSpec] = {}

#: elements that can repeat, shown with their position in paths: Order[2]/OrderList[1]/…
_REPEATING = {"BaseSubscribe"}


@dataclass(frozen=True)
class CheckTables:
    """A business system's share of the tables: what `register` adds to the ones above."""

    messages: Mapping[str, MessageSpec]
    fields: Mapping[str, tuple[str, ...]]
    terms: Mapping[str, str] = field(default_factory=dict)
    value_rules: Mapping[str, tuple[str, ValueCheck]] = field(default_factory=dict)
    bounds: Mapping[tuple[str, str], tuple[str, ValueCheck]] = field(default_factory=dict)
    rules: Mapping[str, str] = field(default_factory=dict)


def register(tables: CheckTables) -> None:
    """Add a business system's tables (gateway.core.registry, as it installs the system).

    A message type or element that another system already declares otherwise is refused:
    two systems may share the standard's elements, never give them two meanings.
    """
    for mine, theirs in ((MESSAGES, tables.messages), (FIELDS, tables.fields)):
        clash = [k for k, v in theirs.items() if k in mine and mine[k] != v]
        if clash:
            raise ConfigError(f"check tables declared twice, differently: {', '.join(clash)}")
    MESSAGES.update(tables.messages)
    FIELDS.update(tables.fields)
    TERMS.update({k: v for k, v in tables.terms.items() if k not in TERMS})
    VALUE_RULES.update(tables.value_rules)
    BOUNDS.update(tables.bounds)
    RULES.update(tables.rules)
    _REPEATING.update({s.record for s in tables.messages.values()})
    _REPEATING.update({s.lines for s in tables.messages.values() if s.lines})
    _TABLES.clear()


# --- small helpers -------------------------------------------------------------------------------


# `iterchildren(tag)` rather than `find`/`findall`: the same children, matched in C instead
# of through ElementPath's Python code (a `find` per field was a third of the record checks).
def _elements(parent: etree._Element, name: str | None = None) -> list[etree._Element]:
    """Child elements (no comments), all or those with local name `name` in CEB_NS."""
    if name is not None:
        return list(parent.iterchildren(_CEB + name))
    return [c for c in parent if isinstance(c.tag, str)]


def _local(element: etree._Element) -> str:
    """The local name of an element: `etree.QName(element).localname`, without the object."""
    tag = element.tag
    return tag[tag.find("}") + 1 :]


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    return next(parent.iterchildren(_CEB + name), None)


def text_of(element: etree._Element | None) -> str:
    return "" if element is None else element.text or ""


def line_of(element: etree._Element | None) -> int | None:
    return None if element is None else element.sourceline


def path_of(element: etree._Element | None) -> str:
    """Readable path below the root, e.g. Order[2]/OrderList[1]/totalPrice."""
    steps: list[str] = []
    while element is not None and element.getparent() is not None:
        steps.append(_step(element))
        element = element.getparent()
    return "/".join(reversed(steps))


def _step(element: etree._Element) -> str:
    name = etree.QName(element).localname
    if name not in _REPEATING:
        return name
    position = 1 + sum(1 for _ in element.itersiblings(element.tag, preceding=True))
    return f"{name}[{position}]"
