"""Many parcels at once (R-ECX-3, R-ECX-4, R-ECX-6): one head and thousands of parcels become
several arrival (CEB507), departure (CEB509) or total/sub waybill (CEB607) messages.

The standard numbers the messages of one batch: every part carries the batch's copNo, msgCount
= the number of parts and msgSeqNo = 1..msgCount; each part is its own record for customs,
keyed (copNo, msgSeqNo), with its parcels numbered from gnum 1. The parts are built here and
then go through `Intake.submit` one by one, like any message an enterprise sends, so
validation, storage, signing and sending stay in one path.

Errors are reported in the caller's terms: `head.copNo`, `parcels[1207].logisticsNo`, not the
path inside a part the caller never saw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import select

from gateway.codes import CEB_NS, CHINA_TZ, AppStatus, AppType
from gateway.core import checks
from gateway.core import intake as intake_mod
from gateway.core.intake import Intake
from gateway.core.kinds import DocumentKind
from gateway.core.models import Enterprise, utcnow
from gateway.ecx import checks as checks_ecx
from gateway.ecx.kinds_full import ARRIVAL, DEPARTURE, WAYBILL_TOTAL
from gateway.errors import GatewayError, InvalidMessage, Violation
from receipts.build import new_guid

#: Parcels per message. Neither the manual (seed 004, chapters 2.3 and 3.9) nor the message
#: standard bounds ArrivalList, DepartureList or WayBillList ("0..n", "1..n"); only gnum,
#: int(5), caps a message at 99,999 lines. The gateway's own limit is the message size
#: (`intake.max_bytes`, 10 MB): the longest possible line (logisticsNo C..32, totalPackageNo
#: C..60, invtNo C..20, a note of 1,000 Chinese characters, 3 bytes each in UTF-8) is about
#: 3.3 KB, so 1,000 lines stay under 3.5 MB even then — and under 5 MB once signed and
#: base64-wrapped in the DxpMsg — leaving room below every limit on the way. Ordinary lines
#: (~150 bytes) make parts of ~150 KB that sign in milliseconds. Configurable as
#: `intake.parcels_per_message`.
DEFAULT_PER_MESSAGE = 1000
MAX_PER_MESSAGE = 99_999  # gnum is int(5)

#: fields the split sets in every part; a caller giving them would contradict the split
GENERATED = ("guid", "appTime", "msgCount", "msgSeqNo")
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class Shape:
    """Where one kind keeps its head and its parcel lines."""

    kind: DocumentKind
    head: str
    line: str

    @property
    def head_fields(self) -> tuple[str, ...]:
        return checks.FIELDS[self.head]

    @property
    def line_fields(self) -> tuple[str, ...]:
        return checks.FIELDS[self.line]


SHAPES: dict[str, Shape] = {
    "arrival": Shape(ARRIVAL, "ArrivalHead", "ArrivalList"),
    "departure": Shape(DEPARTURE, "DepartureHead", "DepartureList"),
    "waybill_total": Shape(WAYBILL_TOTAL, "WayBillHead", "WayBillList"),
}


@dataclass(frozen=True)
class Part:
    """One message of a split batch."""

    msg_seq_no: int
    msg_count: int
    first: int  # index of its first parcel in the caller's list
    parcels: int
    data: bytes


@dataclass(frozen=True)
class PartOutcome:
    msg_seq_no: int
    parcels: int
    message_id: int | None = None
    documents: tuple[dict[str, Any], ...] = ()
    duplicate: bool = False
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v is not None}
        out["documents"] = list(self.documents)
        return out


@dataclass(frozen=True)
class Sender:
    """The enterprise in BaseTransfer: the one that sends (and signs) the parts."""

    code: str
    name: str
    dxp_id: str


# --- input --------------------------------------------------------------------------------


def shape_of(kind: str) -> Shape:
    shape = SHAPES.get(kind)
    if shape is None:
        allowed = ", ".join(SHAPES)
        raise InvalidMessage(
            [Violation("R-ECX-3", "kind", f"split kinds are {allowed}", value=kind)]
        )
    return shape


def _names(fields: Sequence[str]) -> list[str]:
    return [f.rstrip("?") for f in fields]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def normalise(parcels: Sequence[object]) -> list[dict[str, str]]:
    """A parcel is an object of line fields, or just its logisticsNo."""
    return [
        {"logisticsNo": _text(p)}
        if not isinstance(p, Mapping)
        else {k: _text(v) for k, v in p.items()}
        for p in parcels
    ]


def check_input(shape: Shape, head: Mapping[str, object], parcels: list[dict[str, str]]) -> None:
    """What the caller got wrong before any message is built, by field and rule."""
    problems = [*_check_head(shape, head), *_check_parcels(shape, parcels)]
    if problems:
        raise InvalidMessage(problems)


def _check_head(shape: Shape, head: Mapping[str, object]) -> list[Violation]:
    allowed = set(_names(shape.head_fields)) - set(GENERATED)
    found = []
    for name in head:
        if name in GENERATED:
            text = "is set by the gateway for each part of the split (msgCount/msgSeqNo)"
            found.append(
                Violation(checks_ecx.SEQUENCE, f"head.{name}", text, value=_text(head[name]))
            )
        elif name not in allowed:
            text = f"is not a field of {shape.head}; fields: {', '.join(sorted(allowed))}"
            found.append(Violation(checks.SCHEMA, f"head.{name}", text))
    return found


def _check_parcels(shape: Shape, parcels: list[dict[str, str]]) -> list[Violation]:
    allowed = set(_names(shape.line_fields)) - {"gnum"}
    found = [
        Violation(checks.SCHEMA, f"parcels[{n}].{name}", f"is not a field of {shape.line}")
        for n, parcel in enumerate(parcels)
        for name in parcel
        if name not in allowed
    ]
    found += _repeated(parcels, "logisticsNo")
    if "invtNo" in allowed:
        found += _repeated(parcels, "invtNo")
    return found


def _repeated(parcels: list[dict[str, str]], name: str) -> list[Violation]:
    """A parcel appears once in a batch (R-ECX-3): across parts too, which intake cannot see."""
    first: dict[str, int] = {}
    found = []
    for n, parcel in enumerate(parcels):
        value = parcel.get(name, "")
        if value and value in first:
            text = f"{name} appears more than once in this batch (first as parcels[{first[value]}])"
            found.append(
                Violation(checks_ecx.PARCEL_ONCE, f"parcels[{n}].{name}", text, value=value)
            )
        first.setdefault(value, n)
    return found


# --- building -----------------------------------------------------------------------------


def split(
    shape: Shape,
    sender: Sender,
    head: Mapping[str, object],
    parcels: Sequence[object],
    *,
    per_message: int = DEFAULT_PER_MESSAGE,
    now: datetime | None = None,
) -> list[Part]:
    """The messages of one batch: at most `per_message` parcels each, all with the same
    copNo, numbered msgSeqNo 1..msgCount. Raises InvalidMessage for bad input."""
    if not 1 <= per_message <= MAX_PER_MESSAGE:
        text = f"must be 1 to {MAX_PER_MESSAGE} (gnum is int(5))"
        raise InvalidMessage(
            [Violation("R-ECX-3", "parcels_per_message", text, value=str(per_message))]
        )
    lines = normalise(parcels)
    check_input(shape, head, lines)
    chunks = [lines[i : i + per_message] for i in range(0, len(lines), per_message)] or [[]]
    stamp = f"{(now or utcnow()).astimezone(CHINA_TZ):%Y%m%d%H%M%S}"
    return [
        Part(n, len(chunks), (n - 1) * per_message, len(chunk),
             _message(shape, sender, head, chunk, (n, len(chunks)), stamp))
        for n, chunk in enumerate(chunks, start=1)
    ]  # fmt: skip


def _tag(name: str) -> str:
    return f"{{{CEB_NS}}}{name}"


def _message(
    shape: Shape,
    sender: Sender,
    head: Mapping[str, object],
    lines: list[dict[str, str]],
    seq: tuple[int, int],
    stamp: str,
) -> bytes:
    root = etree.Element(_tag(shape.kind.message_type), {"guid": new_guid(), "version": "1.0"},
                         nsmap={"ceb": CEB_NS})  # fmt: skip
    record = etree.SubElement(root, _tag(shape.kind.record_tag))
    values = {
        "appType": AppType.ADD.value,
        "appStatus": AppStatus.DECLARE.value,
        **{k: _text(v) for k, v in head.items()},
        "guid": new_guid(),
        "appTime": stamp,
        "msgSeqNo": str(seq[0]),
        "msgCount": str(seq[1]),
    }
    _add(record, shape.head, shape.head_fields, values)
    for gnum, line in enumerate(lines, start=1):
        _add(record, shape.line, shape.line_fields, {**line, "gnum": str(gnum)})
    transfer = {
        "copCode": sender.code,
        "copName": sender.name,
        "dxpMode": "DXP",
        "dxpId": sender.dxp_id,
    }
    _add(root, "BaseTransfer", checks.FIELDS["BaseTransfer"], transfer)
    return _DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def _add(
    parent: etree._Element, name: str, fields: Sequence[str], values: Mapping[str, str]
) -> None:
    """Fields in schema order. A missing mandatory field is written empty, so that the
    business checks name it (R-COM-2) instead of the XSD reporting an unexpected element."""
    element = etree.SubElement(parent, _tag(name))
    for spec in fields:
        field_name, optional = spec.rstrip("?"), spec.endswith("?")
        value = values.get(field_name, "")
        if value or not optional:
            etree.SubElement(element, _tag(field_name)).text = value


# --- checking and submitting ------------------------------------------------------------------


def check_parts(parts: Sequence[Part], shape: Shape, max_bytes: int) -> None:
    """XSD and business checks of every part before any is stored: a batch with a bad parcel
    in its last part stores nothing, rather than its first parts only."""
    found: dict[tuple[str, str, str], Violation] = {}
    for part in parts:
        try:
            intake_mod.check(part.data, max_bytes=max_bytes)
        except InvalidMessage as exc:
            for v in exc.violations:
                mapped = _in_caller_terms(v, shape, part)
                found.setdefault((mapped.rule, mapped.field, mapped.message), mapped)
    if found:
        raise InvalidMessage(list(found.values()))


_STEP = re.compile(r"(?:\w+:)?(?P<name>\w+)(?:\[(?P<n>\d+)\])?")


def _in_caller_terms(v: Violation, shape: Shape, part: Part) -> Violation:
    """`Arrival[1]/ArrivalList[17]/logisticsNo` (business checks) or `/ceb:CEB507Message/
    ceb:Arrival/ceb:ArrivalList[17]/ceb:logisticsNo` (XSD) of part 2 → `parcels[1016].
    logisticsNo`; anything else keeps its path, prefixed with the part."""
    steps = [m for m in (_STEP.fullmatch(s) for s in v.field.split("/") if s) if m]
    where = f"part {part.msg_seq_no}: {v.field}"
    if len(steps) >= 2 and steps[-2]["name"] == shape.line:
        where = f"parcels[{part.first + int(steps[-2]['n'] or 1) - 1}].{steps[-1]['name']}"
    elif len(steps) >= 2 and steps[-2]["name"] == shape.head:
        where = f"head.{steps[-1]['name']}"
    return Violation(v.rule, where, v.message, value=v.value)


def sender_of(intake: Intake, code: str) -> Sender:
    with intake.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        if ent is None:
            text = "is not registered with the gateway"
            raise InvalidMessage([Violation("R-COM-3", "enterprise", text, value=code)])
        return Sender(ent.code, ent.name, ent.dxp_id)


@dataclass(frozen=True)
class BatchResult:
    kind: str
    cop_no: str
    parcels: int
    parts: tuple[PartOutcome, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "copNo": self.cop_no,
            "parcels": self.parcels,
            "msgCount": len(self.parts),
            "stored": sum(1 for p in self.parts if p.error is None),
            "parts": [p.as_dict() for p in self.parts],
        }


def submit(
    intake: Intake,
    code: str,
    kind: str,
    head: Mapping[str, object],
    parcels: Sequence[object],
    *,
    per_message: int = DEFAULT_PER_MESSAGE,
    channel: str = "http",
) -> BatchResult:
    """Split, check every part, then submit the parts in order. Each part is its own record:
    one refused at the store (its key live already, R-COM-5) does not undo the others."""
    shape = shape_of(kind)
    parts = split(shape, sender_of(intake, code), head, parcels, per_message=per_message)
    check_parts(parts, shape, intake.max_bytes)
    outcomes = tuple(_submit_part(intake, code, part, channel) for part in parts)
    return BatchResult(kind, _text(head.get("copNo")), len(parcels), outcomes)


def _submit_part(intake: Intake, code: str, part: Part, channel: str) -> PartOutcome:
    try:
        result = intake.submit(code, part.data, channel)
    except GatewayError as exc:
        return PartOutcome(part.msg_seq_no, part.parcels, error=exc.as_dict())
    docs = tuple(d.__dict__ for d in result.documents)
    return PartOutcome(part.msg_seq_no, part.parcels, result.message_id, docs, result.duplicate)
