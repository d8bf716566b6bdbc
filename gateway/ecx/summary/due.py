"""Due dates per enterprise (R-ECX-8): what is open, what is due, what is overdue.

A cycle is *open* while lists can still close in it, *due* once it is over and lists of it
are still not in an application, *overdue* past its due date (the 15th of the next month,
rolled to a working day). The counts are GROUP BY queries over the pending lists, one per
cycle between the oldest pending list and today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.config import SummaryConfig
from gateway.core.models import Enterprise, utcnow
from gateway.ecx.summary.cycles import Cycle, WorkingCalendar, beijing_day, cycle_of, due_date
from gateway.ecx.summary.lists import pending_filter
from gateway.ecx.summary.models import SummaryList


@dataclass(frozen=True)
class DueCycle:
    enterprise: str
    cycle: str
    due: date
    pending_lists: int
    state: str  # open / due / overdue
    days_left: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "due": self.due.isoformat()}


def pending_cycles(
    session: Session, now: datetime, kind: str, *, limit: int | None = None
) -> list[Cycle]:
    """Cycles that are over and still have pending lists, oldest first (at most `limit`
    cycles back from the last closed one)."""
    oldest = session.scalar(select(func.min(SummaryList.closed_at)).where(*pending_filter()))
    current = cycle_of(beijing_day(now), kind)
    cycles = _between(cycle_of(beijing_day(oldest), kind), current) if oldest else []
    if limit is not None:
        cycles = cycles[-limit:]
    return [c for c in cycles if _counts(session, c)]


def _between(first: Cycle, current: Cycle) -> list[Cycle]:
    """The cycles from `first` up to, not including, `current`."""
    found = []
    cycle = first
    while cycle.first < current.first:
        found.append(cycle)
        cycle = cycle.next()
    return found


def _counts(session: Session, cycle: Cycle) -> dict[int, int]:
    stmt = (
        select(SummaryList.enterprise_id, func.count())
        .where(
            *pending_filter(),
            SummaryList.closed_at >= cycle.start_at,
            SummaryList.closed_at < cycle.end_at,
        )
        .group_by(SummaryList.enterprise_id)
    )
    return {ent: n for ent, n in session.execute(stmt).all()}


def due_report(
    session: Session,
    settings: SummaryConfig,
    *,
    now: datetime | None = None,
    enterprise_id: int | None = None,
) -> list[DueCycle]:
    """Every enterprise's open cycle, and every cycle over with lists still pending."""
    now = now or utcnow()
    calendar = WorkingCalendar.from_config(settings)
    today = beijing_day(now)
    codes = _enterprises(session, enterprise_id)
    current = cycle_of(today, settings.cycle)
    rows: list[DueCycle] = []
    for cycle in [*pending_cycles(session, now, settings.cycle), current]:
        due = due_date(cycle, calendar, settings.due_day)
        counts = _counts(session, cycle)
        for ent_id, code in codes.items():
            pending = counts.get(ent_id, 0)
            if pending or cycle is current:
                state = _state(cycle is current, due, today)
                rows.append(DueCycle(code, cycle.label, due, pending, state, (due - today).days))
    return sorted(rows, key=lambda r: (r.enterprise, r.cycle))


def _state(is_open: bool, due: date, today: date) -> str:
    if is_open:
        return "open"
    return "overdue" if today > due else "due"


def _enterprises(session: Session, enterprise_id: int | None) -> dict[int, str]:
    stmt = select(Enterprise.id, Enterprise.code).order_by(Enterprise.code)
    if enterprise_id is not None:
        stmt = stmt.where(Enterprise.id == enterprise_id)
    return dict(session.execute(stmt).all())
