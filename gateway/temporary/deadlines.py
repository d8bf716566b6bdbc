"""R-TMP-7 (ours, not in seed 002): the re-export/re-import deadline of approved review
confirmations, watched by a batch job.

The deadline is the confirmation's 复运出/进境日期 (`return_date`, YYYYMMDD): the last day, in
Beijing time, the goods may go back. For each lead time L (days, `lead_days()`) the
enterprise gets one reminder from 00:00 of the day L days before that date; if the job first
sees a confirmation late (approved inside several lead times, or the job was down), the leads
already passed are all noted and one reminder — the nearest — is sent, not a burst. From
00:00 of the day after the date (its first minute) an approved confirmation not closed (结案)
becomes `return_overdue`, with a history entry and the status notification. Reminders are
kept per date (`TmpDeadlineNotice`): a date moved by an approved extension is reminded anew.

`run_deadlines(db, now)` is the whole job: tests and `tmp-deadlines --at` call it with a chosen
`now`. In a gateway, APScheduler calls `tick` every `interval()` seconds in each process;
`tick` runs it only in the process holding the job's lease (`gateway.core.jobs`), and each
run changes only rows still in the state it read, so even an overlapping run is harmless.

Configuration (the core's `Config` has no section for a system): the environment variables
`CUSTOMS_GATEWAY_TMP_REMINDER_DAYS` (lead times, comma-separated days, default "30,7,1") and
`CUSTOMS_GATEWAY_TMP_DEADLINE_INTERVAL` (seconds between rounds, default 60).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core import jobs
from gateway.core.db import Database
from gateway.core.history import Change, Notifier, Source, record
from gateway.core.models import Document, utcnow
from gateway.errors import ConfigError
from gateway.temporary.codes import TmpStatus
from gateway.temporary.confirmations import CONFIRMATION
from gateway.temporary.models import TmpConfirmation, TmpDeadlineNotice

log = logging.getLogger(__name__)

JOB = "tmp-deadlines"
RULE = "R-TMP-7"
LEADS_ENV = "CUSTOMS_GATEWAY_TMP_REMINDER_DAYS"
INTERVAL_ENV = "CUSTOMS_GATEWAY_TMP_DEADLINE_INTERVAL"
DEFAULT_LEADS = (30, 7, 1)
DEFAULT_INTERVAL = 60.0


def lead_days() -> tuple[int, ...]:
    """The reminder lead times in days, largest first (`CUSTOMS_GATEWAY_TMP_REMINDER_DAYS`)."""
    raw = os.environ.get(LEADS_ENV, "").strip()
    if not raw:
        return DEFAULT_LEADS
    try:
        leads = {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise ConfigError(f"{LEADS_ENV}={raw!r}: whole days, comma-separated") from None
    if not leads or min(leads) < 1:
        raise ConfigError(f"{LEADS_ENV}={raw!r}: each lead time at least 1 day")
    return tuple(sorted(leads, reverse=True))


def interval() -> float:
    """Seconds between the job's rounds (`CUSTOMS_GATEWAY_TMP_DEADLINE_INTERVAL`)."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        raise ConfigError(f"{INTERVAL_ENV}={raw!r}: seconds") from None
    if seconds <= 0:
        raise ConfigError(f"{INTERVAL_ENV}={raw!r}: more than 0 seconds")
    return seconds


@dataclass(frozen=True)
class DeadlineRun:
    reminded: tuple[str, ...]  # "agentCode|copNo"
    overdue: tuple[str, ...]


def run_deadlines(
    db: Database,
    now: datetime,
    notifier: Notifier | None = None,
    leads: tuple[int, ...] | None = None,
) -> DeadlineRun:
    """Remind before each approved confirmation's date, mark overdue after it. Idempotent."""
    today = now.astimezone(CHINA_TZ).date()
    chosen = leads or lead_days()
    reminded, overdue = [], []
    with db.session() as session:
        for row, doc in _watched(session):
            due = _day(row.return_date)
            if due is None:
                continue
            if today > due:
                overdue.append(_overdue(session, row, doc, notifier))
            elif _remind(session, row, doc, today, due, chosen, notifier):
                reminded.append(doc.business_key)
    return DeadlineRun(tuple(reminded), tuple(overdue))


