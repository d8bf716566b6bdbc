"""Summary cycles and their due dates (R-ECX-8, customs announcement 2018 No.194).

Lists closed (结关) in a month are merged into summary declarations due by the 15th of the
following month, rolled to the next working day when the 15th is not one. Cycles and days
are Beijing time: a list closed at 23:30 UTC on the 31st belongs to the next month.

A cycle is a calendar month ("2026-01", the announcement's cycle and the default) or, for
enterprises that declare more often, an ISO week ("2026-W03"); a week's due date is the one
of the month it starts in. Working days are Monday to Friday, less the configured public
holidays, plus the weekend days worked instead (调休) — the State Council publishes them once
a year, so they are configuration, not code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from gateway.codes import CHINA_TZ
from gateway.core.config import SummaryConfig
from gateway.errors import ConfigError

#: how far the roll to a working day may go (the longest holiday is 9 days)
MAX_ROLL_DAYS = 31


@dataclass(frozen=True)
class Cycle:
    """A span of closing days [first, end), Beijing time."""

    label: str
    first: date
    end: date  # exclusive

    @property
    def start_at(self) -> datetime:
        return _midnight(self.first)

    @property
    def end_at(self) -> datetime:
        return _midnight(self.end)

    @property
    def compact(self) -> str:
        """The label without separators, for document numbers (202601, 2026W03)."""
        return self.label.replace("-", "")

    def previous(self) -> Cycle:
        return cycle_of(self.first - timedelta(days=1), self.kind)

    def next(self) -> Cycle:
        return cycle_of(self.end, self.kind)

    @property
    def kind(self) -> str:
        return "weekly" if "W" in self.label else "monthly"

    def __str__(self) -> str:
        last = self.end - timedelta(days=1)
        return f"{self.label} ({self.first:%Y-%m-%d}..{last:%Y-%m-%d})"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA_TZ).astimezone(UTC)


def beijing_day(at: datetime) -> date:
    return at.astimezone(CHINA_TZ).date()


def cycle_of(day: date, kind: str = "monthly") -> Cycle:
    """The cycle holding `day`."""
    if kind == "weekly":
        first = day - timedelta(days=day.weekday())
        year, week, _ = first.isocalendar()
        return Cycle(f"{year}-W{week:02d}", first, first + timedelta(days=7))
    first = day.replace(day=1)
    return Cycle(f"{first:%Y-%m}", first, _month_after(first))


def _month_after(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")


def parse_cycle(label: str) -> Cycle:
    """The cycle of a label like 2026-01 (monthly) or 2026-W03 (weekly); ConfigError else."""
    text = label.strip()
    if month := _MONTH.fullmatch(text):
        year, number = int(month[1]), int(month[2])
        if 1 <= number <= 12:
            return cycle_of(date(year, number, 1))
    if week := _WEEK.fullmatch(text):
        try:
            return cycle_of(date.fromisocalendar(int(week[1]), int(week[2]), 1), "weekly")
        except ValueError:
            pass
    raise ConfigError(f"cycle {label!r}: expected YYYY-MM (monthly) or YYYY-Www (weekly)")


def last_closed(now: datetime, kind: str = "monthly") -> Cycle:
    """The newest cycle that is over at `now`: the one the scheduled run declares."""
    return cycle_of(beijing_day(now), kind).previous()


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, settings: SummaryConfig) -> WorkingCalendar:
        return cls(settings.holidays, settings.working_weekends)

    def is_working(self, day: date) -> bool:
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def on_or_after(self, day: date) -> date:
        for n in range(MAX_ROLL_DAYS):
            candidate = day + timedelta(days=n)
            if self.is_working(candidate):
                return candidate
        raise ConfigError(f"no working day within {MAX_ROLL_DAYS} days of {day}: check holidays")


def nominal_due(cycle: Cycle, due_day: int = 15) -> date:
    """The due day in the month after the month the cycle starts in, before rolling."""
    return _month_after(cycle.first).replace(day=due_day)


def due_date(cycle: Cycle, calendar: WorkingCalendar, due_day: int = 15) -> date:
    """R-ECX-8: the `due_day` (15th) of the following month, or the next working day."""
    return calendar.on_or_after(nominal_due(cycle, due_day))
