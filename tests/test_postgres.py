"""The same pipeline on PostgreSQL (the store for several workers): migrations, intake with
row locks, idempotency under concurrent submissions, receipts to the final status."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.ecx import samples
from gateway.errors import DuplicateDocument
from tests.stack import PLATFORM

pytestmark = pytest.mark.integration


def test_happy_path_on_postgresql(make_stack, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(db_url=pg_url).start()
    assert stack.gateway.db.engine.dialect.name == "postgresql"
    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200601"]))
    assert stack.wait_status(result.documents[0].id, "stored") == "stored"


def test_concurrent_submissions_of_one_message_make_one_record(make_stack, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(db_url=pg_url)
    data = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200602"])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: stack.submit(data), range(8)))
    assert len({r.message_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1


def test_concurrent_new_messages_for_one_key_make_one_live_record(make_stack, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(db_url=pg_url)
    bodies = [
        samples.order_message(stack.ebc, PLATFORM, ["EO2026112200603"], seed=s) for s in range(6)
    ]

    def submit(body: bytes) -> str:
        try:
            stack.submit(body)
            return "stored"
        except DuplicateDocument:
            return "refused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(submit, bodies))
    assert outcomes.count("stored") == 1 and outcomes.count("refused") == 5
