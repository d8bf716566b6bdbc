"""The summary job on schedule (R-ECX-8): APScheduler 3 with the persistent job store in the
gateway database and the database lease of `job_leases`, so that several gateway processes
run it once, and a run missed while every gateway was down still happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select, text

from gateway.core.db import Database
from gateway.core.jobs import JobLease
from gateway.core.models import Document
from gateway.core.runtime import Gateway
from gateway.ecx.summary import schedule
from gateway.ecx.summary.job import intake_submit
from gateway.ecx.summary.models import SummaryList
from gateway.ecx.summary.schedule import JOB, SummaryJob, start_scheduler
from tests.summary_fixtures import (
    JANUARY,
    b_parcels,
    close_lists,
    declare_b_lists,
    party,
    quiet_gateway,
    set_closed_at,
)


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    made = quiet_gateway(tmp_path, keys_dir)
    numbers = close_lists(made, declare_b_lists(made, b_parcels(party(made), 3, 1)))
    set_closed_at(made.db, numbers, JANUARY)  # an overdue cycle: the next run declares it
    yield made
    made.db.dispose()


def _job(gw: Gateway, db: Database | None = None, submit: Any = None) -> SummaryJob:
    return SummaryJob(db or gw.db, gw.config.summary, submit or intake_submit(gw.intake))


def _declared(db: Database) -> tuple[int, int]:
    """(summary applications, lists linked to one)."""
    with db.session() as session:
        docs = session.scalar(select(func.count()).where(Document.kind == "summary"))
        linked = session.scalar(select(func.count()).where(SummaryList.summary_key.is_not(None)))
    return int(docs or 0), int(linked or 0)


def test_of_two_processes_ticking_at_once_one_runs_the_other_returns(gw: Gateway) -> None:
    inside, other_done = threading.Event(), threading.Event()
    real = intake_submit(gw.intake)

    def slow_submit(code: str, data: bytes) -> int:
        inside.set()
        assert other_done.wait(10)
        return real(code, data)

    second_db = Database(gw.config.database_url)  # another process's own connections
    results: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: results.update(a=_job(gw, submit=slow_submit).tick(owner="host:1"))
    )
    first.start()
    assert inside.wait(10)
    results["b"] = _job(gw, db=second_db).tick(owner="host:2")
    other_done.set()
    first.join(10)
    second_db.dispose()
    assert results["b"] is None
    assert results["a"] and sum(r.lists for r in results["a"]) == 3
    assert _declared(gw.db)[1] == 3
    with gw.db.session() as session:
        lease = session.get(JobLease, JOB)
        assert lease is not None and lease.last_result and "3 list(s)" in lease.last_result


def test_two_schedulers_on_one_job_store_declare_the_lists_once(gw: Gateway) -> None:
    second_db = Database(gw.config.database_url)
    when = _soon(1.5)
    executed: list[Any] = []
    schedulers = []
    for db in (gw.db, second_db):
        sched = start_scheduler(_job(gw, db=db), when=when)
        sched.add_listener(lambda event: executed.append(event.retval), EVENT_JOB_EXECUTED)
        schedulers.append(sched)
    with gw.db.session() as session:
        stored = session.execute(text("SELECT count(*) FROM apscheduler_jobs")).scalar()
    assert stored == 1  # one job in the shared store, not one per scheduler
    deadline = time.monotonic() + 15
    while not executed and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # let the other scheduler fire too, if it saw the job in time
    for sched in schedulers:
        sched.shutdown(wait=True)
    second_db.dispose()
    # The other fired too, or not, depending on timing: it either found the lease taken
    # (None) or, after the release, nothing left to declare.
    ran = [r for r in executed if r and sum(run.lists for run in r)]
    assert len(ran) == 1 and sum(run.lists for run in ran[0]) == 3
    docs, linked = _declared(gw.db)
    assert linked == 3 and docs == sum(len(run.applications) for run in ran[0])


def test_the_job_is_stored_once_and_a_restart_keeps_its_next_run(gw: Gateway) -> None:
    first = start_scheduler(_job(gw))
    stored = first.get_job(JOB)
    assert stored.func_ref == "gateway.ecx.summary.schedule:scheduled_run"
    assert "day='1', hour='2', minute='0'" in str(stored.trigger)
    planned = stored.next_run_time
    first.shutdown(wait=True)
    again = start_scheduler(_job(gw))
    assert again.get_job(JOB).next_run_time == planned
    again.shutdown(wait=True)
    moved = _job(gw)
    moved.settings = type(gw.config.summary)(run_day=2)  # a configuration change
    third = start_scheduler(moved)
    assert third.get_job(JOB).next_run_time.day == 2
    third.shutdown(wait=True)


def _soon(seconds: float) -> IntervalTrigger:
    """A trigger that keeps going (a monthly one would not fire during a test)."""
    start = datetime.now(UTC) + timedelta(seconds=seconds)
    return IntervalTrigger(days=30, start_date=start, timezone=UTC)


def test_a_run_missed_while_every_gateway_was_down_runs_at_the_next_start(gw: Gateway) -> None:
    when = _soon(1.0)
    start_scheduler(_job(gw), when=when).shutdown(wait=True)  # stored, then every gateway down
    time.sleep(1.5)  # the run falls due while nothing runs
    executed: list[Any] = []
    up = start_scheduler(_job(gw), when=when)
    up.add_listener(lambda event: executed.append(event.retval), EVENT_JOB_EXECUTED)
    deadline = time.monotonic() + 15
    while not executed and time.monotonic() < deadline:
        time.sleep(0.1)
    up.shutdown(wait=True)
    assert executed and executed[0] and sum(r.lists for r in executed[0]) == 3
    assert _declared(gw.db)[1] == 3


def test_a_job_fired_for_a_database_this_process_does_not_serve_does_nothing() -> None:
    assert schedule.scheduled_run("postgresql://nobody@nowhere/none") is None
