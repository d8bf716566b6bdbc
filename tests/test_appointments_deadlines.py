"""R-APT-9: the deadline job, its reminders, and the lease that makes it run once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

import pytest

from gateway.appointments import samples as apt
from gateway.appointments.codes import AptStatus
from gateway.appointments.deadlines import run_deadlines, take_lease, tick
from gateway.core.status import Status
from tests.apt_fixtures import EBC, AptEnv, bj, make_env, rules_of

START = "2026-12-05 10:00"  # Saturday
LAST_MINUTE = bj("2026-12-10 09:59")  # the last minute of the 5th day after the appointment
FIRST_AFTER = bj("2026-12-10 10:00")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AptEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _booked(env: AptEnv, cop_no: str, status: StrEnum = AptStatus.BOOKED) -> int:
    doc = env.request(cop_no, START, "2026-11-20 09:00")
    env.set_status(doc, status)
    return doc


@pytest.mark.parametrize("status", [AptStatus.BOOKED, AptStatus.CLEARED_NO_FEEDBACK])
def test_overdue_from_the_first_minute_after_the_5th_day_R_APT_9(
    env: AptEnv, status: Status
) -> None:
    doc = _booked(env, "D1", status)
    run = run_deadlines(env.db, LAST_MINUTE)
    assert run.overdue == () and env.status(doc) == status.value
    run = run_deadlines(env.db, FIRST_AFTER)
    assert run.overdue == (f"{EBC.code}|D1",) and env.status(doc) == "overdue"
    assert run_deadlines(env.db, FIRST_AFTER + timedelta(hours=1)).overdue == ()  # once


def test_overdue_does_not_block_customs_no_feedback_state_does_R_APT_9_R_APT_3(
    env: AptEnv,
) -> None:
    """The manual blocks a new appointment on customs' I-通关完成未反馈 alone (seed 003 §4.1):
    the gateway's overdue mark invites the explanation but books on."""
    doc = _booked(env, "D2")
    run_deadlines(env.db, FIRST_AFTER)
    assert env.status(doc) == "overdue"
    env.submit(apt.request_message(EBC, [apt.Request("NEXT", bj("2026-12-19 10:00"))]), FIRST_AFTER)
    env.submit(apt.explanation_message(EBC, "D2"), FIRST_AFTER)  # allowed while overdue
    env.set_status(doc, AptStatus.CLEARED_NO_FEEDBACK)  # customs' APT102 5
    found = env.refused(
        apt.request_message(EBC, [apt.Request("NEXT2", bj("2026-12-19 10:00"))]), FIRST_AFTER
    )
    assert set(rules_of(found)) == {"R-APT-3"} and "D2" in found[0].message
    env.set_status(doc, AptStatus.EXPLAINED)  # customs' APT102 7
    nxt = apt.request_message(EBC, [apt.Request("NEXT2", bj("2026-12-19 10:00"))])
    env.submit(nxt, FIRST_AFTER)


def test_feedback_on_its_way_is_not_overdue_R_APT_9(env: AptEnv) -> None:
    doc = _booked(env, "D3")
    env.load({"declarations": [
        {"entry_id": "223320260000000001", "ie_flag": "I", "declarant_code": EBC.code,
         "consignee_code": "1101919107", "decl_port": "2233", "ie_port": "2233",
         "declared_at": "2026-12-05 11:00"},
    ]})  # fmt: skip
    env.submit(apt.feedback_message(EBC, "D3", ["223320260000000001"]), "2026-12-06 09:00")
    assert run_deadlines(env.db, FIRST_AFTER).overdue == ()
    assert env.status(doc) == "booked"


def test_reminder_once_a_day_before_the_deadline_R_APT_9(env: AptEnv) -> None:
    _booked(env, "D4")
    assert run_deadlines(env.db, bj("2026-12-09 09:59")).reminded == ()
    assert run_deadlines(env.db, bj("2026-12-09 10:00")).reminded == (f"{EBC.code}|D4",)
    assert run_deadlines(env.db, bj("2026-12-09 12:00")).reminded == ()


