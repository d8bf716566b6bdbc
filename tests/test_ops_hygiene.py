"""Ops hygiene (issue 11: findings 6, 10, 14, 15, 16), against the real RabbitMQ, SQLite and
PostgreSQL: dead letters replayed only into the queue they died in, a sender's ds:Signature
refused at intake, a receipt that crashes its handler kept as unreadable, repeated receipts
kept once, history paged, notify queues bounded, database files private."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from gateway.core import ops
from tests.stack import Stack, wait_value
from tests.transport_fixtures import ready_count, wait_for
from transports.consumer import ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER

pytestmark = pytest.mark.integration

ADMIN = {"X-API-Key": "test-admin-key"}


@pytest.fixture
def idle(make_stack) -> Stack:  # type: ignore[no-untyped-def]
    """A gateway with its topology declared but no worker running: queues only fill."""
    return make_stack("idle", sim=False)


@pytest.fixture
def channel() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    from tests.transport_fixtures import AMQP_URL

    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    yield connection.channel()
    connection.close()


# --- 6: a replay goes back where the broker says the letter died -------------------------------


def _reject_one(channel, queue: str) -> None:  # type: ignore[no-untyped-def]
    method = None
    while method is None:
        method, _props, _body = channel.basic_get(queue)
    channel.basic_nack(method.delivery_tag, requeue=False)


def test_replay_of_a_letter_with_forged_origin_headers_goes_back_to_its_own_queue(  # type: ignore[no-untyped-def]
    idle: Stack, channel
) -> None:
    topo = idle.gateway.topology
    forged = {
        ORIGINAL_EXCHANGE_HEADER: topo.receipts_exchange,
        ORIGINAL_ROUTING_KEY_HEADER: idle.ebc.dxp_id,
    }
    props = pika.BasicProperties(message_id="forged-1", headers=forged)
    channel.basic_publish(topo.intake_exchange, "declaration", b"<forged/>", props)
    _reject_one(channel, topo.inbound_queue)
    dead = topo.dead_queue(topo.inbound_queue)
    assert wait_for(lambda: ready_count(channel, dead) == 1)
    (letter,) = ops.list_dead_letters(idle.config, topo, "gateway.inbound")
    done = ops.replay_dead_letters(idle.config, topo, "gateway.inbound", ["forged-1"])
    assert done.done == ["forged-1"]
    assert wait_for(lambda: ready_count(channel, topo.inbound_queue) == 1)
    assert ready_count(channel, topo.receipts_queue) == 0  # confirmed before replay returned
    # Listed as the broker recorded it, not as the headers claim.
    assert (letter.exchange, letter.routing_key) == (topo.intake_exchange, "declaration")
    _method, props, body = channel.basic_get(topo.inbound_queue, auto_ack=True)
    assert body == b"<forged/>"
    assert props.headers[ORIGINAL_EXCHANGE_HEADER] == topo.intake_exchange


def test_a_letter_put_into_a_dead_queue_by_hand_is_not_replayed(idle: Stack, channel) -> None:  # type: ignore[no-untyped-def]
    topo = idle.gateway.topology
    death = {"queue": topo.receipts_queue, "reason": "rejected", "count": 1,
             "exchange": topo.receipts_exchange, "routing-keys": [idle.ebc.dxp_id]}  # fmt: skip
    props = pika.BasicProperties(message_id="planted-1", headers={"x-death": [death]})
    # Straight into gateway.inbound.dead through the dead-letter exchange.
    channel.basic_publish(topo.dead_letter_exchange, topo.inbound_queue, b"<planted/>", props)
    dead = topo.dead_queue(topo.inbound_queue)
    assert wait_for(lambda: ready_count(channel, dead) == 1)
    done = ops.replay_dead_letters(idle.config, topo, "gateway.inbound", None)
    assert (done.done, done.refused) == ([], ["planted-1"])
    assert wait_for(lambda: ready_count(channel, dead) == 1)
    assert ready_count(channel, topo.receipts_queue) == 0
    assert ready_count(channel, topo.inbound_queue) == 0


# --- 10: a message that comes signed is refused at intake ------------------------------------


def test_a_sender_signed_message_is_refused_at_intake_with_its_rule(idle: Stack) -> None:
    from fastapi.testclient import TestClient

    from gateway import xmlsafe
    from gateway.core.api import create_app
    from gateway.core.signing import load_key_config
    from gateway.ecx import samples
    from signers import sign as xml_sign
    from tests.stack import EBC_KEY, PLATFORM

    cfg = idle.config
    key, suite = load_key_config(cfg.enterprise(idle.ebc.code).key, cfg.sign_algorithms)
    plain = samples.order_message(idle.ebc, PLATFORM, ["EO2026120400001"])
    signed = xml_sign(xmlsafe.parse(plain).getroot(), key, suite)
    client = TestClient(create_app(idle.gateway))
    answer = client.post("/v1/messages", content=signed, headers={"X-API-Key": EBC_KEY})
    assert answer.status_code == 422, answer.text
    (violation,) = answer.json()["violations"]
    assert violation["rule"] == "R-COM-3"
    assert violation["field"] == "CEB303Message/ds:Signature"
    # The same message unsigned is taken.
    ok = client.post("/v1/messages", content=plain, headers={"X-API-Key": EBC_KEY})
    assert ok.status_code == 201, ok.text


# --- 14: a receipt that crashes its handler is kept as unreadable and acked --------------------

CUSTOMS = "DXPEDCCEB0000003"


def _publish_receipt(stack: Stack, receipt: bytes, msg_type: str) -> None:
    from tests.stack import publish_receipt
    from transports import wrap

    env = wrap(receipt, msg_type=msg_type, sender_id=CUSTOMS, receiver_ids=(stack.ebc.dxp_id,))
    # as customs' own broker user: receipts from anyone else are not taken (finding 2)
    publish_receipt(stack, env.body, env.cop_msg_id)


def _unreadable(stack: Stack) -> list[dict[str, Any]]:
    from gateway.core import queries

    with stack.gateway.db.session() as session:
        return queries.receipts_by_outcome(session, "unreadable")


def _kept_and_acked(stack: Stack, channel) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The one unreadable receipt, once it is kept and its delivery acked (not dead-lettered)."""
    topo = stack.gateway.topology
    rows = wait_value(lambda: _unreadable(stack), lambda rows: len(rows) == 1, 60)
    assert len(rows) == 1, "the crashing receipt was not kept as unreadable"
    assert wait_for(lambda: ready_count(channel, topo.receipts_queue) == 0, timeout=60)
    assert ready_count(channel, topo.dead_queue(topo.receipts_queue)) == 0
    return rows[0]  # type: ignore[no-any-return]


