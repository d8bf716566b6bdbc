"""Group commit (issue 15): submissions arriving together share one intake transaction, each
caller answered only after its own rows are committed, refusals and faults isolated per caller
(R-COM-1: nothing acknowledged before it is committed; R-COM-3, R-COM-5 refusals per caller).

Real concurrency against real SQLite and PostgreSQL. What is waiting is made deterministic by
holding the first transaction open until the others have queued (no timing assumptions)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.core.group_commit import GroupCommit, writing
from gateway.core.history import OUTBOX
from gateway.core.models import DOCUMENTS
from gateway.ecx import samples
from gateway.errors import DuplicateDocument, GatewayError, InvalidMessage, Violation
from tests.stack import PLATFORM, Stack

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def gw_stack(request: pytest.FixtureRequest, make_stack: Callable[..., Stack]) -> Iterator[Stack]:
    """A gateway without workers (nothing moves the records on) on each database."""
    if request.param == "sqlite":
        yield make_stack()
    else:
        yield make_stack(db_url=request.getfixturevalue("pg_url"))


def documents_with_key(stack: Stack, key_part: str) -> int:
    """Counted on a connection of its own: what another process would see committed."""
    engine = create_engine(stack.config.database_url)
    try:
        with engine.connect() as conn:
            stmt = select(func.count()).select_from(DOCUMENTS)
            return int(conn.scalar(stmt.where(DOCUMENTS.c.business_key.contains(key_part))) or 0)
    finally:
        engine.dispose()


class HeldOpen:
    """A first transaction kept open until released, so that later callers queue behind it."""

    def __init__(self, group: GroupCommit) -> None:
        self.group = group
        group.slots = 1  # PostgreSQL's several slots would let later callers write at once
        self.inside = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=group.run, args=(self._work,), daemon=True)

    def _work(self, _session: Session) -> None:
        self.inside.set()
        assert self.release.wait(120)

    def __enter__(self) -> HeldOpen:
        self.thread.start()
        assert self.inside.wait(60)
        return self

    def wait_queued(self, n: int) -> None:
        deadline = time.monotonic() + 60
        while self.group.waiting() < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.group.waiting() == n

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.thread.join(60)


def run_all(calls: list[Callable[[], Any]], held: HeldOpen) -> list[Any]:
    """Start every call in a thread of its own, let them queue, release, collect outcomes."""
    outcomes: list[Any] = [None] * len(calls)

    def one(i: int) -> None:
        try:
            outcomes[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    held.wait_queued(len(calls))
    held.release.set()
    for t in threads:
        t.join(120)
    return outcomes


def test_a_lone_caller_is_written_at_once_by_its_own_thread(gw_stack: Stack) -> None:
    """No window: with nobody else waiting the caller leads its own transaction at once."""
    group = gw_stack.gateway.intake.group
    assert group is not None
    ran_in: list[int] = []
    group.run(lambda _s: ran_in.append(threading.get_ident()))
    result = gw_stack.submit(samples.order_message(gw_stack.ebc, PLATFORM, ["EOGCLONE0001"]))
    assert ran_in == [threading.get_ident()]
    assert (group.transactions, group.callers) == (2, 2)
    assert documents_with_key(gw_stack, "EOGCLONE0001") == 1 and not result.duplicate


def test_callers_arriving_together_share_one_transaction_with_refusals_their_own(
    gw_stack: Stack,
) -> None:
    stack = gw_stack
    group = stack.gateway.intake.group
    assert group is not None
    ebc = stack.ebc
    good = [samples.order_message(ebc, PLATFORM, [f"EOGCGOOD{i:04d}"], seed=i) for i in range(6)]
    # Two new messages for one key (R-COM-5.duplicate): one is stored, the other refused.
    twins = [samples.order_message(ebc, PLATFORM, ["EOGCTWIN0001"], seed=s) for s in (1, 2)]
    # Another enterprise's message sent with this enterprise's identity (R-COM-3).
    foreign = samples.order_message(stack.carrier, PLATFORM, ["EOGCFRGN0001"])
    bodies = [*good, *twins, foreign]
    seen_after: dict[int, int] = {}

    def submit(i: int) -> Any:
        result = stack.submit(bodies[i])
        seen_after[i] = documents_with_key(stack, result.documents[0].business_key.split("|")[-1])
        return result

    with HeldOpen(group) as held:
        outcomes = run_all([partial(submit, i) for i in range(len(bodies))], held)
    assert (group.transactions, group.callers) == (2, 1 + len(bodies))
    for i in range(6):
        assert not isinstance(outcomes[i], Exception), outcomes[i]
        assert seen_after[i] == 1  # committed by the time its caller was answered
        assert documents_with_key(stack, f"EOGCGOOD{i:04d}") == 1
    twin_outcomes = outcomes[6:8]
    assert sum(isinstance(o, DuplicateDocument) for o in twin_outcomes) == 1
    assert documents_with_key(stack, "EOGCTWIN0001") == 1
    assert isinstance(outcomes[8], InvalidMessage)
    assert outcomes[8].violations[0].rule == "R-COM-3"
    assert documents_with_key(stack, "EOGCFRGN0001") == 0


def test_a_group_that_cannot_commit_is_written_caller_by_caller(gw_stack: Stack) -> None:
    """A database fault inside the shared transaction fails only the caller that met it."""
    stack = gw_stack
    intake = stack.gateway.intake
    group = intake.group
    assert group is not None
    bodies = [samples.order_message(stack.ebc, PLATFORM, [f"EOGCREDO{i:04d}"]) for i in range(4)]

    def broken(_session: Session) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    calls: list[Callable[[], Any]] = [partial(stack.submit, b) for b in bodies]
    calls.insert(2, lambda: group.run(broken))
    with HeldOpen(group) as held:
        outcomes = run_all(calls, held)
    assert isinstance(outcomes[2], OperationalError)
    del outcomes[2]
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    for i in range(4):
        assert documents_with_key(stack, f"EOGCREDO{i:04d}") == 1
    # the held transaction, then each of the five alone (the failed group counts for nothing)
    assert group.transactions == 1 + 4


def test_a_refused_caller_notifies_nothing(gw_stack: Stack) -> None:
    """A caller refused before it wrote leaves no notification in the shared
    transaction's outbox row (history.py: only committed changes are told)."""
    stack = gw_stack
    group = stack.gateway.intake.group
    notifier = stack.gateway.notifier
    assert group is not None

    def told_then_refused(session: Session) -> None:
        notifier.queue_json(session, 1, {"document_id": 987654321, "at": "x"})
        raise InvalidMessage([Violation(rule="R-COM-1", field="x", message="refused")])

    body = samples.order_message(stack.ebc, PLATFORM, ["EOGCNOTE0001"])
    with HeldOpen(group) as held:
        outcomes = run_all([lambda: group.run(told_then_refused), lambda: stack.submit(body)], held)
    assert isinstance(outcomes[0], InvalidMessage) and not isinstance(outcomes[1], Exception)
    with stack.gateway.db.session() as session:
        bodies = [b.decode() for b in session.scalars(select(OUTBOX.c.body))]
    assert any("EOGCNOTE0001" in b for b in bodies)
    assert not any("987654321" in b for b in bodies)


