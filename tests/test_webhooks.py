"""Webhooks (issue 17, item 2; docs/webhooks.md): every status change (R-COM-4) posted to the
enterprise's URL, signed with its secret, through an outbox with retries, back-off, a dead
letter and replay — against a real HTTP receiver on localhost that checks the signature, and
one that is down for a while."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.core import config as config_mod
from gateway.core import history, webhooks
from gateway.core.cli import main as cli_main
from gateway.core.history import Change, Source
from gateway.core.models import AuditEntry, Document, Outbox
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.ecx import samples
from tests.stack import PLATFORM, Stack, raw_config, wait_value
from tests.transport_fixtures import unique_prefix
from tests.webhook_fixtures import SECRET, Receiver, free_port, secret_file

WAIT = 60.0


def _raw(base: Path, keys: Path, url: str, **webhook_settings: Any) -> dict[str, Any]:
    raw = raw_config(base, keys, prefix=unique_prefix())
    ebc = raw["enterprises"][0]
    ebc["webhook"] = url
    ebc["webhook_secret_file"] = str(secret_file(base))
    raw["webhooks"] = {"backoff_seconds": 0.05, "backoff_max_seconds": 0.3, "poll_seconds": 0.05,
                       "timeout_seconds": 5, **webhook_settings}  # fmt: skip
    return raw


@pytest.fixture
def webhook_stack(tmp_path: Path, keys_dir: Path, broker: None) -> Iterator[Any]:
    made: list[Stack] = []

    def make(raw: dict[str, Any]) -> Stack:
        cfg = config_mod.from_dict(raw, tmp_path)
        gw = Gateway(cfg)
        gw.prepare()
        stack = Stack(cfg, gw).start()
        made.append(stack)
        return stack

    yield make
    for s in made:
        s.close()


def _order(stack: Stack, no: str) -> int:
    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, [no]))
    return int(result.documents[0].id)


def _moves(receiver: Receiver, doc_id: int) -> list[tuple[str | None, str]]:
    mine = sorted(
        (c for c in receiver.changes() if c["document_id"] == doc_id), key=lambda c: c["at"]
    )
    return [(c["from"], c["to"]) for c in mine]


def _deliveries(stack: Stack) -> list[dict[str, Any]]:
    with stack.gateway.db.session() as session:
        return webhooks.listing(session, None, 1000)


# --- the delivery, end to end ----------------------------------------------------------------


def test_every_status_change_is_posted_signed_with_the_receipt(
    webhook_stack: Any, tmp_path: Path, keys_dir: Path
) -> None:
    """R-COM-4: each change the history records reaches the receiver, signed, once per
    delivery id, with the record, the old and new status and the customs receipt."""
    receiver = Receiver(SECRET.encode()).start()
    try:
        stack = webhook_stack(_raw(tmp_path, keys_dir, receiver.url))
        doc_id = _order(stack, "EO-WH-0001")
        assert stack.wait_status(doc_id, "stored", WAIT) == "stored"
        path = stack.path(doc_id)
        moves = wait_value(lambda: _moves(receiver, doc_id), lambda m: len(m) >= len(path), WAIT)
    finally:
        receiver.stop()
    # every change, in the history's order (posts may overtake each other: receivers order
    # by `at`)
    assert [to for _from, to in moves] == path
    assert moves[0][0] is None and all(a[1] == b[0] for a, b in zip(moves, moves[1:]))
    assert receiver.refused == []
    stored = next(c for c in receiver.changes() if c["to"] == "stored")
    assert stored["return_status"] == "120" and stored["source"] == "customs"
    assert stored["receipt_id"] and len(stored["return_time"]) in (14, 17)
    assert stored["kind"] == "order" and "EO-WH-0001" in stored["business_key"]
    ids = [g["headers"]["X-Gateway-Delivery"] for g in receiver.got]
    assert len(ids) == len(set(ids))
    assert all(g["body"]["delivery"] == g["headers"]["X-Gateway-Delivery"] for g in receiver.got)
    assert {g["headers"]["X-Gateway-Event"] for g in receiver.got} == {"status.changed"}
    # the other enterprise has no webhook: nothing queued for it
    assert {d["target"] for d in _deliveries(stack)} == {"enterprise:3301960Z01"}


def test_a_receiver_down_for_a_while_gets_everything_once_it_is_up(
    webhook_stack: Any, tmp_path: Path, keys_dir: Path
) -> None:
    port = free_port()  # nobody listens: connection refused
    receiver = Receiver(SECRET.encode(), port=port)
    stack = webhook_stack(_raw(tmp_path, keys_dir, receiver.url, max_attempts=100_000))
    doc_id = _order(stack, "EO-WH-0002")
    assert stack.wait_status(doc_id, "stored", WAIT) == "stored"
    retried = wait_value(
        lambda: _deliveries(stack),
        lambda rows: rows and all(r["attempts"] >= 2 for r in rows),
        WAIT,
    )
    assert retried and all(r["state"] == "pending" for r in retried), retried
    assert all("Connect" in (r["last_error"] or "") for r in retried), retried
    receiver.start()
    try:
        rows = wait_value(
            lambda: _deliveries(stack),
            lambda rows: all(r["state"] == "delivered" for r in rows),
            WAIT,
        )
    finally:
        receiver.stop()
    assert all(r["state"] == "delivered" for r in rows), rows
    assert [to for _from, to in _moves(receiver, doc_id)] == stack.path(doc_id)
    assert receiver.refused == []


def test_a_failing_receiver_dead_letters_after_the_limit_and_ops_replay_it(
    webhook_stack: Any, tmp_path: Path, keys_dir: Path
) -> None:
    receiver = Receiver(SECRET.encode(), status=500).start()
    try:
        raw = _raw(tmp_path, keys_dir, receiver.url, max_attempts=3)
        stack = webhook_stack(raw)
        doc_id = _order(stack, "EO-WH-0003")
        assert stack.wait_status(doc_id, "stored", WAIT) == "stored"
        dead = wait_value(
            lambda: _deliveries(stack),
            lambda rows: rows and all(r["state"] == "dead" for r in rows),
            WAIT,
        )
        assert dead and all(r["attempts"] == 3 and r["last_status"] == 500 for r in dead), dead
        tried = len(receiver.got)
        assert tried == 3 * len(dead)  # bounded: no fourth try

        # ops see them, from the command line on the same configuration
        config_file = tmp_path / "config.yaml"
        config_file.write_text(yaml.safe_dump(raw, allow_unicode=True))
        runner = CliRunner()
        listed = runner.invoke(cli_main, ["--config", str(config_file), "ops", "webhooks", "dead"])
        assert listed.exit_code == 0, listed.output
        assert f"{len(dead)} dead webhook deliver" in listed.output and "HTTP 500" in listed.output

        receiver.status = 200  # fixed; replay
        ids = [str(r["id"]) for r in dead]
        replayed = runner.invoke(
            cli_main, ["--config", str(config_file), "ops", "webhooks", "replay", *ids, "999999"]
        )
        assert replayed.exit_code == 1, replayed.output  # 999999 is not a dead delivery
        assert json.loads(replayed.output) == {
            "replayed": sorted(int(i) for i in ids),
            "refused": [999999],
        }
        rows = wait_value(
            lambda: _deliveries(stack),
            lambda rows: all(r["state"] == "delivered" for r in rows),
            WAIT,
        )
    finally:
        receiver.stop()
    assert all(r["state"] == "delivered" and r["attempts"] == 1 for r in rows)
    # the replayed posts carry the first attempts' delivery ids (receivers deduplicate)
    first_ids = {g["headers"]["X-Gateway-Delivery"] for g in receiver.got[:tried]}
    assert {g["headers"]["X-Gateway-Delivery"] for g in receiver.got[tried:]} == first_ids
    with stack.gateway.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "webhooks.replay"))
        assert [e.outcome for e in entry] == ["partial"]


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(
    webhook_stack: Any, tmp_path: Path, keys_dir: Path
) -> None:
    """The check on the receiving side is real: a receiver holding another secret refuses
    every post (401), which the gateway counts as a failure."""
    receiver = Receiver(b"another-secret-entirely-000").start()
    try:
        stack = webhook_stack(_raw(tmp_path, keys_dir, receiver.url, max_attempts=2))
        doc_id = _order(stack, "EO-WH-0004")
        assert stack.wait_status(doc_id, "stored", WAIT) == "stored"
        rows = wait_value(
            lambda: _deliveries(stack),
            lambda rows: rows and all(r["state"] == "dead" for r in rows),
            WAIT,
        )
    finally:
        receiver.stop()
    assert rows and all(r["last_status"] == 401 for r in rows)
    assert receiver.got == [] and set(receiver.refused) == {"signature does not match"}


def test_the_webhook_row_commits_with_the_status_change(
    tmp_path: Path, keys_dir: Path, broker: None
) -> None:
    """Same transaction (R-COM-4): a rolled-back change leaves no delivery, a committed one
    leaves one, beside the enterprise's notification row."""
    raw = _raw(tmp_path, keys_dir, "http://127.0.0.1:9/never")
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare(broker=False)
    ent = gw.config.enterprises[0]
    party = samples.Party(ent.code, ent.name, ent.dxp_id)

    def count() -> tuple[int, int]:
        with gw.db.session() as session:
            hooks = session.scalar(select(func.count()).select_from(webhooks.TABLE)) or 0
            notes = session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.routing_key == ent.code)
            )
        return hooks, notes or 0

    def fail(session: Any, doc_id: int) -> None:
        doc = session.get(Document, doc_id)
        change = Change(Status.SIGNING_FAILED, Source.OPS, "test")
        history.record(session, doc, change, gw.notifier)

    try:
        doc_id = gw.intake.submit(ent.code, samples.order_message(party, PLATFORM, ["EO-WH-9"]),
                                  "test").documents[0].id  # fmt: skip
        before = count()
        assert before[0] == before[1] >= 1
        with pytest.raises(RuntimeError), gw.db.session() as session:
            fail(session, doc_id)
            raise RuntimeError("rolled back")
        assert count() == before
        with gw.db.session() as session:
            fail(session, doc_id)
        assert count() == (before[0] + 1, before[1] + 1)
    finally:
        gw.db.dispose()


