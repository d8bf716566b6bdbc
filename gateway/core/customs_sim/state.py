"""The simulator's own database: what customs holds, what it received, what it will answer.

Kept apart from the gateway's database on purpose: customs is another system, and the tests
count what *it* saw (for example how many CopMsgIds it received more than once).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from gateway.core.models import Id, UTCDateTime, utcnow


class SimBase(DeclarativeBase):
    pass


class Received(SimBase):
    """One envelope customs took in, by CopMsgId: a repeat is counted, never processed twice."""

    __tablename__ = "sim_received"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    cop_msg_id: Mapped[str] = mapped_column(String(255), unique=True)
    msg_type: Mapped[str] = mapped_column(String(20))
    sender_id: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(30))
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Declaration(SimBase):
    """A business record as customs holds it (one per kind and business key)."""

    __tablename__ = "sim_declarations"
    __table_args__ = (UniqueConstraint("kind", "business_key", name="uq_sim_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    business_key: Mapped[str] = mapped_column(String(300))
    sender_id: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10))
    versions: Mapped[int] = mapped_column(Integer, default=1)
    last_cop_msg_id: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def held_declaration(session: Session, kind: str, key: str) -> Declaration | None:
    """The record customs holds of `kind` under business key `key` (stored form), if any."""
    return session.scalar(
        select(Declaration).where(Declaration.kind == kind, Declaration.business_key == key)
    )


class Scheduled(SimBase):
    """A receipt waiting for its time; written with the state change, sent by the scheduler."""

    __tablename__ = "sim_scheduled"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    due: Mapped[float] = mapped_column(Float, index=True)
    routing_key: Mapped[str] = mapped_column(String(30))
    message_id: Mapped[str] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str | None] = mapped_column(Text)
    sent: Mapped[bool] = mapped_column(default=False, index=True)


#: the tables as Core sees them: customs keeps its books with one statement a batch, not an
#: ORM object a record (books.py)
RECEIVED = cast(Table, Received.__table__)
DECLARATIONS = cast(Table, Declaration.__table__)
SCHEDULED = cast(Table, Scheduled.__table__)

#: Declaration status of a record customs withdrew (an inventory list whose revoke application
#: it approved, R-ECX-5): no longer live, so a modification (appType 2) may declare it again.
REVOKED = "revoked"
