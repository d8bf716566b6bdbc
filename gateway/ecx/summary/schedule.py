"""Running the summary job on schedule, once, in whichever gateway process is up (R-ECX-8).

APScheduler 3 keeps the job in a persistent job store, the `apscheduler_jobs` table of the
gateway database (migration 0003): a run that fell due while every gateway was down still
runs when one starts, within `misfire_grace_days`, and coalesced into one. Every gateway
process schedules it — APScheduler does not coordinate processes — so each run first takes
the database lease of `job_leases` (the appointment deadline job's, `take_lease`): of several
processes firing together exactly one runs, the others return at once. And each run is
idempotent (lists are linked to their application in the intake transaction), so even a run
after the lease expired finds nothing left to declare.

The stored job names its function by reference, `gateway.ecx.summary.schedule:scheduled_run`,
and its one argument is the database it runs on, password masked (a pickled database handle
or a secret would not belong in a table): each process registers its `SummaryJob` for that
database here when it starts the scheduler.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from gateway.codes import CHINA_TZ
from gateway.core import jobs
from gateway.core.config import SummaryConfig
from gateway.core.db import Database
from gateway.core.models import utcnow
from gateway.core.runtime import Gateway
from gateway.ecx.summary.cycles import Cycle, last_closed
from gateway.ecx.summary.due import pending_cycles
from gateway.ecx.summary.job import CycleRun, Submit, intake_submit, run_cycle

log = logging.getLogger(__name__)

JOB = "summary-cycle"
TABLE = "apscheduler_jobs"
#: how long one run may hold the lease before another process may take over
LEASE_TTL = timedelta(minutes=30)


@dataclass
class SummaryJob:
    """What a scheduled run needs in this process."""

    db: Database
    settings: SummaryConfig
    submit: Submit

    def tick(
        self,
        now: datetime | None = None,
        owner: str | None = None,
        *,
        cycle: Cycle | None = None,
        enterprise: str | None = None,
    ) -> list[CycleRun] | None:
        """Run the due cycles (or `cycle` alone) if this caller gets the lease; None when
        another process holds it."""
        now = now or utcnow()
        owner = owner or jobs.owner_id()
        if not jobs.take_lease(self.db, owner, now, LEASE_TTL, JOB):
            log.info("summary job: another process holds the lease; not running")
            return None
        try:
            if cycle is None:
                runs = self.run_due(now, enterprise)
            else:
                runs = [self._run(cycle, now, enterprise)]
        finally:
            _release(self.db, owner, now)
        _record(self.db, now, runs)
        return runs

    def run_due(self, now: datetime, enterprise: str | None = None) -> list[CycleRun]:
        """The last closed cycle, and older ones still holding pending lists (catch-up)."""
        with self.db.session() as session:
            older = pending_cycles(
                session, now, self.settings.cycle, limit=self.settings.catch_up_cycles
            )
        last = last_closed(now, self.settings.cycle)
        cycles = [c for c in older if c != last] + [last]
        return [self._run(c, now, enterprise) for c in cycles]

    def _run(self, cycle: Cycle, now: datetime, enterprise: str | None) -> CycleRun:
        return run_cycle(self.db, self.settings, cycle, self.submit, enterprise=enterprise, now=now)


def _release(db: Database, owner: str, now: datetime) -> None:
    # Released at once, so that `summary run` may follow; idempotence covers the rest.
    jobs.release(db, JOB, owner, now)


def _record(db: Database, now: datetime, runs: list[CycleRun]) -> None:
    jobs.record_run(db, JOB, now, "; ".join(r.summary() for r in runs))


# --- APScheduler ---------------------------------------------------------------------------

_JOBS: dict[str, SummaryJob] = {}


def database_name(db: Database) -> str:
    return make_url(db.url).render_as_string(hide_password=True)


def scheduled_run(database: str) -> list[CycleRun] | None:
    """The stored job's function: the run of the job this process registered for `database`."""
    job = _JOBS.get(database)
    if job is None:
        log.warning("summary job fired for %s, which this process does not serve", database)
        return None
    return job.tick()


def trigger(settings: SummaryConfig) -> Any:
    """Monthly on `run_day` (weekly: ISO weekday `run_day`) at `run_time`, Beijing time."""
    from apscheduler.triggers.cron import CronTrigger

    hour, minute = (int(p) for p in settings.run_time.split(":"))
    if settings.cycle == "weekly":
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[settings.run_day - 1]
        return CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=CHINA_TZ)
    return CronTrigger(day=settings.run_day, hour=hour, minute=minute, timezone=CHINA_TZ)


def start_scheduler(job: SummaryJob, when: Any = None) -> Any:
    """A background scheduler over the persistent job store; `when` overrides the trigger."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    _JOBS[database_name(job.db)] = job
    store = SQLAlchemyJobStore(engine=job.db.engine, tablename=TABLE)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=CHINA_TZ)
    scheduler.start(paused=True)  # nothing runs until the stored job is checked
    _ensure_job(scheduler, when or trigger(job.settings), job)
    scheduler.resume()
    return scheduler


def _ensure_job(scheduler: Any, when: Any, job: SummaryJob) -> None:
    """Add the job once; keep a stored one (its next run time is the point of storing it)
    unless its trigger changed in the configuration."""
    from apscheduler.jobstores.base import ConflictingIdError

    stored = scheduler.get_job(JOB)
    if stored is not None and str(stored.trigger) == str(when):
        return
    if stored is not None:
        scheduler.reschedule_job(JOB, trigger=when)
        return
    try:
        grace = timedelta(days=job.settings.misfire_grace_days)
        scheduler.add_job(
            scheduled_run,
            when,
            args=(database_name(job.db),),
            id=JOB,
            name="summary declarations (R-ECX-8)",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(grace.total_seconds()),
        )
    except ConflictingIdError:
        pass  # another gateway stored it at the same moment


def run_scheduler(job: SummaryJob, stop: threading.Event) -> None:
    """A gateway worker: the scheduler runs until `stop`."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = start_scheduler(job)
    stop.wait()
    scheduler.shutdown(wait=True)
    if _JOBS.get(database_name(job.db)) is job:
        del _JOBS[database_name(job.db)]


def job_of(gateway: Gateway) -> SummaryJob:
    """The summary job (R-ECX-8) of a gateway: applications go through its intake."""
    return SummaryJob(gateway.db, gateway.config.summary, intake_submit(gateway.intake))


def run_job(gateway: Gateway, stop: threading.Event) -> None:
    """The system's batch job (`BusinessSystem.jobs`): schedules the summary job until stop."""
    run_scheduler(job_of(gateway), stop)