# --- the pieces ------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.signature(b"k" * 16, 1700000000, body) == f"sha256={expected}"
    sig = webhooks.signature(b"k" * 16, 1700000000, body)
    assert webhooks.verify(b"k" * 16, "1700000000", body, sig, now=1700000100)
    assert not webhooks.verify(b"k" * 16, "1700000000", body + b" ", sig, now=1700000100)
    assert not webhooks.verify(b"k" * 16, "1700000000", body, sig, now=1700000000 + 301)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    low = [webhooks.backoff(n, 10, 3600, lambda: 0.0) for n in range(1, 12)]
    high = [webhooks.backoff(n, 10, 3600, lambda: 1.0) for n in range(1, 12)]
    assert low[:4] == [5, 10, 20, 40] and high[:4] == [10, 20, 40, 80]
    assert max(high) == 3600 and max(low) == 1800


def test_webhook_urls_must_be_http_and_need_a_secret(tmp_path: Path, keys_dir: Path) -> None:
    from gateway.errors import ConfigError

    raw = _raw(tmp_path, keys_dir, "file:///etc/passwd")
    with pytest.raises(ConfigError, match=r"enterprises\[0\]\.webhook: must be an http"):
        config_mod.from_dict(raw, tmp_path)
    raw = _raw(tmp_path, keys_dir, "https://erp.example/hook")
    del raw["enterprises"][0]["webhook_secret_file"]
    with pytest.raises(ConfigError, match="needs webhook_secret_file"):
        config_mod.from_dict(raw, tmp_path)
    raw = _raw(tmp_path, keys_dir, "https://erp.example/hook")
    Path(raw["enterprises"][0]["webhook_secret_file"]).chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        config_mod.from_dict(raw, tmp_path)