def test_many_concurrent_callers_lose_nothing_and_double_nothing(gw_stack: Stack) -> None:
    """32 threads, each submitting its own orders and some another thread's again (the same
    message: same records) or anew (another message, same key: refused)."""
    stack = gw_stack
    ebc = stack.ebc
    n = 160
    bodies = [samples.order_message(ebc, PLATFORM, [f"EOGCLOAD{i:05d}"], seed=i) for i in range(n)]
    rivals = [
        samples.order_message(ebc, PLATFORM, [f"EOGCLOAD{i:05d}"], seed=10_000 + i)
        for i in range(0, n, 8)
    ]
    work = [*bodies, *bodies[::5], *rivals]

    def submit(body: bytes) -> Any:
        try:
            return stack.submit(body)
        except GatewayError as exc:
            return exc

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(submit, work))
    results = [o for o in outcomes if not isinstance(o, Exception)]
    refusals = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(r, DuplicateDocument) for r in refusals), refusals
    new_ids = [d.id for r in results if not r.duplicate for d in r.documents]
    assert len(new_ids) == len(set(new_ids)) == n  # one record per key, none twice
    assert all(d.id in set(new_ids) for r in results for d in r.documents)
    # each rival lost (its key was taken), or, had it overtaken, the original and its resend
    assert len(rivals) <= len(refusals) <= len(rivals) * 2
    assert documents_with_key(stack, "EOGCLOAD") == n


