"""Queries of appointment clearance (R-APT-10) and the port working-time query (R-APT-11).

Every query is scoped to the caller: an enterprise sees the appointments it declared, and —
as consignee (enterprise type B) — those naming it; an admin sees all. Time windows are at
most 15 days (R-COM-7; the manual: "申请时间及预约时间的查询跨度不超过 15 天"), whichever
ends are given: a missing end is now, a missing start is the end − 15 days. A longer window
is refused with the rule, the parameter and the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.appointments import rules
from gateway.appointments.codes import CHINA_TZ
from gateway.appointments.models import Appointment, AptPort
from gateway.appointments.refdata import RefData
from gateway.core.enterprises import Caller
from gateway.core.history import Change, Source, record
from gateway.core.models import Document, StatusChange, utcnow
from gateway.core.status import Status
from gateway.errors import InvalidMessage, Violation

QUERY, PORT_HOURS = "R-APT-10", "R-APT-11"
MAX_WINDOW = timedelta(days=15)
OPERATION_KINDS = ("apt_cancel", "apt_feedback", "apt_explanation")


@dataclass(frozen=True)
class Window:
    """A time filter as asked for: either end may be missing."""

    start: datetime | None = None
    end: datetime | None = None

    def bounded(
        self, params: tuple[str, str], now: datetime
    ) -> tuple[Window | None, list[Violation]]:
        """The window to filter by, None when neither end is given (R-APT-10, R-COM-7): a
        missing end is `now`, a missing start is the end − 15 days. One that ends before it
        starts or spans more than 15 days is refused, naming the parameter (`params`: the
        names of the start and the end parameters)."""
        if self.start is None and self.end is None:
            return None, []
        end = _bj(self.end or now)
        start = _bj(self.start) if self.start is not None else end - MAX_WINDOW
        problem = _problem(params, start, end, open_end=self.end is None)
        if problem is not None:
            return None, [problem]
        return Window(start, end), []


def _problem(
    params: tuple[str, str], start: datetime, end: datetime, *, open_end: bool
) -> Violation | None:
    first, last = params
    span = f"{start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M}"
    now = f"without {last} the window ends now ({end:%Y-%m-%d %H:%M} Beijing time)"
    if end < start:
        if open_end:
            return Violation(QUERY, first, f"is later than now; {now}: give {last}", value=span)
        return Violation(QUERY, last, f"ends before {first}", value=span)
    if end - start <= MAX_WINDOW:
        return None
    limit = "a time window spans at most 15 days (查询跨度不超过 15 天)"
    if open_end:
        earliest = end - MAX_WINDOW
        text = f"{now}; {limit}: {first} is {earliest:%Y-%m-%d %H:%M} at the earliest"
        return Violation(QUERY, first, text, value=span)
    latest = start + MAX_WINDOW
    text = f"{limit}: from {start:%Y-%m-%d %H:%M} it ends {latest:%Y-%m-%d %H:%M} at the latest"
    return Violation(QUERY, last, text, value=span)


def _bj(at: datetime) -> datetime:
    """Beijing time for a naive time, as on the manual's screens."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=CHINA_TZ)).astimezone(CHINA_TZ)


#: the parameters of each window, as the HTTP API names them
APPLIED_PARAMS, START_PARAMS = ("applied_from", "applied_to"), ("start_from", "start_to")