def test_two_processes_on_postgresql_post_each_delivery_once(
    tmp_path: Path, keys_dir: Path, broker: None, pg_url: str
) -> None:
    """Claims with FOR UPDATE SKIP LOCKED and a claim time: two workers competing for the
    same rows (two gateway processes) never post one delivery twice."""
    receiver = Receiver(SECRET.encode()).start()
    raw = _raw(tmp_path, keys_dir, receiver.url)
    raw["database"]["url"] = pg_url
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare(broker=False)
    ent = gw.config.enterprises[0]
    party = samples.Party(ent.code, ent.name, ent.dxp_id)
    try:
        for n in range(12):
            gw.intake.submit(ent.code, samples.order_message(party, PLATFORM, [f"EO-PG-{n}"]),
                             "test")  # fmt: skip
        settings = config_mod.WebhooksConfig(batch=2, concurrency=2)
        workers = [webhooks.WebhookWorker(gw.db, gw.webhooks, settings) for _ in range(2)]
        done: list[int] = []

        def drain(worker: webhooks.WebhookWorker) -> None:
            while worker.run_once():
                done.append(1)

        threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        rows = _deliveries_of(gw)
    finally:
        receiver.stop()
        gw.db.dispose()
    ids = [g["headers"]["X-Gateway-Delivery"] for g in receiver.got]
    assert len(rows) >= 12 and all(r["state"] == "delivered" for r in rows)
    assert sorted(ids) == sorted(r["delivery_id"] for r in rows)  # each once
    assert receiver.refused == []


def _deliveries_of(gw: Gateway) -> list[dict[str, Any]]:
    with gw.db.session() as session:
        return webhooks.listing(session, None, 1000)