def test_untouched_states_are_not_watched_R_APT_9(env: AptEnv) -> None:
    for n, status in enumerate([AptStatus.ACCEPTED, AptStatus.CANCELLED, AptStatus.CLEARED]):
        _booked(env, f"U{n}", status)
    assert run_deadlines(env.db, FIRST_AFTER + timedelta(days=30)).overdue == ()


def test_one_lease_holder_at_a_time(env: AptEnv) -> None:
    now = bj("2026-12-10 10:00")
    assert take_lease(env.db, "a", now, timedelta(minutes=5))
    assert not take_lease(env.db, "b", now + timedelta(minutes=4), timedelta(minutes=5))
    assert take_lease(env.db, "a", now + timedelta(minutes=4), timedelta(minutes=5))  # renew
    assert take_lease(env.db, "b", now + timedelta(minutes=9, seconds=1), timedelta(minutes=5))


def test_several_processes_run_the_job_once(env: AptEnv) -> None:
    _booked(env, "D5")
    env.set_status(_booked(env, "D6"), AptStatus.BOOKED)
    results: list[object] = []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        results.append(tick(env.db, f"owner-{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [r for r in results if r is not None]
    assert len(ran) == 1


def test_job_lease_and_blocks_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    env = make_env(tmp_path, pg_url)
    try:
        doc = _booked(env, "PG1")
        results = []
        for owner in ("p1", "p2"):
            results.append(tick(env.db, owner))
        assert [r is not None for r in results] == [True, False]
        run = run_deadlines(env.db, FIRST_AFTER)
        assert run.overdue == (f"{EBC.code}|PG1",) and env.status(doc) == "overdue"
        env.set_status(doc, AptStatus.CLEARED_NO_FEEDBACK)  # customs' I-通关完成未反馈
        found = env.refused(
            apt.request_message(EBC, [apt.Request("PG2", bj("2026-12-19 10:00"))]), FIRST_AFTER
        )
        assert set(rules_of(found)) == {"R-APT-3"}
    finally:
        env.db.dispose()


def test_reminder_and_overdue_are_notified_R_APT_9(env: AptEnv) -> None:
    import json

    from sqlalchemy import select

    from gateway.core.history import Notifier
    from gateway.core.models import Outbox
    from transports.topology import Topology

    notifier = Notifier(Topology(prefix="t."))
    env.db.before_commit.append(notifier.flush)
    _booked(env, "N1")
    run_deadlines(env.db, bj("2026-12-09 10:00"), notifier)
    run_deadlines(env.db, FIRST_AFTER, notifier)
    with env.db.session() as session:
        bodies = [json.loads(o.body) for o in session.scalars(select(Outbox).order_by(Outbox.id))]
    reminder = next(b for b in bodies if b.get("reminder") == "R-APT-9")
    assert (
        reminder["deadline"].startswith("2026-12-10T10:00") and reminder["enterprise"] == EBC.code
    )
    changes = [c for b in bodies for c in b.get("changes", [])]
    assert changes[-1]["to"] == "overdue" and "R-APT-9" in changes[-1]["info"]


def test_the_scheduler_runs_the_job_in_a_gateway_process_R_APT_9(env: AptEnv) -> None:
    from datetime import datetime

    from gateway.appointments.codes import CHINA_TZ
    from gateway.appointments.deadlines import run_scheduler
    from tests.stack import wait_value

    # 03:00 a week ago (real time): outside any working hours, its deadline long past
    start = (datetime.now(CHINA_TZ) - timedelta(days=7)).replace(hour=3, minute=0, second=0)
    at = (start - timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    doc = env.request("S1", start.strftime("%Y-%m-%d %H:%M"), at)
    env.set_status(doc, AptStatus.BOOKED)
    stop = threading.Event()
    worker = threading.Thread(target=run_scheduler, args=(env.db, None, stop, 0.2))
    worker.start()
    try:
        assert wait_value(lambda: env.status(doc), lambda s: s == "overdue", 10.0) == "overdue"
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
