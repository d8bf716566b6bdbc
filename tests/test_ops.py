"""Ops tools against the real RabbitMQ: queue depths and consumers, dead letters listed with
their reason and replayed or discarded (one by one and in bulk), stuck records; CLI and API,
admin only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pika
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gateway.core import ops
from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.models import Document, utcnow
from gateway.ecx import samples
from tests.stack import EBC_KEY, PLATFORM, Stack, raw_config
from tests.transport_fixtures import AMQP_URL, ready_count, wait_for

ADMIN = {"X-API-Key": "test-admin-key"}


@pytest.fixture
def idle(make_stack) -> Stack:  # type: ignore[no-untyped-def]
    """A gateway with its topology declared but no worker running: queues only fill."""
    return make_stack("idle", sim=False)


@pytest.fixture
def channel() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    yield connection.channel()
    connection.close()


def _kill(stack: Stack, channel, bodies: list[bytes]) -> list[str]:  # type: ignore[no-untyped-def]
    """Publish `bodies` to the intake exchange and reject them: dead letters with x-death."""
    topo = stack.gateway.topology
    ids = [f"ops-test-{n}" for n in range(len(bodies))]
    for body, mid in zip(bodies, ids, strict=True):
        props = pika.BasicProperties(message_id=mid, headers={"x-api-key": "k", "trace": mid})
        channel.basic_publish(topo.intake_exchange, "declaration", body, props)
    for _ in bodies:
        method = None
        while method is None:
            method, _props, _body = channel.basic_get(topo.inbound_queue)
        channel.basic_nack(method.delivery_tag, requeue=False)
    dead = topo.dead_queue(topo.inbound_queue)
    assert wait_for(lambda: ready_count(channel, dead) == len(bodies))
    return ids


def test_queue_depths_and_consumer_counts(idle: Stack, channel) -> None:  # type: ignore[no-untyped-def]
    topo = idle.gateway.topology
    channel.basic_publish(topo.receipts_exchange, "any", b"<x/>")
    assert wait_for(lambda: ready_count(channel, topo.receipts_queue) == 1)
    stats = {s.queue: s for s in ops.queue_stats(idle.config, topo)}
    assert stats[topo.receipts_queue].messages == 1
    assert stats[topo.receipts_queue].consumers == 0
    assert stats[topo.inbound_queue].dead_letters == 0
    assert set(stats) >= {topo.customs_inbound_queue, topo.notify_queue(idle.ebc.code)}
    channel.basic_consume(topo.inbound_queue, lambda *a: None)
    stats = {s.queue: s for s in ops.queue_stats(idle.config, topo)}
    assert stats[topo.inbound_queue].consumers == 1


def test_dead_letters_show_reason_origin_and_original(idle: Stack, channel) -> None:  # type: ignore[no-untyped-def]
    topo = idle.gateway.topology
    _kill(idle, channel, [b"<first/>", "<二/>".encode(), b"\xff\xfe binary"])
    letters = ops.list_dead_letters(idle.config, topo, "gateway.inbound")
    assert [d.id for d in letters] == ["ops-test-0", "ops-test-1", "ops-test-2"]
    first = letters[0]
    assert (first.reason, first.exchange, first.routing_key) == (
        "rejected",
        topo.intake_exchange,
        "declaration",
    )
    assert first.queue == topo.inbound_queue and first.body == "<first/>"
    # x-death kept apart; a key an old client sent is never shown (issue 11, finding 7)
    assert first.headers == {"x-api-key": "[redacted]", "trace": "ops-test-0"}
    assert letters[1].body == "<二/>" and letters[2].body_encoding == "base64"
    # Listing removed nothing.
    assert wait_for(lambda: ready_count(channel, topo.dead_queue(topo.inbound_queue)) == 3)


def test_replay_one_then_discard_one_then_all(idle: Stack, channel) -> None:  # type: ignore[no-untyped-def]
    topo = idle.gateway.topology
    dead = topo.dead_queue(topo.inbound_queue)
    _kill(idle, channel, [b"<a/>", b"<b/>", b"<c/>", b"<d/>"])
    done = ops.replay_dead_letters(idle.config, topo, "gateway.inbound", ["ops-test-1", "nope"])
    assert (done.done, done.missing) == (["ops-test-1"], ["nope"])
    method, props, body = channel.basic_get(topo.inbound_queue, auto_ack=True)
    assert body == b"<b/>" and props.message_id == "ops-test-1"
    assert "x-death" not in (props.headers or {}) and props.headers["trace"] == "ops-test-1"
    assert wait_for(lambda: ready_count(channel, dead) == 3)
    gone = ops.discard_dead_letters(idle.config, topo, topo.inbound_queue, ["ops-test-2"])
    assert gone.done == ["ops-test-2"] and wait_for(lambda: ready_count(channel, dead) == 2)
    rest = ops.discard_dead_letters(idle.config, topo, "gateway.inbound", None)
    assert sorted(rest.done) == ["ops-test-0", "ops-test-3"]
    assert wait_for(lambda: ready_count(channel, dead) == 0)


def test_a_dead_letter_from_a_real_refusal_replays_into_the_gateway(  # type: ignore[no-untyped-def]
    make_stack, channel
) -> None:
    stack = make_stack("live", sim=False).start(sim=False)
    topo = stack.gateway.topology
    props = pika.BasicProperties(message_id="refused-1", headers={"x-api-key": EBC_KEY})
    channel.basic_publish(topo.intake_exchange, "declaration", b"<not-xml", props)
    dead = topo.dead_queue(topo.inbound_queue)
    assert wait_for(lambda: ready_count(channel, dead) == 1, timeout=60)
    (letter,) = ops.list_dead_letters(stack.config, topo, "gateway.inbound")
    assert letter.reason == "rejected" and letter.body == "<not-xml"
    ops.replay_dead_letters(stack.config, topo, "gateway.inbound", [letter.id])
    # Refused again by the gateway, so dead again: now it has died twice.
    assert wait_for(lambda: ready_count(channel, dead) == 1, timeout=60)
    (again,) = ops.list_dead_letters(stack.config, topo, "gateway.inbound")
    assert again.id == "refused-1"


def test_unknown_queue_is_named(idle: Stack) -> None:
    with pytest.raises(ops.NotFound, match="known: "):
        ops.list_dead_letters(idle.config, idle.gateway.topology, "no.such.queue")


# --- stuck records ---------------------------------------------------------------------------


def _age(stack: Stack, doc_id: int, hours: float) -> None:
    with stack.gateway.db.session() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None
        doc.updated_at = utcnow() - timedelta(hours=hours)


def test_stuck_records_by_age_and_state(idle: Stack) -> None:
    result = idle.submit(samples.order_message(idle.ebc, PLATFORM, ["EO2026112208001"]))
    doc_id = result.documents[0].id
    _age(idle, doc_id, 2)
    with idle.gateway.db.session() as s:
        found = ops.stuck_records(s, timedelta(hours=1))
        assert [r["id"] for r in found["records"]] == [doc_id]
        assert found["records"][0]["status"] == "pending_sign"
        assert ops.stuck_records(s, timedelta(hours=3))["records"] == []
        assert ops.stuck_records(s, timedelta(hours=1), ["sent"])["records"] == []
        with pytest.raises(ops.NotFound, match="no status"):
            ops.stuck_records(s, timedelta(hours=1), ["nonsense"])


# --- API and CLI -----------------------------------------------------------------------------


def test_ops_api_needs_an_admin_key(idle: Stack, channel) -> None:  # type: ignore[no-untyped-def]
    _kill(idle, channel, [b"<a/>", b"<b/>"])
    with TestClient(create_app(idle.gateway)) as client:
        for method, path in [
            ("GET", "/v1/ops/queues"),
            ("GET", "/v1/ops/dead-letters/gateway.inbound"),
            ("POST", "/v1/ops/dead-letters/gateway.inbound/replay"),
            ("POST", "/v1/ops/dead-letters/gateway.inbound/discard"),
            ("GET", "/v1/ops/stuck"),
        ]:
            for headers in ({}, {"X-API-Key": EBC_KEY}):
                resp = client.request(method, path, headers=headers, json={"all": True})
                assert resp.status_code == 401, (method, path, headers)
        queues = client.get("/v1/ops/queues", headers=ADMIN).json()
        inbound = next(q for q in queues if q["queue"].endswith("gateway.inbound"))
        assert inbound["dead_letters"] == 2
        listed = client.get("/v1/ops/dead-letters/gateway.inbound", headers=ADMIN).json()
        assert [d["reason"] for d in listed] == ["rejected", "rejected"]
        url = "/v1/ops/dead-letters/gateway.inbound"
        assert client.post(f"{url}/replay", headers=ADMIN, json={}).status_code == 404
        one = client.post(f"{url}/replay", headers=ADMIN, json={"ids": ["ops-test-0"]}).json()
        assert one["done"] == ["ops-test-0"]
        rest = client.post(f"{url}/discard", headers=ADMIN, json={"all": True}).json()
        assert rest["done"] == ["ops-test-1"]
        stuck = client.get("/v1/ops/stuck?older_than=0", headers=ADMIN).json()
        assert stuck["records"] == [] and "outbox_unsent" in stuck


def test_ops_cli(idle: Stack, channel, tmp_path: Path, keys_dir: Path) -> None:  # type: ignore[no-untyped-def]
    raw = raw_config(idle.config.state_dir, keys_dir, prefix=idle.gateway.topology.prefix)
    config = tmp_path / "ops.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    _kill(idle, channel, [b"<a/>", b"<b/>", b"<c/>"])

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), "ops", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "gateway.inbound" in run("queues")
    listing = run("dead-letters", "gateway.inbound", "--json").splitlines()
    assert [json.loads(line)["id"] for line in listing[:-1]] == [f"ops-test-{n}" for n in range(3)]
    assert json.loads(run("replay", "gateway.inbound", "ops-test-2"))["done"] == ["ops-test-2"]
    assert json.loads(run("discard", "gateway.inbound", "--all"))["done"] == [
        "ops-test-0",
        "ops-test-1",
    ]
    assert "0 record(s) stuck" in run("stuck", "--older-than", "1h")
    bad = CliRunner().invoke(main, ["--config", str(config), "ops", "replay", "gateway.inbound"])
    assert bad.exit_code != 0 and "--all" in bad.output


# --- metrics and structured logs -------------------------------------------------------------


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_every_stage_and_read_queue_depths(stack: Stack) -> None:
    stages = [
        ("intake", "accepted"),
        ("signing", "signed"),
        ("publish", "published"),
        ("receipt", "matched"),
        ("intake", "refused"),
    ]
    before = {s: _sample("gateway_operations_total", stage=s[0], outcome=s[1]) for s in stages}
    refused = _sample("gateway_errors_total", stage="intake", type="InvalidMessage")
    with TestClient(create_app(stack.gateway)) as client:
        body = samples.order_message(stack.ebc, PLATFORM, ["EO2026112208101"])
        doc = client.post("/v1/messages", content=body, headers={"X-API-Key": EBC_KEY}).json()
        assert client.post("/v1/messages", content=b"<x/>", headers={"X-API-Key": EBC_KEY})
        assert stack.wait_status(doc["documents"][0]["id"], "stored") == "stored"
        assert client.get("/metrics", headers={"X-API-Key": EBC_KEY}).status_code == 401
        assert client.get("/metrics").status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": "Bearer test-admin-key"})
    assert scraped.status_code == 200 and "text/plain" in scraped.headers["content-type"]
    for stage in stages:
        assert _sample("gateway_operations_total", stage=stage[0], outcome=stage[1]) > before[stage]
    assert _sample("gateway_errors_total", stage="intake", type="InvalidMessage") == refused + 1
    assert _sample("gateway_operation_seconds_count", stage="signing") >= 1
    queue = stack.gateway.topology.receipts_queue
    assert f'gateway_queue_consumers{{queue="{queue}"}} 1.0' in scraped.text
    assert f'gateway_queue_dead_letters{{queue="{queue}"}} 0.0' in scraped.text


def test_json_logs_carry_the_ids_known_where_a_line_is_logged(stack: Stack) -> None:
    import io
    import logging

    from gateway.core import logs

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        stack.gateway.receipts.handle(b"<not a receipt", cop_msg_id="COP-JSON-1")
        with logs.context(document_id=42):
            logging.getLogger("gateway.test").info("inside %s", "a context", extra={"n": 1})
        logging.getLogger("gateway.test").warning("outside")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    unreadable = next(r for r in lines if r["msg"].startswith("unreadable receipt"))
    assert unreadable["cop_msg_id"] == "COP-JSON-1" and unreadable["level"] == "WARNING"
    inside = next(r for r in lines if r["msg"] == "inside a context")
    assert inside["document_id"] == 42 and inside["n"] == 1 and inside["logger"] == "gateway.test"
    outside = next(r for r in lines if r["msg"] == "outside")
    assert "document_id" not in outside and "cop_msg_id" not in outside


def test_the_json_logs_flag_installs_the_formatter() -> None:
    import logging

    from gateway.core import cli, logs

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        cli._setup_logging(False, json_logs=True)
        assert [type(h.formatter) for h in root.handlers] == [logs.JsonFormatter]
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)


def test_an_age_past_what_a_time_span_holds_is_refused_not_crashed() -> None:
    import click

    assert ops.parse_age("10m").total_seconds() == 600
    for text in ("9223372036854775807", "1e300d", "nan", "-5s"):
        with pytest.raises(click.BadParameter, match="between 0 and"):
            ops.parse_age(text)