def test_reference_data_with_a_bad_date_is_kept_as_unreadable_and_acked(  # type: ignore[no-untyped-def]
    make_stack, channel
) -> None:
    from fastapi.testclient import TestClient

    from gateway.appointments import refmessage
    from gateway.core.api import create_app

    stack = make_stack("apt", sim=False).start(sim=False)
    declaration = {
        "entry_id": "223320260000000009",
        "ie_flag": "E",
        "declarant_code": "X",
        "consignee_code": "Y",
        "decl_port": "2233",
        "ie_port": "2248",
        "declared_at": "20261399110000",
    }  # month 13: the XSD's C14 takes it
    body = refmessage.build({"declarations": [declaration]})  # fmt: skip
    _publish_receipt(stack, body, refmessage.MESSAGE_TYPE)
    row = _kept_and_acked(stack, channel)
    assert row["error"].startswith("the receipt handler failed: ValueError")
    client = TestClient(create_app(stack.gateway))
    shown = client.get("/v1/receipts", params={"outcome": "unreadable"}, headers=ADMIN).json()
    assert shown[0]["error"] == row["error"]
    assert "Traceback" not in shown[0]["error"] and "\n" not in shown[0]["error"]


def test_a_value_longer_than_its_column_on_postgresql_is_kept_as_unreadable_and_acked(  # type: ignore[no-untyped-def]
    make_stack, pg_url: str, channel
) -> None:
    from datetime import UTC, datetime

    from gateway.ecx import samples
    from receipts.build import build_receipt, new_guid, return_time
    from tests.stack import PLATFORM

    stack = make_stack("pg", db_url=pg_url).start(sim=False)
    doc_id = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026120400014"]))
    doc_id = doc_id.documents[0].id
    assert stack.wait_status(doc_id, "sent", timeout=60) == "sent"
    entity = {"guid": new_guid(), "ebpCode": PLATFORM.code, "ebcCode": stack.ebc.code,
              "orderNo": "EO2026120400014", "returnStatus": "1" * 40,  # the column holds 10
              "returnTime": return_time(datetime.now(UTC)), "returnInfo": "long"}  # fmt: skip
    _publish_receipt(stack, build_receipt("CEB304Message", [entity]), "CEB304Message")
    row = _kept_and_acked(stack, channel)
    assert row["error"].startswith("the receipt handler failed: StringDataRightTruncation")
    assert "INSERT" not in row["error"] and "\n" not in row["error"]  # no statement, no trace
    assert stack.status(doc_id) == "sent"


# --- 16: database files are the owner's only --------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual one, under which files came out world-readable
    yield
    os.umask(old)


