"""Summary cycles and due dates (R-ECX-8, customs announcement 2018 No.194): lists closed in
a month are due by the 15th of the following month, rolled to the next working day; cycles
are Beijing time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.core import config as config_mod
from gateway.ecx.summary.cycles import WorkingCalendar, cycle_of, due_date, last_closed, parse_cycle
from gateway.errors import ConfigError

#: the State Council's 2026 notice, as config.yaml carries it
CALENDAR = WorkingCalendar.from_config(config_mod.load(config_mod.DEFAULT_CONFIG).summary)


def test_a_month_is_the_default_cycle_and_its_due_date_is_the_15th_of_the_next() -> None:
    cycle = parse_cycle("2026-03")
    assert (cycle.first, cycle.end) == (date(2026, 3, 1), date(2026, 4, 1))
    assert due_date(cycle, CALENDAR) == date(2026, 4, 15)  # a Wednesday


def test_a_15th_on_a_saturday_rolls_to_monday() -> None:
    assert date(2026, 8, 15).weekday() == 5
    assert due_date(parse_cycle("2026-07"), CALENDAR) == date(2026, 8, 17)


def test_a_15th_on_a_sunday_rolls_to_monday() -> None:
    assert date(2026, 11, 15).weekday() == 6
    assert due_date(parse_cycle("2026-10"), CALENDAR) == date(2026, 11, 16)


def test_a_15th_in_the_spring_festival_rolls_past_the_whole_holiday() -> None:
    # 2026-02-15..23 are public holidays: January's lists are due on Tuesday the 24th.
    assert due_date(parse_cycle("2026-01"), CALENDAR) == date(2026, 2, 24)


def test_a_weekday_holiday_on_the_15th_rolls_to_the_next_working_day() -> None:
    calendar = WorkingCalendar(holidays=frozenset({date(2026, 6, 15)}))  # a Monday
    assert due_date(parse_cycle("2026-05"), calendar) == date(2026, 6, 16)


def test_a_weekend_worked_instead_counts_as_a_working_day() -> None:
    calendar = WorkingCalendar(working_weekends=frozenset({date(2026, 8, 15)}))
    assert due_date(parse_cycle("2026-07"), calendar) == date(2026, 8, 15)


def test_december_is_due_in_january_of_the_next_year() -> None:
    assert due_date(parse_cycle("2025-12"), WorkingCalendar()) == date(2026, 1, 15)


def test_cycles_are_beijing_days() -> None:
    cycle = parse_cycle("2026-02")
    # 2026-01-31 16:30 UTC is 2026-02-01 00:30 in Beijing: February
    assert cycle.start_at == datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    assert last_closed(datetime(2026, 2, 28, 16, 30, tzinfo=UTC)) == parse_cycle("2026-02")
    assert last_closed(datetime(2026, 2, 28, 15, 30, tzinfo=UTC)) == parse_cycle("2026-01")


def test_weekly_cycles_are_iso_weeks_due_with_the_month_they_start_in() -> None:
    week = parse_cycle("2026-W05")
    assert (week.first, week.end) == (date(2026, 1, 26), date(2026, 2, 2))
    assert cycle_of(date(2026, 1, 28), "weekly") == week
    assert week.next().label == "2026-W06" and week.previous().label == "2026-W04"
    assert due_date(week, CALENDAR) == date(2026, 2, 24)


@pytest.mark.parametrize("label", ["2026-13", "2026/01", "26-01", "2026-W54", ""])
def test_a_bad_cycle_label_is_refused_naming_the_forms(label: str) -> None:
    with pytest.raises(ConfigError, match="YYYY-MM"):
        parse_cycle(label)


def test_config_reads_holiday_ranges_and_refuses_bad_settings() -> None:
    settings = config_mod._summary(
        {"holidays": ["2026-10-01..2026-10-03", date(2026, 12, 25)], "cycle": "weekly"}
    )
    assert settings.holidays == {date(2026, 10, d) for d in (1, 2, 3)} | {date(2026, 12, 25)}
    with pytest.raises(ConfigError, match="holidays"):
        config_mod._summary({"holidays": ["Oct 1"]})
    with pytest.raises(ConfigError, match="monthly or weekly"):
        config_mod._summary({"cycle": "daily"})
    with pytest.raises(ConfigError, match="applies_per_message"):
        config_mod._summary({"applies_per_message": 101})