def test_a_caller_failing_after_it_began_to_write_leaves_nothing(gw_stack: Stack) -> None:
    """Work refused once it has written (marked by `writing`) cannot be undone alone: the
    group is redone caller by caller, and nothing of that caller is committed."""
    stack = gw_stack
    group = stack.gateway.intake.group
    notifier = stack.gateway.notifier
    assert group is not None

    def wrote_then_refused(session: Session) -> None:
        writing(session)
        notifier.send(session, "PARTIAL", {"marker": "EOGCPARTIAL"}, "partial-1")
        raise InvalidMessage([Violation(rule="R-COM-1", field="x", message="refused late")])

    bodies = [samples.order_message(stack.ebc, PLATFORM, [f"EOGCLATE{i:04d}"]) for i in range(3)]
    calls: list[Callable[[], Any]] = [partial(stack.submit, b) for b in bodies]
    calls.insert(1, partial(group.run, wrote_then_refused))
    with HeldOpen(group) as held:
        outcomes = run_all(calls, held)
    assert isinstance(outcomes[1], InvalidMessage)
    assert all(not isinstance(o, Exception) for i, o in enumerate(outcomes) if i != 1)
    for i in range(3):
        assert documents_with_key(stack, f"EOGCLATE{i:04d}") == 1
    with stack.gateway.db.session() as session:
        partial_rows = session.scalar(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.routing_key == "PARTIAL")
        )
    assert partial_rows == 0


# --- a group's new messages share their statements (issue 15) ---------------------------------


class Statements:
    """The SELECT/INSERT/UPDATE statements the gateway's engine runs while inside."""

    def __init__(self, stack: Stack) -> None:
        self.engine = stack.gateway.db.engine
        self.seen: list[str] = []

    def _note(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            self.seen.append(verb)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)


def _one_group(stack: Stack, bodies: list[bytes]) -> tuple[list[Any], int]:
    """Submit the bodies as one group; their outcomes and the statements the group ran."""
    group = stack.gateway.intake.group
    assert group is not None
    with HeldOpen(group) as held, Statements(stack) as statements:
        outcomes = run_all([partial(stack.submit, b) for b in bodies], held)
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    return outcomes, len(statements.seen)


def test_a_groups_new_messages_take_the_same_statements_however_many(gw_stack: Stack) -> None:
    """Three new one-order messages or twelve: one set of statements for the group (two reads,
    the inserts, the notifications), not about seven per message as each alone."""
    stack = gw_stack
    few = [samples.order_message(stack.ebc, PLATFORM, [f"EOGCFEW{i:05d}"]) for i in range(3)]
    many = [samples.order_message(stack.ebc, PLATFORM, [f"EOGCMANY{i:04d}"]) for i in range(12)]
    outcomes, for_few = _one_group(stack, few)
    outcomes_many, for_many = _one_group(stack, many)
    assert for_many == for_few
    ids = [r.message_id for r in outcomes_many]
    assert len(set(ids)) == 12 and not any(r.duplicate for r in outcomes_many)
    for i, result in enumerate(outcomes_many):  # each caller gets its own records
        assert result.documents[0].business_key.endswith(f"EOGCMANY{i:04d}")
        assert result.documents[0].pre_no.startswith(f"GW{result.message_id:013d}")
        assert documents_with_key(stack, f"EOGCMANY{i:04d}") == 1


def test_a_message_sent_twice_in_one_group_is_stored_once(gw_stack: Stack) -> None:
    stack = gw_stack
    body = samples.order_message(stack.ebc, PLATFORM, ["EOGCTWICE001"])
    other = samples.order_message(stack.ebc, PLATFORM, ["EOGCTWICE002"])
    outcomes, _ = _one_group(stack, [body, other, body])
    # Which copy queued first (and is stored) is the threads' order: either may be.
    first, again = sorted((outcomes[0], outcomes[2]), key=lambda r: r.duplicate)
    assert not first.duplicate and again.duplicate
    assert again.message_id == first.message_id
    assert [d.id for d in again.documents] == [d.id for d in first.documents]
    assert documents_with_key(stack, "EOGCTWICE001") == 1


def test_a_modification_and_new_messages_in_one_group(gw_stack: Stack) -> None:
    """A record modified (appType 2) goes alone, after the group's new ones; both stand."""
    stack = gw_stack
    saved = samples.order_message(stack.ebc, PLATFORM, ["EOGCMOD00001"], app_status="1")
    stack.submit(saved)
    modified = samples.order_message(stack.ebc, PLATFORM, ["EOGCMOD00001"], app_type="2", seed=3)
    fresh = [samples.order_message(stack.ebc, PLATFORM, [f"EOGCMODNEW{i:02d}"]) for i in range(3)]
    outcomes, _ = _one_group(stack, [fresh[0], modified, *fresh[1:]])
    assert outcomes[1].documents[0].version == 2
    assert outcomes[1].documents[0].status == "pending_sign"
    assert all(o.documents[0].version == 1 for i, o in enumerate(outcomes) if i != 1)
    assert documents_with_key(stack, "EOGCMOD00001") == 1