def test_sqlite_files_and_their_state_dir_are_created_private(
    tmp_path: Path, usual_umask: None
) -> None:
    from sqlalchemy import text

    from gateway.core.db import Database

    for name in ("gateway.db", "customs-sim.db"):  # the simulator's goes through Database too
        state = tmp_path / name.removesuffix(".db") / "var"
        db = Database(f"sqlite:///{state / name}")
        with db.session() as session:  # a write: SQLite makes its -wal and -shm files
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        files = [state / (name + suffix) for suffix in ("", "-wal", "-shm")]
        assert all(f.exists() for f in files), sorted(p.name for p in state.iterdir())
        assert [oct(_mode(f)) for f in files] == [oct(0o600)] * 3
        assert _mode(state) == 0o700
        db.dispose()


def test_a_world_readable_database_left_by_an_older_version_is_narrowed(
    tmp_path: Path, usual_umask: None
) -> None:
    from gateway.core.db import Database

    old = tmp_path / "gateway.db"
    old.touch(mode=0o644)
    Database(f"sqlite:///{old}").dispose()
    assert _mode(old) == 0o600


# --- 15: limits on growth ----------------------------------------------------------------------


def _order_receipt(stack: Stack, order_no: str, status: str, at: str) -> bytes:
    from receipts.build import build_receipt, new_guid
    from tests.stack import PLATFORM

    entity = {"guid": new_guid(), "ebpCode": PLATFORM.code, "ebcCode": stack.ebc.code,
              "orderNo": order_no, "returnStatus": status, "returnTime": at,
              "returnInfo": f"status {status}"}  # fmt: skip
    return build_receipt("CEB304Message", [entity])


def _receipt_rows(stack: Stack) -> int:
    from sqlalchemy import func, select

    from gateway.core.models import Receipt

    with stack.gateway.db.session() as session:
        return session.scalar(select(func.count()).select_from(Receipt)) or 0


def test_repeated_receipts_are_stored_once_and_add_no_history(make_stack) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from gateway.ecx import samples
    from receipts.build import return_time
    from tests.stack import PLATFORM

    stack = make_stack("rep", sim=False).start(sim=False)
    order = "EO2026120400015"
    doc_id = stack.submit(samples.order_message(stack.ebc, PLATFORM, [order])).documents[0].id
    assert stack.wait_status(doc_id, "sent", timeout=60) == "sent"
    at = return_time(datetime.now(UTC))
    stored = _order_receipt(stack, order, "120", at)
    for _ in range(4):  # customs' resend: the same receipt, byte for byte
        _publish_receipt(stack, stored, "CEB304Message")
    for _ in range(3):  # the same step again under a new receipt guid each time
        _publish_receipt(stack, _order_receipt(stack, order, "120", at), "CEB304Message")
    # Then a receipt that does add a row: once it is there, every one before it was handled.
    later = return_time(datetime.now(UTC))
    _publish_receipt(stack, _order_receipt(stack, order, "399", later), "CEB304Message")
    history = wait_value(
        lambda: stack.view(doc_id)["history"],
        lambda h: any(e["return_status"] == "399" for e in h),
        60,
    )
    from_customs = [(e["return_status"], e["applied"]) for e in history if e["source"] == "customs"]
    assert from_customs == [("120", True), ("399", False)]
    assert stack.status(doc_id) == "stored"
    assert _receipt_rows(stack) == 1 + 3 + 1  # byte-identical copies not stored again


def _grow_history(stack: Stack, doc_id: int, entries: int) -> None:
    from gateway.core.history import Change, Source, record_ignored
    from gateway.core.models import Document
    from gateway.core.status import Status

    with stack.gateway.db.session() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        for n in range(entries):
            change = Change(Status.STORED, Source.CUSTOMS, f"n{n}", None, "120", f"{n:017d}")
            record_ignored(session, doc, change, "test")


