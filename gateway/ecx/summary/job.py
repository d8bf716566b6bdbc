"""The summary job (R-ECX-8): one cycle's closed summary-mode lists → CEB701 applications.

Per cycle (and enterprise, when one is named): the lists are grouped by the merge key in SQL
(`grouping.groups`), each group gets an application number (copNo), and its invtNos are
streamed in key order and cut into SummaryApply records and CEB701 messages
(`message.build_apply`). Each message goes through intake (channel "job") like any
declaration — parse, XSD, business checks, store, then signed and sent by the workers — and
the summary kind's intake hook links its lists to it in that same transaction
(`lists.on_summary_intake`). So a run declares each list once however often it runs: a second
run finds nothing left, and two runs at once (which the lease prevents anyway) would have
the later application refused for the lists the first one took.

`run_cycle` takes the submission as a function, so the benchmark can time grouping and
building alone.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.core.config import SummaryConfig
from gateway.core.db import Database
from gateway.core.models import Document, Enterprise, utcnow
from gateway.ecx.summary import grouping
from gateway.ecx.summary.cycles import Cycle, WorkingCalendar, due_date
from gateway.ecx.summary.grouping import Group, MergeKey
from gateway.ecx.summary.message import Part, Sender, build_apply
from gateway.errors import InvalidMessage, NotFound

if TYPE_CHECKING:
    from gateway.core.intake import Intake

log = logging.getLogger(__name__)

#: submit(enterprise code, CEB701 bytes) → the stored message id; raises InvalidMessage
Submit = Callable[[str, bytes], int]
CHANNEL = "job"


@dataclass(frozen=True)
class Application:
    """One application (copNo) of one group, as far as it was submitted."""

    enterprise: str
    cop_no: str
    key: MergeKey
    lists: int
    msg_count: int
    message_ids: tuple[int, ...]
    refused: str | None = None


@dataclass(frozen=True)
class CycleRun:
    cycle: str
    due: date
    groups: int
    lists: int
    applications: tuple[Application, ...] = field(default=())

    @property
    def refused(self) -> tuple[Application, ...]:
        return tuple(a for a in self.applications if a.refused)

    def summary(self) -> str:
        sent = sum(len(a.message_ids) for a in self.applications)
        return (
            f"cycle {self.cycle}: {self.groups} group(s), {self.lists} list(s), "
            f"{len(self.applications)} application(s) in {sent} message(s), "
            f"{len(self.refused)} refused"
        )


def intake_submit(intake: Intake) -> Submit:
    """Submission through intake: stored, then signed and sent like any declaration."""

    def submit(code: str, data: bytes) -> int:
        return intake.submit(code, data, CHANNEL).message_id

    return submit


def run_cycle(
    db: Database,
    settings: SummaryConfig,
    cycle: Cycle,
    submit: Submit,
    *,
    enterprise: str | None = None,
    now: datetime | None = None,
) -> CycleRun:
    """Declare every pending list of `cycle` (of `enterprise`, if given). Idempotent."""
    now = now or utcnow()
    due = due_date(cycle, WorkingCalendar.from_config(settings), settings.due_day)
    _fresh_statistics(db)
    with db.session() as session:
        _one_snapshot(session, db)
        enterprise_id = _enterprise_id(session, enterprise)
        found = grouping.groups(session, cycle, enterprise_id=enterprise_id, until=now)
        plans = {g.key: g for g in found}
        senders = _senders(session, {g.key.enterprise_id for g in found})
        streamed = grouping.stream(session, cycle, enterprise_id=enterprise_id, until=now)
        apps = [
            _declare(session, plans[key], invt_nos, cycle, senders, submit, settings, now)
            for key, invt_nos in streamed
            if key in plans
        ]
    run = CycleRun(cycle.label, due, len(found), sum(g.lists for g in found), tuple(apps))
    log.info("summary %s", run.summary())
    return run


def _fresh_statistics(db: Database) -> None:
    # A month of lists arrives between two runs. With statistics from before them, PostgreSQL
    # planned the claim's UPDATE (id IN … AND summary_key IS NULL) as a scan of every
    # unsummarised list instead of the primary key: 40 ms a message instead of 3 at 20,000
    # lists, growing with the month (measured with EXPLAIN ANALYZE). ANALYZE samples, so it
    # costs well under a second even at 100,000 lists.
    if db.is_sqlite:
        return
    with db.session() as session:
        session.execute(text("ANALYZE summary_lists, summary_list_items"))


def _one_snapshot(session: Session, db: Database) -> None:
    # The counts (msgCount) and the stream must see the same lists: on PostgreSQL one
    # REPEATABLE READ snapshot; SQLite serialises writers, and the lease keeps runs apart.
    if not db.is_sqlite:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _enterprise_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = session.scalar(select(Enterprise.id).where(Enterprise.code == code))
    if found is None:
        raise NotFound(f"no enterprise {code!r} in this gateway", enterprise=code)
    return int(found)


def _senders(session: Session, ids: set[int]) -> dict[int, Sender]:
    stmt = select(Enterprise).where(Enterprise.id.in_(ids))
    return {e.id: Sender(e.code, e.name, e.dxp_id) for e in session.scalars(stmt)}


def cop_no(session: Session, cycle: Cycle, key: MergeKey) -> str:
    """The application's own number: cycle, a digest of the merge key, and an ordinal for a
    second application of the same group and cycle (after a return, or a cycle still open)."""
    digest = hashlib.sha256(key.text().encode()).hexdigest()[:10].upper()
    prefix = f"SUM{cycle.compact}{digest}"
    earlier = session.scalar(
        select(func.count()).where(
            Document.kind == "summary",
            Document.business_key.startswith(prefix, autoescape=True),
            Document.business_key.endswith("|1"),
        )
    )
    return f"{prefix}{int(earlier or 0) + 1:02d}"


def _declare(
    session: Session,
    group: Group,
    invt_nos: Iterator[str],
    cycle: Cycle,
    senders: dict[int, Sender],
    submit: Submit,
    settings: SummaryConfig,
    now: datetime,
) -> Application:
    """Submit one group's application, message by message; stop at the first refusal."""
    number = cop_no(session, cycle, group.key)
    count = math.ceil(group.lists / settings.max_lists_per_apply)
    sender = senders[group.key.enterprise_id]
    sent: list[int] = []
    for parts in _messages(invt_nos, settings):
        data = build_apply(sender, group, number, count, parts, settings, now)
        try:
            sent.append(submit(sender.code, data))
        except InvalidMessage as exc:
            log.warning("summary application %s refused at intake: %s", number, exc.message)
            return _application(sender, number, group, count, sent, exc.message)
    return _application(sender, number, group, count, sent, None)


def _application(
    sender: Sender,
    number: str,
    group: Group,
    count: int,
    sent: list[int],
    refused: str | None,
) -> Application:
    return Application(sender.code, number, group.key, group.lists, count, tuple(sent), refused)


def _messages(invt_nos: Iterable[str], settings: SummaryConfig) -> Iterator[list[Part]]:
    """Parts of `max_lists_per_apply` lists, `applies_per_message` parts to a message."""
    parts: list[Part] = []
    for seq, chunk in enumerate(_batched(invt_nos, settings.max_lists_per_apply), start=1):
        parts.append(Part(seq, chunk))
        if len(parts) == settings.applies_per_message:
            yield parts
            parts = []
    if parts:
        yield parts


def _batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
