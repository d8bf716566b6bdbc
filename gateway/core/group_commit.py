"""Group commit: submissions that arrive together share one transaction and one commit.

A caller's work first reads and decides (checks against the store, conflicts, duplicates)
and only then writes. A refusal raised before its first write leaves nothing of it in the
shared transaction, so it reaches that caller alone and the others go on. Work that fails
once it has begun writing (it marks that with `writing(session)`), or that fails in the
database, leaves the transaction unusable: the whole group is then redone caller by caller,
each in a transaction of its own, so one caller's fault never fails the others. Every caller
is answered after the commit that holds its rows (R-COM-1: nothing acknowledged before it is
committed).

No savepoints: each would cost two more round trips per caller (SAVEPOINT, RELEASE), the
largest share of a one-record submission on PostgreSQL.

A group may also be written in bulk (`bulk`): the intake writes a group's plain new messages
with one set of statements for all of them (gateway/core/intake.py, `_store_fresh`) and
leaves the rest to run one by one after, in the same transaction.

There is no waiting window: a caller that finds a free slot writes at once, alone, so a lone
caller pays nothing. Callers arriving while every slot is writing queue up; when a slot's
transaction commits, the first of them leads the next transaction with every caller queued
by then (at most `max_batch`). The group is as large as the load makes it, and bounded. One
slot on SQLite (one writer at a time anyway); two on PostgreSQL, so that one group's round
trips and commit overlap another's. More slots made smaller groups: with the new messages of
a group written in bulk, eight slots cost 3.6 ms of an HTTP process's CPU per declaration
against 2.2 with two (32 clients, issue 15).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core.db import Database
from gateway.core.history import Notifier

log = logging.getLogger(__name__)

T = TypeVar("T")

#: writes in a few statements those of a group's works it can (by their place in the group)
#: and returns their results; the others then run one by one. It refuses nothing: a work it
#: leaves is run alone, where its refusal is its own. It fails only as the database does, and
#: the whole group is then redone caller by caller, as for any failure once writing began.
Bulk = Callable[[Session, list[Any]], dict[int, Any]]

#: callers in one shared transaction at most
MAX_BATCH = 64
#: transactions written at once: SQLite has one writer; PostgreSQL overlaps round trips
SLOTS_SQLITE, SLOTS_SERVER = 1, 2
#: session.info key set by work that has begun to write
WRITING = "group_commit_writing"


def writing(session: Session) -> None:
    """Called by work before its first write: a failure after this point is not the caller's
    refusal alone but a transaction the whole group must redo."""
    session.info[WRITING] = True


@dataclass(eq=False)
class _Ticket(Generic[T]):
    work: Callable[[Session], T]
    #: on the group's mutex: each caller is woken alone, when it is its turn or its outcome
    #: is known (one condition for all woke every waiting thread at each commit, issue 15)
    turn: threading.Condition
    result: T | None = None
    error: BaseException | None = None
    finished: bool = False
    #: in a leader's batch: its outcome comes from that leader's transaction
    taken: bool = False

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    """Runs `work(session)` callables from many threads, those waiting together in one
    transaction. `retry_on` refusals (a race another transaction won: raised before the
    work's first write) are retried once at once, as the single-caller path retries in a
    fresh transaction; a result stands only once its transaction has committed."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = MAX_BATCH,
        slots: int | None = None,
        retry_on: tuple[type[BaseException], ...] = (),
        bulk: Bulk | None = None,
    ) -> None:
        self.db = db
        self.bulk = bulk
        self.max_batch = max_batch
        self.slots = slots or (SLOTS_SQLITE if db.is_sqlite else SLOTS_SERVER)
        self.retry_on = retry_on
        self._mutex = threading.Lock()
        self._waiting: list[_Ticket[Any]] = []
        self._writing = 0
        #: transactions written and callers they held (for the tests and the benchmark)
        self.transactions = 0
        self.callers = 0

    def waiting(self) -> int:
        """Callers queued for the next transaction."""
        with self._mutex:
            return len(self._waiting)

    def run(self, work: Callable[[Session], T]) -> T:
        ticket: _Ticket[T] = _Ticket(work, threading.Condition(self._mutex))
        with self._mutex:
            self._waiting.append(ticket)
            while not ticket.finished and (ticket.taken or self._writing >= self.slots):
                ticket.turn.wait()
            if ticket.finished:  # a leader took it into its transaction
                return ticket.outcome()
            self._writing += 1
            batch = self._take(ticket)
        try:
            self._write(batch)
        finally:
            with self._mutex:
                for t in batch:
                    t.finished = True
                    t.turn.notify()
                self._writing -= 1
                # The oldest callers still queued lead next, one per free slot (whoever
                # leads takes the others queued behind it).
                for t in self._waiting[: self.slots - self._writing]:
                    t.turn.notify()
        return ticket.outcome()

    def _take(self, leader: _Ticket[Any]) -> list[_Ticket[Any]]:
        """The leader and the callers queued before it, oldest first, up to `max_batch`."""
        others = [t for t in self._waiting if t is not leader][: self.max_batch - 1]
        batch = [leader, *others]
        for t in batch:
            t.taken = True
        taken = set(map(id, batch))
        self._waiting = [t for t in self._waiting if id(t) not in taken]
        return batch

    def _write(self, batch: list[_Ticket[Any]], again: bool = False) -> None:
        try:
            with self.db.session() as session:
                if self.db.is_sqlite:
                    # The write lock for the whole group at once, before its first read, so
                    # that no other writer commits between a caller's reads and its writes.
                    session.execute(text("BEGIN IMMEDIATE"))
                for ticket in self._in_bulk(session, batch):
                    self._one(session, ticket)
        except Exception as exc:  # the shared transaction is gone, with every caller's rows
            for t in batch:
                t.result = None
            if len(batch) == 1:
                if isinstance(exc, IntegrityError) and not again:
                    # A concurrent transaction took the message or key first: run again,
                    # now it is seen (a repeat answered as such, or a refusal).
                    self._write(batch, again=True)
                else:
                    batch[0].error = batch[0].error or exc
                return
            redo = [t for t in batch if t.error is None]  # refusals stand: they are final
            log.warning(
                "a group of %d submissions failed to commit (%s); each is written alone",
                len(batch),
                type(exc).__name__,
            )
            for t in redo:
                self._write([t])
            return
        with self._mutex:
            self.transactions += 1
            self.callers += len(batch)

    def _in_bulk(self, session: Session, batch: list[_Ticket[Any]]) -> list[_Ticket[Any]]:
        """The tickets `bulk` wrote get their results; the others are returned, to run alone."""
        if self.bulk is None or len(batch) < 2:
            return batch
        done = self.bulk(session, [t.work for t in batch])
        for place, result in done.items():
            batch[place].result = result
        return [t for place, t in enumerate(batch) if place not in done]

    def _one(self, session: Session, ticket: _Ticket[Any]) -> None:
        """The caller's work; a refusal before it writes is its own, the transaction goes on."""
        for attempt in (1, 2):
            notes = session.info.pop(Notifier.KEY, None)
            session.info.pop(WRITING, None)
            try:
                ticket.result = ticket.work(session)
            except Exception as exc:
                if session.info.pop(WRITING, False) or not _own_fault(exc):
                    raise  # the transaction holds part of it: the whole group is redone
                _restore(session, notes, kept=False)
                if attempt == 1 and isinstance(exc, self.retry_on):
                    continue  # a race another transaction won: look again, now it shows
                ticket.error = exc
                return
            session.info.pop(WRITING, None)
            _restore(session, notes, kept=True)
            return


def _own_fault(exc: BaseException) -> bool:
    """A refusal of the caller's message (the gateway's own errors), not a database fault."""
    from gateway.errors import GatewayError

    return isinstance(exc, GatewayError) and not exc.retryable


def _restore(session: Session, before: dict[int, list[Any]] | None, *, kept: bool) -> None:
    """The notifications queued before this caller, plus this caller's own if its work
    stands; a rolled-back caller's changes are never notified (history.py: only committed
    changes are told)."""
    mine: dict[int, list[Any]] = session.info.pop(Notifier.KEY, {})
    merged: dict[int, list[Any]] = dict(before or {})
    if kept:
        for enterprise_id, changes in mine.items():
            merged[enterprise_id] = [*merged.get(enterprise_id, []), *changes]
    if merged:
        session.info[Notifier.KEY] = merged