def test_document_history_is_paged_and_the_cli_shows_the_newest(  # type: ignore[no-untyped-def]
    idle: Stack, tmp_path: Path, keys_dir: Path
) -> None:
    import yaml
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from gateway.core.api import create_app
    from gateway.core.cli import main
    from gateway.ecx import samples
    from tests.stack import EBC_KEY, PLATFORM, raw_config

    result = idle.submit(samples.order_message(idle.ebc, PLATFORM, ["EO2026120400016"]))
    doc_id = result.documents[0].id
    _grow_history(idle, doc_id, 250)
    total = 250 + 1  # and the record's own first entry
    client = TestClient(create_app(idle.gateway))
    headers = {"X-API-Key": EBC_KEY}
    view = client.get(f"/v1/documents/{doc_id}", headers=headers).json()
    # Today's fields stay; the default page is the oldest 200 entries, oldest first.
    assert {"id", "status", "history", "versions", "enterprise"} <= set(view)
    assert (view["history_total"], view["history_page"], view["history_page_size"]) == (
        total,
        1,
        200,
    )
    assert len(view["history"]) == 200 and view["history"][1]["info"].endswith("n0")
    page = client.get(
        f"/v1/documents/{doc_id}",
        params={"history_page": 3, "history_page_size": 100},
        headers=headers,
    ).json()
    assert [h["return_time"] for h in page["history"]] == [f"{n:017d}" for n in range(199, 250)]
    too_big = client.get(
        f"/v1/documents/{doc_id}", params={"history_page_size": 5000}, headers=headers
    )
    assert too_big.status_code == 422
    config = tmp_path / "hyg.yaml"
    raw = raw_config(idle.config.state_dir, keys_dir, prefix=idle.gateway.topology.prefix)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    shown = CliRunner().invoke(main, ["--config", str(config), "status", str(doc_id)])
    assert shown.exit_code == 0, shown.output
    assert f"20 of {total} history entries shown" in shown.output
    assert "n249" in shown.output and "n229" not in shown.output and "n230" in shown.output
    few = CliRunner().invoke(main, ["--config", str(config), "status", str(doc_id), "--last", "2"])
    assert "n248" in few.output and "n247" not in few.output


def test_notify_queues_keep_the_newest_and_dead_letter_the_oldest(  # type: ignore[no-untyped-def]
    tmp_path: Path, keys_dir: Path, broker: None, channel
) -> None:
    from gateway.core import config as config_mod
    from gateway.core.runtime import Gateway
    from tests.stack import raw_config
    from tests.transport_fixtures import delete_topology, unique_prefix

    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    raw["amqp"]["notify_max_length"] = 3
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    topo = gw.topology
    code = gw.config.enterprises[0].code
    try:
        gw.prepare()
        for n in range(8):
            channel.basic_publish(topo.notify_exchange, code, f"note {n}".encode())
        queue, dead = topo.notify_queue(code), topo.dead_queue(topo.notify_queue(code))
        assert wait_for(lambda: ready_count(channel, dead) == 3, timeout=60)
        assert ready_count(channel, queue) == 3
        kept = [channel.basic_get(queue, auto_ack=True)[2] for _ in range(3)]
        assert kept == [b"note 5", b"note 6", b"note 7"]  # the newest
        # The dead queue is bounded too: it kept the newest of the five pushed out.
        (letter,) = ops.list_dead_letters(gw.config, topo, queue, limit=1)
        assert letter.reason == "maxlen" and letter.body == "note 2"
    finally:
        delete_topology(channel, topo, [e.code for e in gw.config.enterprises])
        gw.db.dispose()


def test_a_notify_queue_made_without_a_limit_is_kept_and_can_be_bounded_by_policy(  # type: ignore[no-untyped-def]
    broker: None, channel, caplog: pytest.LogCaptureFixture
) -> None:
    import shlex
    import subprocess

    from tests.transport_fixtures import delete_topology, rabbitmqctl_available, unique_prefix
    from transports.topology import Topology

    topo = Topology(prefix=unique_prefix(), notify_max_length=2)
    queue = topo.notify_queue("3301960Z01")
    # What an earlier version declared: the same queue without the limit.
    channel.queue_declare(topo.dead_queue(queue), durable=True,
                          arguments=topo.dead_queue_arguments())  # fmt: skip
    channel.queue_declare(queue, durable=True, arguments=topo.queue_arguments(queue))
    try:
        with caplog.at_level("WARNING", logger="transports.topology"):
            assert topo.declare_notify_queue(channel, "3301960Z01") == queue
        assert "rabbitmqctl set_policy" in caplog.text
        for n in range(4):  # the caller's channel is still open, and the queue unbounded
            channel.basic_publish(topo.notify_exchange, "3301960Z01", f"note {n}".encode())
        assert wait_for(lambda: ready_count(channel, queue) == 4)
        if not rabbitmqctl_available():
            return
        name = f"notify-limit-{topo.prefix}"
        command = shlex.split(topo.notify_policy_command())
        command[command.index("notify-limit")] = name
        subprocess.run(command, check=True, capture_output=True)
        try:  # the policy bounds the live queue in place: the oldest go
            assert wait_for(lambda: ready_count(channel, queue) == 2, timeout=60)
        finally:
            subprocess.run(["rabbitmqctl", "clear_policy", name], check=True, capture_output=True)
    finally:
        delete_topology(channel, topo, ["3301960Z01"])
