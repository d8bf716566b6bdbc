"""R-TMP-7: the re-export/re-import deadline job, its reminders, its overdue mark, the lease
that makes it run once, and `tmp-deadlines --at`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from gateway.codes import CHINA_TZ
from gateway.core.cli import main
from gateway.core.history import Notifier
from gateway.core.models import Outbox
from gateway.core.status import Status
from gateway.errors import ConfigError
from gateway.temporary import confirmations, deadlines
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpStatus
from gateway.temporary.deadlines import run_deadlines, tick
from tests.stack import raw_config
from tests.temporary_fixtures import EBC, TmpEnv, make_env
from transports.topology import Topology

IE, DUE = "20270101", "20270331"  # the goods came in, and go back by 31 March
LEADS = (30, 7, 1)


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


FIRST_AFTER = bj("2027-04-01 00:00")  # the first minute after the date
LAST_MINUTE = bj("2027-03-31 23:59")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _approved(env: TmpEnv, cop_no: str, due: str = DUE, status: object = None) -> int:
    values = {"ieDate": min(IE, f"{int(due[:4]) - 1}0101"), "returnDate": due}
    doc = env.submit(tmp.confirmation_message(EBC, [tmp.Confirmation(cop_no, values=values)]))
    doc_id = doc.documents[0].id
    env.set_status(doc_id, status or TmpStatus.APPROVED, confirmNo=f"QR{cop_no}")  # type: ignore[arg-type]
    return doc_id


def _run(env: TmpEnv, at: datetime, notifier: Notifier | None = None) -> deadlines.DeadlineRun:
    return run_deadlines(env.db, at, notifier, LEADS)


def _key(cop_no: str) -> str:
    return f"{EBC.code}|{cop_no}"


@pytest.mark.parametrize(
    ("lead", "day"), [(30, "2027-03-01"), (7, "2027-03-24"), (1, "2027-03-30")]
)
def test_reminded_exactly_at_each_lead_time_and_not_again(env: TmpEnv, lead: int, day: str) -> None:
    _approved(env, "D1")
    start = bj(f"{day} 00:00")
    for earlier in (30, 7, 1):  # the leads before this one, each at its own day
        if earlier > lead:
            reached = bj(f"{(datetime(2027, 3, 31) - timedelta(days=earlier)):%Y-%m-%d} 00:00")
            assert _run(env, reached).reminded == (_key("D1"),)
    assert _run(env, start - timedelta(minutes=1)).reminded == ()
    assert _run(env, start).reminded == (_key("D1"),)
    assert _run(env, start + timedelta(hours=12)).reminded == ()


def test_first_seen_inside_two_leads_one_reminder_then_the_next_lead(env: TmpEnv) -> None:
    _approved(env, "D2")
    assert _run(env, bj("2027-03-25 09:00")).reminded == (_key("D2"),)  # 30 and 7 passed
    assert _run(env, bj("2027-03-29 23:59")).reminded == ()
    assert _run(env, bj("2027-03-30 00:00")).reminded == (_key("D2"),)


def test_overdue_from_the_first_minute_after_the_date_once(env: TmpEnv) -> None:
    doc = _approved(env, "D3")
    assert _run(env, LAST_MINUTE).overdue == () and env.status(doc) == "approved"
    assert _run(env, FIRST_AFTER).overdue == (_key("D3"),)
    assert env.status(doc) == "return_overdue"
    assert _run(env, FIRST_AFTER + timedelta(days=1)) == deadlines.DeadlineRun((), ())


def test_a_moved_date_is_reminded_again_and_not_overdue(env: TmpEnv) -> None:
    """What an approved extension does to the row (its new 复运出/进境日期)."""
    doc = _approved(env, "D4")
    assert _run(env, bj("2027-03-30 00:00")).reminded == (_key("D4"),)
    with env.db.session() as session:
        row = confirmations.row_of(session, EBC.code, "D4")
        assert row is not None
        row.return_date = "20270430"
    assert _run(env, FIRST_AFTER).overdue == () and env.status(doc) == "approved"
    assert _run(env, bj("2027-04-23 00:00")).reminded == (_key("D4"),)  # 7 days before
    assert _run(env, bj("2027-05-01 00:00")).overdue == (_key("D4"),)


@pytest.mark.parametrize(
    "status",
    [Status.SAVED, Status.STORED, TmpStatus.NOT_APPROVED, TmpStatus.CASE_CLOSED, Status.DELETED],
)
def test_only_approved_confirmations_are_watched(env: TmpEnv, status: object) -> None:
    doc = _approved(env, "D5", status=status)
    assert _run(env, bj("2027-03-30 00:00")) == deadlines.DeadlineRun((), ())
    assert _run(env, FIRST_AFTER) == deadlines.DeadlineRun((), ())
    assert env.status(doc) == str(status)


def test_an_overdue_confirmation_is_still_closed_by_customs(env: TmpEnv) -> None:
    doc = _approved(env, "D6")
    _run(env, FIRST_AFTER)
    outcome = env.receipt("TMP110Message", agentCode=EBC.code, copNo="D6", returnStatus="5",
                          returnInfo="已复运出境，结案", closeDate="20270405")  # fmt: skip
    assert outcome == "matched" and env.status(doc) == "case_closed"


def test_the_query_page_finds_overdue_ones_by_value_or_name(env: TmpEnv) -> None:
    from gateway.core.enterprises import Caller
    from gateway.core.models import Enterprise
    from gateway.temporary import confirmation_queries
    from gateway.temporary.queries import Conditions

    _approved(env, "Q1")
    _approved(env, "Q2", due="20270430")
    _run(env, FIRST_AFTER)
    with env.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == EBC.code))
        assert ent is not None
        who = Caller(enterprise_id=ent.id, enterprise_code=ent.code)
        for status in ("return_overdue", "逾期未复运"):
            found = confirmation_queries.search(session, who, Conditions(status=status))
            assert [r["cop_no"] for r in found["records"]] == ["Q1"]
            assert found["records"][0]["status_name"] == "逾期未复运"
            assert found["records"][0]["operations"] == []  # not editable


def test_reminder_and_overdue_are_notified(env: TmpEnv) -> None:
    notifier = Notifier(Topology(prefix="t."))
    env.db.before_commit.append(notifier.flush)
    doc = _approved(env, "N1")
    _run(env, bj("2027-03-24 08:00"), notifier)
    _run(env, FIRST_AFTER, notifier)
    with env.db.session() as session:
        bodies = [json.loads(o.body) for o in session.scalars(select(Outbox).order_by(Outbox.id))]
    reminders = [b for b in bodies if b.get("reminder") == "R-TMP-7"]
    assert [(r["lead_days"], r["days_left"], r["returnDate"]) for r in reminders] == [(7, 7, DUE)]
    assert reminders[0]["enterprise"] == EBC.code and reminders[0]["confirmNo"] == "QRN1"
    assert reminders[0]["document_id"] == doc
    changes = [c for b in bodies for c in b.get("changes", [])]
    assert changes[-1]["to"] == "return_overdue" and "R-TMP-7" in changes[-1]["info"]


def test_lead_times_and_interval_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(deadlines.LEADS_ENV, raising=False)
    monkeypatch.delenv(deadlines.INTERVAL_ENV, raising=False)
    assert deadlines.lead_days() == (30, 7, 1) and deadlines.interval() == 60.0
    monkeypatch.setenv(deadlines.LEADS_ENV, "3, 14")
    monkeypatch.setenv(deadlines.INTERVAL_ENV, "300")
    assert deadlines.lead_days() == (14, 3) and deadlines.interval() == 300.0
    for bad in ("0", "x", "7,-1"):
        monkeypatch.setenv(deadlines.LEADS_ENV, bad)
        with pytest.raises(ConfigError):
            deadlines.lead_days()
    monkeypatch.setenv(deadlines.INTERVAL_ENV, "0")
    with pytest.raises(ConfigError):
        deadlines.interval()


def test_configured_lead_times_are_the_ones_reminded(
    env: TmpEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(deadlines.LEADS_ENV, "2")
    _approved(env, "D7")
    assert run_deadlines(env.db, bj("2027-03-24 00:00")).reminded == ()
    assert run_deadlines(env.db, bj("2027-03-29 00:00")).reminded == (_key("D7"),)


def test_several_processes_run_the_job_once(env: TmpEnv) -> None:
    _approved(env, "R1", due="20200101")  # long past: the one run marks it overdue
    results: list[deadlines.DeadlineRun | None] = []
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
    assert len(ran) == 1 and ran[0].overdue == (_key("R1"),)


def test_the_job_leases_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    env = make_env(tmp_path, pg_url)
    try:
        _approved(env, "PG-DL1", due="20200101")
        ran = [tick(env.db, owner) for owner in ("p1", "p2")]
        assert [r is not None for r in ran] == [True, False]
    finally:
        env.db.dispose()


def test_the_system_declares_the_job() -> None:
    from gateway.temporary.system import SYSTEM

    assert [job.name for job in SYSTEM.jobs] == ["tmp-deadlines"]


def test_the_cli_runs_the_job_once_at_a_time(tmp_path: Path, keys_dir: Path) -> None:
    path = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="tmpdl.")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    env = make_env(tmp_path, raw["database"]["url"])
    try:
        doc = _approved(env, "CLI1")
        args = ["--config", str(path), "tmp-deadlines", "--at"]
        out = CliRunner().invoke(main, [*args, "2027-03-31 23:59"])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output) == {"reminded": [_key("CLI1")], "overdue": []}
        out = CliRunner().invoke(main, [*args, "2027-04-01 00:00"])
        assert json.loads(out.output) == {"reminded": [], "overdue": [_key("CLI1")]}
        assert env.status(doc) == "return_overdue"
    finally:
        env.db.dispose()