def search(
    session: Session,
    caller: Caller,
    *,
    enterprise_type: str,
    consignee: str | None = None,
    status: str | None = None,
    applied: Window = Window(),
    appointment: Window = Window(),
    pre_no: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Appointments by enterprise type A (declarant) / B (consignee, code required); each
    time window bounded to 15 days (`now` ends a window given without its end)."""
    at = now or utcnow()
    applied_in, problems = applied.bounded(APPLIED_PARAMS, at)
    start_in, more = appointment.bounded(START_PARAMS, at)
    problems += more + _check_search(enterprise_type, consignee)
    if problems:
        raise InvalidMessage(problems)
    stmt = select(Appointment, Document).join(Document, Document.business_key == rules.key_sql())
    stmt = stmt.where(Document.kind == "appointment", Document.status != Status.DELETED.value)
    if enterprise_type == "B" or consignee:
        stmt = stmt.where(Appointment.consignee_code == consignee)
    if not caller.is_admin:
        mine = Appointment.declarant_code == caller.enterprise_code
        if enterprise_type == "B":
            mine = mine | (Appointment.consignee_code == caller.enterprise_code)
        stmt = stmt.where(mine)
    stmt = _filters(stmt, status, applied_in, start_in, pre_no)
    rows = session.execute(stmt.order_by(Appointment.applied_at.desc()).limit(limit))
    return [view(apt, doc) for apt, doc in rows]


def _check_search(enterprise_type: str, consignee: str | None) -> list[Violation]:
    found: list[Violation] = []
    if enterprise_type not in ("A", "B"):
        found.append(Violation(QUERY, "type", "enterprise type is A (declarant) or B (consignee)",
                               value=enterprise_type))  # fmt: skip
    if enterprise_type == "B" and not consignee:
        found.append(Violation(QUERY, "consignee", "type B needs the consignee code", value=""))
    return found


def _filters(stmt: Any, status: str | None, applied: Window | None, appointment: Window | None,
             pre_no: str | None) -> Any:  # fmt: skip
    if status:
        stmt = stmt.where(Document.status == status)
    if pre_no:
        stmt = stmt.where(Document.pre_no == pre_no)
    for column, window in ((Appointment.applied_at, applied), (Appointment.start_at, appointment)):
        if window is not None:  # bounded: both ends are set
            stmt = stmt.where(column >= window.start, column <= window.end)
    return stmt


def view(apt: Appointment, doc: Document) -> dict[str, Any]:
    def bj(at: datetime | None) -> str | None:
        return at.astimezone(CHINA_TZ).isoformat() if at else None

    return {
        "document_id": doc.id,
        "pre_no": doc.pre_no,
        "apt_no": (doc.customs_numbers or {}).get("aptNo"),
        "status": doc.status,
        "status_info": doc.status_info,
        "declarant_code": apt.declarant_code,
        "declarant_name": apt.declarant_name,
        "cop_no": apt.cop_no,
        "consignee_code": apt.consignee_code,
        "consignee_name": apt.consignee_name,
        "decl_port": apt.decl_port,
        "ie_port": apt.ie_port,
        "ie_flag": apt.ie_flag,
        "applied_at": bj(apt.applied_at),
        "submitted_at": bj(apt.submitted_at),
        "start": bj(apt.start_at),
        "end": bj(apt.end_at),
        "feedback_deadline": bj(apt.start_at + rules.FEEDBACK_DAYS),
        "overdue_at": bj(apt.overdue_at),
    }


def receipts(session: Session, caller: Caller, doc_id: int) -> list[dict[str, Any]]:
    """Every customs receipt of one application: its own and those of its operations."""
    doc = own(session, caller, doc_id)
    docs = session.scalars(
        select(Document).where(
            Document.business_key == doc.business_key,
            Document.kind.in_(["appointment", *OPERATION_KINDS]),
        )
    )
    kind_of = {d.id: d.kind for d in docs}
    stmt = (
        select(StatusChange)
        .where(StatusChange.document_id.in_(kind_of), StatusChange.source == Source.CUSTOMS)
        .order_by(StatusChange.return_time, StatusChange.id)
    )
    return [
        {"kind": kind_of[h.document_id], "document_id": h.document_id,
         "return_status": h.return_status, "return_time": h.return_time, "status": h.to_status,
         "info": h.info, "applied": h.applied}
        for h in session.scalars(stmt)
    ]  # fmt: skip


def own(session: Session, caller: Caller, doc_id: int) -> Document:
    from gateway.errors import NotFound

    doc = session.get(Document, doc_id)
    if doc is None or doc.kind != "appointment":
        raise NotFound(f"no appointment {doc_id}")
    if not caller.is_admin and doc.enterprise_id != caller.enterprise_id:
        raise NotFound(f"no appointment {doc_id}")  # another's record answers like a missing one
    return doc


def batch_delete(session: Session, caller: Caller, doc_ids: Sequence[int]) -> list[int]:
    """Delete saved (暂存) appointments only; refuses the whole batch otherwise (R-APT-10)."""
    docs = [own(session, caller, n) for n in doc_ids]
    problems = [
        Violation(QUERY, f"ids[{n}]", "only saved (暂存) appointments can be deleted",
                  value=f"{d.id}: {d.status}")
        for n, d in enumerate(docs)
        if d.status != Status.SAVED.value
    ]  # fmt: skip
    if problems:
        raise InvalidMessage(problems)
    for doc in docs:
        record(session, doc, Change(Status.DELETED, Source.GATEWAY, "batch delete"), None)
    return [d.id for d in docs]


def port_hours(
    session: Session, first: date, last: date, port: str | None = None
) -> list[dict[str, Any]]:
    """Working hours per port and day (R-APT-11); non-working days are not listed."""
    if last < first or last - first > MAX_WINDOW:
        span = f"{first}..{last}"
        raise InvalidMessage([Violation(PORT_HOURS, "from/to", "at most 15 days", value=span)])
    stmt = select(AptPort).order_by(AptPort.code)
    if port:
        stmt = stmt.where(AptPort.code == port)
    ref, out = RefData(session), []
    for p in session.scalars(stmt):
        day = first
        while day <= last:
            hours = ref.working_hours(p, day)
            if hours is not None:
                out.append({"port": p.code, "name": p.name, "date": day.isoformat(),
                            "start": f"{hours[0]:%H:%M}", "end": f"{hours[1]:%H:%M}"})  # fmt: skip
            day += timedelta(days=1)
    return out
