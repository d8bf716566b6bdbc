"""The appointment rules R-APT-1..8, as plain functions over one record and the store.

Each function returns violations (never raises): a refusal names the rule, the field (a
readable path) and the offending value, and every problem is reported at once. Times are
Beijing time on the wire (aptStartTime, appTime) and aware datetimes here.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from lxml import etree
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.appointments.codes import (
    APPROVED_OPEN,
    BLOCKING,
    CANCELLABLE,
    CHINA_TZ,
    TRAF_MODES,
    CreditClass,
    IeFlag,
)
from gateway.appointments.models import Appointment, AptEnterprise, AptPort
from gateway.appointments.refdata import RefData
from gateway.codes import AppStatus, AppType
from gateway.core import checks
from gateway.core.kinds import Record, key_text
from gateway.core.models import Document
from gateway.core.status import Status, status_of
from gateway.errors import Violation

# --- rule ids and limits -------------------------------------------------------------------------

FIELDS, CREDIT, BLOCKS, HOURS, LEAD = "R-APT-1", "R-APT-2", "R-APT-3", "R-APT-4", "R-APT-5"
FEEDBACK, CANCEL, EXPLAIN, SENDER = "R-APT-6", "R-APT-7", "R-APT-8", "R-COM-3"

DURATION = timedelta(hours=2)  # end = start + 2 h (R-APT-1)
FEEDBACK_DAYS = timedelta(days=5)  # R-APT-6, R-APT-9
MAX_PDFS, MAX_PDF_BYTES, MAX_PAGE_BYTES = 5, 4 * 1024 * 1024, 200 * 1024  # R-APT-1, R-COM-6
MAX_NAMES_CHARS = 4000  # all goods names together (R-APT-1)
MAX_REASON_BYTES = 500  # 预约通关事由, counted in GB18030 bytes as the form counts them
MAX_ENTRIES = 50  # declaration numbers per feedback (R-APT-6)
#: (different customs, same customs) lead hours, general then advanced credit (R-APT-5)
LEAD_HOURS = {(False, False): 24, (False, True): 8, (True, False): 8, (True, True): 4}
DISHONEST = "失信企业不允许操作"

_PORT = re.compile(r"[0-9]{4}")
_MOBILE = re.compile(r"1[0-9]{10}")
_ENTRY = re.compile(r"[0-9]{18}")
_HS = re.compile(r"[0-9]{4,10}")
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


@dataclass(frozen=True)
class Where:
    """Names fields of one record for violations: `Appointment[2]/AppointmentHead/iePort`."""

    path: str
    line: int | None

    @classmethod
    def of(cls, rec: Record, head: str | None, index: int) -> Where:
        tag = etree.QName(rec.element).localname
        return cls(f"{tag}[{index}]" + (f"/{head}" if head else ""), rec.element.sourceline)

    def v(self, rule: str, name: str, message: str, value: object = None) -> Violation:
        shown = None if value is None else str(value)
        return Violation(rule, f"{self.path}/{name}", message, self.line, shown)


def parse_time(text: str) -> datetime | None:
    """YYYYMMDDhhmmss in Beijing time, or None."""
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=CHINA_TZ)
    except ValueError:
        return None


def wire_time(at: datetime) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")


def is_declare(rec: Record) -> bool:
    return rec.app_status == AppStatus.DECLARE


# --- common fields -------------------------------------------------------------------------------


def common(rec: Record, where: Where, mandatory: Sequence[str], ent_code: str) -> list[Violation]:
    """Codes, guid, appTime, mandatory fields and the sender (R-COM-1/2/3)."""
    found: list[Violation] = []
    for name in ("guid", "appType", "appStatus", "appTime"):
        rule, check = checks.VALUE_RULES[name]
        value = rec.fields.get(name, "")
        problem = check(value) if value else "must not be empty"
        if problem:
            found.append(where.v(rule, name, problem, value))
    needed = mandatory if is_declare(rec) else ("copNo", "declarantCode")
    found += [
        where.v("R-COM-2", n, "must not be empty", "") for n in needed if not rec.fields.get(n)
    ]
    declarant = rec.fields.get("declarantCode", "")
    if declarant and declarant != ent_code:
        message = f"must be the authenticated enterprise's code {ent_code!r} (from the card)"
        found.append(where.v(SENDER, "declarantCode", message, declarant))
    return found


# --- the appointment request ---------------------------------------------------------------------

REQUEST_MANDATORY = tuple(
    [
        "copNo",
        "declarantCode",
        "declarantUscc",
        "declarantCiqCode",
        "declarantName",
        "consigneeCode",
        "contactName",
        "contactMobile",
        "declPort",
        "iePort",
        "trafMode",
        "aptStartTime",
        "reason",
        "ieFlag",
    ]
)


@dataclass(frozen=True)
class Request:
    """What the rules read of one appointment request."""

    rec: Record
    where: Where
    lines: tuple[dict[str, str], ...]
    attachments: tuple[tuple[str, str, int | None], ...]  # file name, base64, line

    @classmethod
    def of(cls, rec: Record, index: int) -> Request:
        lines, files = [], []
        for child in rec.element:
            name = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if name == "AppointmentList":
                lines.append({etree.QName(c).localname: (c.text or "").strip() for c in child})
            elif name == "AppointmentAttachment":
                files.append(attachment_of(child))
        return cls(rec, Where.of(rec, "AppointmentHead", index), tuple(lines), tuple(files))

    def get(self, name: str) -> str:
        return self.rec.fields.get(name, "")

    @property
    def start(self) -> datetime | None:
        return parse_time(self.get("aptStartTime"))


def attachment_of(element: etree._Element) -> tuple[str, str, int | None]:
    fields = {etree.QName(c).localname: c.text or "" for c in element if isinstance(c.tag, str)}
    return fields.get("fileName", "").strip(), fields.get("fileContent", ""), element.sourceline


def check_request(ref: RefData, req: Request, ent_code: str, at: datetime) -> list[Violation]:
    """Every rule a request must pass when taken in at `at` (R-APT-1..5)."""
    rec, where = req.rec, req.where
    found = common(rec, where, REQUEST_MANDATORY, ent_code)
    if rec.app_type == AppType.DELETE:
        return found
    found += list(request_fields(ref, req))
    found += list(attachments(where, req.attachments, MAX_PDFS, "AppointmentAttachment"))
    found += list(credit_and_blocks(ref, req))
    if is_declare(rec):
        found += list(hours_and_lead_time(ref, req, at))
    return found


def request_fields(ref: RefData, req: Request) -> Iterator[Violation]:
    """R-APT-1: codes, ports, times, reason, goods lines."""
    w = req.where
    for name in ("declPort", "iePort"):
        value = req.get(name)
        if value and not _PORT.fullmatch(value):
            yield w.v(FIELDS, name, "must be a 4-digit port code", value)
        elif value and ref.port(value) is None:
            yield w.v(FIELDS, name, "is not a known port (see the port working-time query)", value)
    checks_by_field = {
        "ieFlag": (lambda v: v in set(IeFlag), "must be I (import) or E (export)"),
        "trafMode": (lambda v: v in TRAF_MODES, "is not a transport mode code (0-9)"),
        "contactMobile": (lambda v: bool(_MOBILE.fullmatch(v)), "must be an 11-digit mobile no."),
        "consigneeCode": (lambda v: len(v) == 10, "must be the 10-digit customs code"),
    }
    for name, (ok, message) in checks_by_field.items():
        value = req.get(name)
        if value and not ok(value):
            yield w.v(FIELDS, name, message, value)
    yield from _times(req)
    reason = req.get("reason")
    size = len(reason.encode("gb18030"))
    if size > MAX_REASON_BYTES:
        yield w.v(FIELDS, "reason", f"is {size} bytes; at most {MAX_REASON_BYTES}", reason[:40])
    yield from goods_lines(ref, req)


def _times(req: Request) -> Iterator[Violation]:
    w, text = req.where, req.get("aptStartTime")
    start = req.start
    if text and start is None:
        yield w.v(FIELDS, "aptStartTime", "must be 14 digits YYYYMMDDhhmmss, a real time", text)
    end = req.get("aptEndTime")
    if start is not None and end and end != wire_time(start + DURATION):
        expected = wire_time(start + DURATION)
        yield w.v(FIELDS, "aptEndTime", f"is computed: start + 2 h = {expected}", end)


def goods_lines(ref: RefData, req: Request) -> Iterator[Violation]:
    total = 0
    for n, line in enumerate(req.lines, start=1):
        w = Where(f"{req.where.path.rsplit('/', 1)[0]}/AppointmentList[{n}]", req.where.line)
        if line.get("gnum") != str(n):
            yield w.v(FIELDS, "gnum", f"line numbers run 1, 2, 3…; expected {n}", line.get("gnum"))
        hs, name = line.get("hsCode", ""), line.get("goodsName", "")
        total += len(name)
        if not name:
            yield w.v("R-COM-2", "goodsName", "must not be empty", "")
        if not _HS.fullmatch(hs):
            yield w.v(FIELDS, "hsCode", "must be at least 4 (at most 10) digits", hs)
        elif not ref.tariff_lines(hs, limit=1):
            yield w.v(FIELDS, "hsCode", "does not resolve to any line of the HS tariff", hs)
    if total > MAX_NAMES_CHARS:
        w = Where(req.where.path.rsplit("/", 1)[0], req.where.line)
        yield w.v(
            FIELDS,
            "AppointmentList/goodsName",
            f"all goods names together are {total} characters; at most {MAX_NAMES_CHARS}",
            total,
        )


def attachments(
    where: Where, files: Sequence[tuple[str, str, int | None]], limit: int, tag: str
) -> Iterator[Violation]:
    """PDF only, at most `limit` files of 4 MB, at most 200 KB per page (R-APT-1, R-COM-6)."""
    rule = FIELDS if tag == "AppointmentAttachment" else EXPLAIN
    base = where.path.rsplit("/", 1)[0] if tag == "AppointmentAttachment" else where.path
    if len(files) > limit:
        yield Where(base, where.line).v(rule, tag, f"at most {limit} PDF file(s)", len(files))
    for n, (name, content, line) in enumerate(files, start=1):
        w = Where(f"{base}/{tag}[{n}]", line)
        try:
            data = base64.b64decode("".join(content.split()), validate=True)
        except (binascii.Error, ValueError):
            yield w.v(rule, "fileContent", "is not base64", name)
            continue
        yield from _pdf(w, rule, name, data)


def _pdf(w: Where, rule: str, name: str, data: bytes) -> Iterator[Violation]:
    if not name.lower().endswith(".pdf") or not data.startswith(b"%PDF-"):
        yield w.v(rule, "fileName", "only PDF files are accepted", name)
        return
    if len(data) > MAX_PDF_BYTES:
        yield w.v(rule, "fileContent", f"{name} is {len(data)} bytes; at most 4 MB", len(data))
    pages = len(_PAGE.findall(data))
    if pages == 0:
        yield w.v(rule, "fileContent", f"{name} has no pages", name)
    elif len(data) > pages * MAX_PAGE_BYTES:
        per_page = len(data) // pages
        yield w.v(
            rule,
            "fileContent",
            f"{name} has {pages} page(s), {per_page} bytes per page; at most 200 KB a page",
            per_page,
        )


def credit_and_blocks(ref: RefData, req: Request) -> Iterator[Violation]:
    """R-APT-2 (dishonest refused) and R-APT-3 (qualification, open 'cleared, no feedback')."""
    yield from enterprises(ref, req)
    if req.rec.app_type != AppType.DELETE:
        codes = (req.get("declarantCode"), req.get("consigneeCode"))
        yield from _blocking(ref.session, req.where, *codes)


def customs_recheck(ref: RefData, req: Request, at: datetime) -> list[Violation]:
    """What customs checks again on its side (all but the gateway's view of blocks)."""
    found = list(request_fields(ref, req))
    found += attachments(req.where, req.attachments, MAX_PDFS, "AppointmentAttachment")
    found += enterprises(ref, req)
    return found or list(hours_and_lead_time(ref, req, at))


def enterprises(ref: RefData, req: Request) -> Iterator[Violation]:
    """Declarant and consignee are registered, honest (R-APT-2) and qualified (R-APT-3)."""
    w = req.where
    for name in ("declarantCode", "consigneeCode"):
        code = req.get(name)
        if not code:
            continue
        found = ref.enterprise(code)
        if found is None:
            yield w.v(FIELDS, name, "is not an enterprise registered with customs", code)
        elif found.dishonest:
            yield w.v(CREDIT, name, f"{DISHONEST} ({found.name} is dishonest, 失信)", code)
        elif not found.qualified:
            yield w.v(BLOCKS, name, f"{found.name} has no customs declaration qualification", code)
        if found is not None and name == "declarantCode":
            yield from _registered(w, found, req)


def _registered(w: Where, found: AptEnterprise, req: Request) -> Iterator[Violation]:
    """The declarant's USCC and CIQ code are those registered (the card fills them)."""
    for name, registered in (("declarantUscc", found.uscc), ("declarantCiqCode", found.ciq_code)):
        value = req.get(name)
        if value and value != registered:
            yield w.v(FIELDS, name, f"is not the declarant's registered code {registered}", value)


def _blocking(session: Session, w: Where, *codes: str) -> Iterator[Violation]:
    for field_name, code in zip(("declarantCode", "consigneeCode"), codes, strict=True):
        if not code:
            continue
        stmt = (
            select(Appointment.cop_no, Document.status)
            .join(Document, Document.business_key == key_sql())
            .where(
                Document.kind == "appointment",
                Document.status.in_([s.value for s in BLOCKING]),
                (Appointment.declarant_code == code) | (Appointment.consignee_code == code),
            )
        )
        for cop_no, status in session.execute(stmt.limit(3)):
            yield w.v(
                BLOCKS,
                field_name,
                f"enterprise {code} has appointment {cop_no} in state {status}"
                " (cleared without feedback / overdue): feed back or explain it first",
                code,
            )


def key_sql() -> ColumnElement[str]:
    """The request document's business key, computed in SQL (kinds.key_text)."""
    return Appointment.declarant_code + "|" + Appointment.cop_no


def credit_class(ref: RefData, req: Request) -> CreditClass:
    """The lower credit class of declarant and consignee (R-APT-2)."""
    found = [ref.enterprise(req.get(n)) for n in ("declarantCode", "consigneeCode")]
    classes = [CreditClass(e.credit_class) for e in found if isinstance(e, AptEnterprise)]
    if len(classes) == 2 and all(c.is_advanced for c in classes):
        return CreditClass.ADVANCED
    return CreditClass.GENERAL


def hours_and_lead_time(ref: RefData, req: Request, at: datetime) -> Iterator[Violation]:
    """R-APT-4 (outside working hours) and R-APT-5 (lead time before the last working day)."""
    start, port = req.start, ref.port(req.get("iePort"))
    if start is None or port is None:
        return
    w, shown = req.where, req.get("aptStartTime")
    overlap = working_overlap(ref, port, start, start + DURATION)
    if overlap is not None:
        end = start + DURATION
        span = f"{overlap[0]:%Y-%m-%d %H:%M}-{overlap[1]:%H:%M}"
        yield w.v(
            HOURS,
            "aptStartTime",
            f"the appointment {start:%H:%M}-{end:%H:%M} (start + 2 h) runs into the working"
            f" hours of port {port.code} ({span}); the whole appointment time must be"
            " non-working time",
            shown,
        )
        return
    yield from _lead_time(ref, req, port, start, at)


def working_overlap(
    ref: RefData, port: AptPort, start: datetime, end: datetime
) -> tuple[datetime, datetime] | None:
    """The port's working hours the window [start, end) overlaps, or None (R-APT-4). Every
    day the window touches is looked at: a window may cross midnight."""
    local_start, local_end = start.astimezone(CHINA_TZ), end.astimezone(CHINA_TZ)
    day = local_start.date()
    while day <= local_end.date():
        hours = ref.working_hours(port, day)
        if hours is not None and hours[0] < local_end and local_start < hours[1]:
            return hours
        day += timedelta(days=1)
    return None


def _lead_time(
    ref: RefData, req: Request, port: AptPort, start: datetime, at: datetime
) -> Iterator[Violation]:
    w, shown = req.where, req.get("aptStartTime")
    end_of_day = ref.last_working_end(port, start)
    if end_of_day is None:
        yield w.v(LEAD, "aptStartTime", f"port {port.code} has no working day before it", shown)
        return
    same = req.get("declPort") == req.get("iePort")
    advanced = credit_class(ref, req).is_advanced
    hours = LEAD_HOURS[(same, advanced)]
    latest = end_of_day - timedelta(hours=hours)
    if at > latest:
        which = "same" if same else "different"
        credit = "advanced" if advanced else "general"
        yield w.v(
            LEAD,
            "aptStartTime",
            f"{which} declaring and I/E customs, {credit} credit: request at least {hours} h"
            f" before the end of the last working day ({end_of_day:%Y-%m-%d %H:%M}), i.e. by"
            f" {latest:%Y-%m-%d %H:%M} Beijing time;"
            f" submitted {at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}",
            shown,
        )


# --- operations on an appointment: cancel, feedback, explanation ----------------------------------


@dataclass(frozen=True)
class Target:
    """The appointment an operation names, with its request document."""

    appointment: Appointment
    document: Document

    @property
    def status(self) -> StrEnum:
        return status_of(self.document.status)


def find_target(session: Session, declarant: str, cop_no: str) -> Target | None:
    apt = session.scalar(
        select(Appointment).where(
            Appointment.declarant_code == declarant, Appointment.cop_no == cop_no
        )
    )
    doc = session.scalar(
        select(Document).where(
            Document.kind == "appointment",
            Document.business_key == key_text((declarant, cop_no)),
            Document.status != Status.DELETED.value,
        )
    )
    return Target(apt, doc) if apt is not None and doc is not None else None


def target_or_violation(
    session: Session, rec: Record, where: Where, rule: str
) -> Target | Violation:
    declarant, cop_no = rec.fields.get("declarantCode", ""), rec.fields.get("copNo", "")
    target = find_target(session, declarant, cop_no)
    if target is None:
        return where.v(rule, "copNo", f"no appointment {cop_no} of declarant {declarant}", cop_no)
    return target


def check_cancel(target: Target, where: Where, at: datetime) -> Iterator[Violation]:
    """R-APT-7: accepted or booked, and strictly before the appointment time."""
    if target.status not in CANCELLABLE:
        yield where.v(
            CANCEL,
            "copNo",
            f"appointment is {target.status.value}; only accepted (已受理) or booked"
            " (预约成功) appointments can be cancelled",
            target.status.value,
        )
    start = target.appointment.start_at
    if at >= start:
        yield where.v(
            CANCEL,
            "appTime",
            f"the appointment time {start.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} has come;"
            " it can no longer be cancelled",
            wire_time(at),
        )


def check_feedback(
    ref: RefData, target: Target, where: Where, entries: Sequence[tuple[str, int | None]]
) -> Iterator[Violation]:
    """R-APT-6: approved, 1..50 18-digit numbers matching the appointment, declared after it."""
    if target.status not in APPROVED_OPEN:
        yield where.v(
            FEEDBACK,
            "copNo",
            f"appointment is {target.status.value}; numbers are fed back only after"
            " approval and before an explanation",
            target.status.value,
        )
    seen: set[str] = set()
    for n, (entry, line) in enumerate(entries, start=1):
        w = Where(f"{where.path.rsplit('/', 1)[0]}/AptFeedbackList[{n}]", line)
        if n > MAX_ENTRIES:
            yield w.v(FEEDBACK, "entryId", f"at most {MAX_ENTRIES} declaration numbers", entry)
            continue
        if entry in seen:
            yield w.v(FEEDBACK, "entryId", "appears twice", entry)
        seen.add(entry)
        yield from _entry(ref, target.appointment, w, entry)


def _entry(ref: RefData, apt: Appointment, w: Where, entry: str) -> Iterator[Violation]:
    if not _ENTRY.fullmatch(entry):
        yield w.v(FEEDBACK, "entryId", "must be an 18-digit declaration number", entry)
        return
    decl = ref.declaration(entry)
    if decl is None:
        yield w.v(FEEDBACK, "entryId", "customs knows no declaration with this number", entry)
        return
    pairs = (
        ("I/E flag", decl.ie_flag, apt.ie_flag),
        ("declarant", decl.declarant_code, apt.declarant_code),
        ("consignee", decl.consignee_code, apt.consignee_code),
        ("declaring port", decl.decl_port, apt.decl_port),
        ("I/E port", decl.ie_port, apt.ie_port),
    )
    for what, theirs, ours in pairs:
        if theirs != ours:
            yield w.v(
                FEEDBACK,
                "entryId",
                f"{what} of the declaration is {theirs}, the appointment's is {ours}",
                entry,
            )
    submitted = apt.submitted_at
    if submitted is not None and decl.declared_at <= submitted:
        yield w.v(
            FEEDBACK,
            "entryId",
            f"declared {decl.declared_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}, not after the"
            f" appointment was submitted ({submitted.astimezone(CHINA_TZ):%Y-%m-%d %H:%M})",
            entry,
        )


def check_explanation(
    session: Session, target: Target, where: Where, rec: Record
) -> Iterator[Violation]:
    """R-APT-8: approved, nothing fed back, never explained before."""
    if target.status not in APPROVED_OPEN:
        yield where.v(
            EXPLAIN,
            "copNo",
            f"appointment is {target.status.value}; an explanation is sent only after"
            " approval when no numbers were fed back",
            target.status.value,
        )
    key = key_text((rec.fields.get("declarantCode", ""), rec.fields.get("copNo", "")))
    for kind, what in (("apt_feedback", "numbers were fed back"), ("apt_explanation", "")):
        earlier = session.scalar(
            select(Document.status).where(
                Document.kind == kind,
                Document.business_key == key,
                Document.status.not_in(NOT_SENT),
            )
        )
        if earlier is not None and kind == "apt_explanation":
            yield where.v(
                EXPLAIN,
                "copNo",
                f"an explanation was already sent ({earlier}); it can be sent once only",
                rec.fields.get("copNo"),
            )
        elif earlier is not None:
            yield where.v(
                EXPLAIN,
                "copNo",
                f"{what} ({earlier}): no explanation needed",
                rec.fields.get("copNo"),
            )


#: states of an operation document that do not count as sent to customs
NOT_SENT = [
    s.value
    for s in (
        Status.SAVED,
        Status.DELETED,
        Status.RETURNED,
        Status.STORE_FAILED,
        Status.FORMAT_FAILED,
        Status.SECURITY_FAILED,
        Status.SIGNING_FAILED,
    )
]