def _watched(session: Session) -> list[tuple[TmpConfirmation, Document]]:
    """Approved confirmations (not closed, not yet overdue) and their documents."""
    key = TmpConfirmation.agent_code + "|" + TmpConfirmation.cop_no
    stmt = (
        select(TmpConfirmation, Document)
        .join(Document, (Document.kind == CONFIRMATION) & (Document.business_key == key))
        .where(Document.status == TmpStatus.APPROVED.value, TmpConfirmation.return_date != "")
        .order_by(TmpConfirmation.return_date, TmpConfirmation.id)
    )
    return [(row, doc) for row, doc in session.execute(stmt)]


def _day(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def _overdue(
    session: Session, row: TmpConfirmation, doc: Document, notifier: Notifier | None
) -> str:
    info = (
        f"[{RULE}] not closed (结案) by its re-export/re-import date 复运出/进境日期 "
        f"{row.return_date}: overdue"
    )
    record(session, doc, Change(TmpStatus.RETURN_OVERDUE, Source.GATEWAY, info), notifier)
    return doc.business_key


def _remind(
    session: Session,
    row: TmpConfirmation,
    doc: Document,
    today: date,
    due: date,
    leads: tuple[int, ...],
    notifier: Notifier | None,
) -> bool:
    """Note every lead time reached for this date and not noted yet; one reminder (the
    nearest lead) when the nearest reached is new. True when a reminder went out."""
    reached = [lead for lead in leads if today >= due - timedelta(days=lead)]
    if not reached:
        return False
    done = set(
        session.scalars(
            select(TmpDeadlineNotice.lead_days).where(
                TmpDeadlineNotice.confirmation_id == row.id,
                TmpDeadlineNotice.due_date == row.return_date,
            )
        )
    )
    new = [lead for lead in reached if lead not in done]
    for lead in new:
        session.add(TmpDeadlineNotice(confirmation_id=row.id, due_date=row.return_date,
                                      lead_days=lead, sent_at=utcnow()))  # fmt: skip
    nearest = min(reached)
    if nearest not in new:
        return False
    if notifier is not None:
        _send(session, row, doc, nearest, (due - today).days, notifier)
    return True


def _send(
    session: Session, row: TmpConfirmation, doc: Document, lead: int, left: int,
    notifier: Notifier,
) -> None:  # fmt: skip
    code = notifier.enterprise_code(session, doc.enterprise_id)
    body = {
        "enterprise": code,
        "reminder": RULE,
        "document_id": doc.id,
        "business_key": doc.business_key,
        "status": doc.status,
        "confirmNo": (doc.customs_numbers or {}).get("confirmNo", ""),
        "preEntryNo": row.pre_entry_no,
        "returnDate": row.return_date,
        "lead_days": lead,
        "days_left": left,
        "message": "the goods go back (复运出/进境) by this date, or apply for an extension",
    }
    notifier.send(session, code, body, f"tmp-reminder-{doc.id}-{row.return_date}-{lead}")


# --- running once among several processes ----------------------------------------------------


def tick(
    db: Database, owner: str, notifier: Notifier | None = None, ttl: timedelta | None = None
) -> DeadlineRun | None:
    """One scheduled round: run the job if this process holds the lease."""
    now = utcnow()
    if not jobs.take_lease(db, owner, now, ttl or timedelta(minutes=5), JOB):
        return None
    run = run_deadlines(db, now, notifier)
    jobs.record_run(db, JOB, now, f"reminded {len(run.reminded)}, overdue {len(run.overdue)}")
    if run.overdue or run.reminded:
        log.info("temporary-goods deadlines: %s", run)
    return run


def run_scheduler(
    db: Database, notifier: Notifier | None, stop: threading.Event, every: float | None = None
) -> None:
    """A gateway worker: `tick` every `every` seconds (default `interval()`) until `stop`."""
    from apscheduler.schedulers.background import BackgroundScheduler

    seconds = every or interval()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler: Any = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        "interval",
        seconds=seconds,
        args=(db, jobs.owner_id(), notifier, timedelta(seconds=seconds * 3)),
        id=JOB,
        max_instances=1,
        coalesce=True,
        next_run_time=utcnow(),
    )
    scheduler.start()
    stop.wait()
    scheduler.shutdown(wait=True)
