"""R-APT-9: the feedback deadline of approved appointments, watched by a batch job.

An approved appointment must be fed back (declaration numbers, R-APT-6) within 5 days of its
time. One day before the deadline the enterprise gets a reminder; at the deadline an
appointment still without feedback (nothing fed back or on its way) becomes overdue, which
blocks the declarant and the consignee (R-APT-3) until it is fed back or explained.

`run_deadlines(db, now)` is the whole job: tests call it with a chosen `now`. In a gateway,
APScheduler calls `tick` every interval in each process; `tick` runs the job only in the
process holding the database lease (one row of `job_leases`, taken with one atomic UPDATE:
free, expired or already ours), so several processes never run it twice at once — and each
run changes only rows still in the state it read, so even an overlapping run is harmless.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.appointments import rules
from gateway.appointments.codes import AptStatus
from gateway.appointments.models import Appointment
from gateway.codes import CHINA_TZ
from gateway.core import jobs
from gateway.core.db import Database
from gateway.core.history import Change, Notifier, Source, record
from gateway.core.models import Document, utcnow

log = logging.getLogger(__name__)

JOB = "apt-deadlines"
DEADLINE = rules.FEEDBACK_DAYS  # after the appointment time
REMIND_BEFORE = timedelta(days=1)
WATCHED = (AptStatus.BOOKED.value, AptStatus.CLEARED_NO_FEEDBACK.value)


@dataclass(frozen=True)
class DeadlineRun:
    reminded: tuple[str, ...]  # "declarantCode|copNo"
    overdue: tuple[str, ...]


def deadline_of(apt: Appointment) -> datetime:
    return apt.start_at + DEADLINE


def run_deadlines(db: Database, now: datetime, notifier: Notifier | None = None) -> DeadlineRun:
    """Remind before the deadline, mark overdue at it (R-APT-9). Idempotent."""
    with db.session() as session:
        due = _watched(session, now - DEADLINE)
        overdue = [_overdue(session, apt, doc, now, notifier) for apt, doc in due]
        soon = [
            (apt, doc)
            for apt, doc in _watched(session, now - DEADLINE + REMIND_BEFORE)
            if apt.reminded_at is None and deadline_of(apt) > now
        ]
        reminded = [_remind(session, apt, doc, now, notifier) for apt, doc in soon]
    return DeadlineRun(tuple(reminded), tuple(overdue))


def _watched(session: Session, started_by: datetime) -> list[tuple[Appointment, Document]]:
    """Approved appointments without feedback whose time is at or before `started_by`."""
    stmt = (
        select(Appointment, Document)
        .join(Document, Document.business_key == rules.key_sql())
        .where(
            Document.kind == "appointment",
            Document.status.in_(WATCHED),
            Appointment.start_at <= started_by,
        )
        .order_by(Appointment.start_at)
    )
    rows = [(apt, doc) for apt, doc in session.execute(stmt)]
    return [(apt, doc) for apt, doc in rows if not _feedback_sent(session, doc.business_key)]


def _feedback_sent(session: Session, key: str) -> bool:
    stmt = select(Document.id).where(
        Document.kind == "apt_feedback",
        Document.business_key == key,
        Document.status.not_in(rules.NOT_SENT),
    )
    return session.scalar(stmt.limit(1)) is not None


def _overdue(
    session: Session, apt: Appointment, doc: Document, now: datetime, notifier: Notifier | None
) -> str:
    deadline = deadline_of(apt).astimezone(CHINA_TZ)
    info = (
        f"[R-APT-9] no declaration numbers fed back by {deadline:%Y-%m-%d %H:%M} (5 days after"
        " the appointment time): overdue; new appointments of the declarant and the consignee"
        " are blocked until it is fed back or explained"
    )
    record(session, doc, Change(AptStatus.OVERDUE, Source.GATEWAY, info), notifier)
    apt.overdue_at = now
    return doc.business_key


def _remind(
    session: Session, apt: Appointment, doc: Document, now: datetime, notifier: Notifier | None
) -> str:
    apt.reminded_at = now
    if notifier is None:
        return doc.business_key
    code = notifier.enterprise_code(session, doc.enterprise_id)
    body = {
        "enterprise": code,
        "reminder": "R-APT-9",
        "document_id": doc.id,
        "business_key": doc.business_key,
        "status": doc.status,
        "appointment_time": apt.start_at.astimezone(CHINA_TZ).isoformat(),
        "deadline": deadline_of(apt).astimezone(CHINA_TZ).isoformat(),
        "message": "feed back the declaration numbers (APT105) or explain (APT107) by the deadline",
    }
    notifier.send(session, code, body, f"apt-reminder-{doc.id}")
    return doc.business_key


# --- running once among several processes ----------------------------------------------------


def take_lease(db: Database, owner: str, now: datetime, ttl: timedelta, name: str = JOB) -> bool:
    """True when `owner` holds the lease of job `name` (gateway.core.jobs)."""
    return jobs.take_lease(db, owner, now, ttl, name)


def tick(
    db: Database, owner: str, notifier: Notifier | None = None, ttl: timedelta | None = None
) -> DeadlineRun | None:
    """One scheduled round: run the job if this process holds the lease."""
    now = utcnow()
    if not take_lease(db, owner, now, ttl or timedelta(minutes=5)):
        return None
    run = run_deadlines(db, now, notifier)
    jobs.record_run(db, JOB, now, f"reminded {len(run.reminded)}, overdue {len(run.overdue)}")
    if run.overdue or run.reminded:
        log.info("appointment deadlines: %s", run)
    return run


def run_scheduler(
    db: Database, notifier: Notifier | None, stop: threading.Event, interval: float = 60.0
) -> None:
    """A gateway worker: the scheduler runs `tick` every `interval` seconds until `stop`."""
    scheduler = start_scheduler(db, notifier, interval)
    stop.wait()
    scheduler.shutdown(wait=True)


def start_scheduler(db: Database, notifier: Notifier | None, interval: float = 60.0) -> Any:
    """An APScheduler background scheduler calling `tick` every `interval` seconds."""
    from apscheduler.schedulers.background import BackgroundScheduler

    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line a minute in serve
    scheduler = BackgroundScheduler(timezone="UTC")
    owner = jobs.owner_id()
    scheduler.add_job(
        tick,
        "interval",
        seconds=interval,
        args=(db, owner, notifier, timedelta(seconds=interval * 3)),
        id=JOB,
        max_instances=1,
        coalesce=True,
        next_run_time=utcnow(),
    )
    scheduler.start()
    return scheduler
