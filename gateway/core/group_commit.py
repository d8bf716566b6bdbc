"""Group commit: submissions that arrive together share one transaction and one fsync.

Each caller's work runs in a savepoint of its own inside the shared transaction, so one
caller's refusal (a conflict, a bad party, a duplicate key) rolls back only its own rows and
reaches only that caller. Every caller is answered after the one commit that holds its rows
(R-COM-1: nothing acknowledged before it is committed).

There is no waiting window: the first caller to arrive while no transaction is open runs at
once, alone, so a lone caller pays nothing. Callers arriving while a transaction is being
written queue up; when it commits, the first of them leads the next transaction with every
caller queued by then (at most `max_batch`). The group is therefore as large as the load
makes it, and bounded.

If the shared transaction itself fails (its commit, a lost connection, a deadlock), nothing of
it was kept: every caller whose own work had succeeded is run again in a transaction of its
own, so a fault of one never fails the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core.db import Database
from gateway.core.history import Notifier

log = logging.getLogger(__name__)

T = TypeVar("T")

#: callers in one shared transaction at most
MAX_BATCH = 64


@dataclass(eq=False)
class _Ticket(Generic[T]):
    work: Callable[[Session], T]
    result: T | None = None
    error: BaseException | None = None
    finished: bool = False
    #: work that succeeded in its savepoint; it stands only once the transaction commits
    pending: bool = field(default=False)

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    """Runs `work(session)` callables from many threads, those waiting together in one
    transaction. `retry_on` errors (a race another transaction won) are retried once in a
    fresh savepoint, as the single-caller path retries in a fresh transaction."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = MAX_BATCH,
        retry_on: tuple[type[BaseException], ...] = (IntegrityError,),
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.retry_on = retry_on
        self._mutex = threading.Lock()
        self._turn = threading.Condition(self._mutex)
        self._waiting: list[_Ticket[Any]] = []
        self._busy = False
        #: transactions written and callers they held (for the tests and the benchmark)
        self.transactions = 0
        self.callers = 0

    def waiting(self) -> int:
        """Callers queued for the next transaction."""
        with self._mutex:
            return len(self._waiting)

    def run(self, work: Callable[[Session], T]) -> T:
        ticket: _Ticket[T] = _Ticket(work)
        with self._mutex:
            self._waiting.append(ticket)
            while self._busy and not ticket.finished:
                self._turn.wait()
            if ticket.finished:  # a leader took it into its transaction
                return ticket.outcome()
            self._busy = True
            batch = self._take(ticket)
        try:
            self._write(batch)
        finally:
            with self._mutex:
                for t in batch:
                    t.finished = True
                self._busy = False
                self._turn.notify_all()
        return ticket.outcome()

    def _take(self, leader: _Ticket[Any]) -> list[_Ticket[Any]]:
        """The leader and the callers queued before it, oldest first, up to `max_batch`."""
        others = [t for t in self._waiting if t is not leader][: self.max_batch - 1]
        batch = [leader, *others]
        taken = set(map(id, batch))
        self._waiting = [t for t in self._waiting if id(t) not in taken]
        return batch

    def _write(self, batch: list[_Ticket[Any]]) -> None:
        try:
            with self.db.session() as session:
                if self.db.is_sqlite:
                    # The write lock for the whole group at once: pysqlite would otherwise
                    # open no transaction before the first INSERT, and the first savepoint's
                    # release would commit on its own (one fsync per caller again).
                    session.execute(text("BEGIN IMMEDIATE"))
                for ticket in batch:
                    self._one(session, ticket)
        except Exception as exc:  # the shared transaction is gone, with every caller's rows
            for t in batch:
                t.pending, t.result = False, None
            redo = [t for t in batch if t.error is None]  # refusals stand: they are final
            if len(batch) == 1:
                batch[0].error = batch[0].error or exc
                return
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
        for t in batch:
            t.pending = False

    def _one(self, session: Session, ticket: _Ticket[Any]) -> None:
        """The caller's work in a savepoint; its failure is its own, the transaction goes on."""
        for attempt in (1, 2):
            notes = session.info.pop(Notifier.KEY, None)
            try:
                with session.begin_nested():
                    ticket.result = ticket.work(session)
            except self.retry_on as exc:
                _restore(session, notes, kept=False)
                if attempt == 2:
                    ticket.error = exc
                continue
            except Exception as exc:
                _restore(session, notes, kept=False)
                if not _own_fault(exc):
                    raise  # the database, not the caller: the whole group is redone
                ticket.error = exc
                return
            _restore(session, notes, kept=True)
            ticket.pending = True
            return


def _own_fault(exc: BaseException) -> bool:
    """A refusal of the caller's message (the gateway's own errors), not a database fault."""
    from gateway.errors import GatewayError

    return isinstance(exc, GatewayError) and not exc.retryable


def _restore(session: Session, before: dict[int, list[Any]] | None, *, kept: bool) -> None:
    """The notifications queued before this caller, plus this caller's own if its savepoint
    stands; a rolled-back caller's changes are never notified (history.py: only committed
    changes are told)."""
    mine: dict[int, list[Any]] = session.info.pop(Notifier.KEY, {})
    merged: dict[int, list[Any]] = dict(before or {})
    if kept:
        for enterprise_id, changes in mine.items():
            merged[enterprise_id] = [*merged.get(enterprise_id, []), *changes]
    if merged:
        session.info[Notifier.KEY] = merged
