"""Batch jobs that several gateway processes schedule and exactly one runs each round.

Every process schedules every job (DESIGN.md, Scale); before a round, a process takes the
job's lease, one row of `job_leases`, with one atomic UPDATE that succeeds only when nobody
else holds it or the holder's time ran out. Business systems declare their jobs
(`BusinessSystem.jobs`) and take their leases here.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import String, Text, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Database
from gateway.core.models import Base, UTCDateTime


class JobLease(Base):
    """Who runs a batch job right now: taken with one atomic UPDATE, so that of several
    gateway processes exactly one runs each round (DESIGN.md, Scale)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str | None] = mapped_column(Text)


def owner_id() -> str:
    """This thread of this process on this host: who holds a lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def take_lease(db: Database, owner: str, now: datetime, ttl: timedelta, name: str) -> bool:
    """True when `owner` holds the lease of job `name` until now + ttl (one atomic UPDATE)."""
    _ensure_lease_row(db, name)
    with db.session() as session:
        result = session.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(
                    JobLease.owner.is_(None),
                    JobLease.owner == owner,
                    JobLease.expires_at.is_(None),
                    JobLease.expires_at <= now,
                ),
            )
            .values(owner=owner, expires_at=now + ttl)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def _ensure_lease_row(db: Database, name: str) -> None:
    try:
        with db.session() as session:
            if session.get(JobLease, name) is None:
                session.add(JobLease(name=name))
    except IntegrityError:
        pass  # another process made it at the same moment


def release(db: Database, name: str, owner: str, now: datetime) -> None:
    """End the lease at `now`, so that another run (a manual one) may follow at once."""
    with db.session() as session:
        session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.owner == owner)
            .values(expires_at=now)
        )


def record_run(db: Database, name: str, at: datetime, result: str) -> None:
    """What the last round did, for ops (`job_leases.last_run_at`, `last_result`)."""
    with db.session() as session:
        session.execute(
            update(JobLease).where(JobLease.name == name).values(last_run_at=at, last_result=result)
        )
