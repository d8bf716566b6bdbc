"""The other two intake channels: the watched folder and the inbound RabbitMQ queue."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pika
import pytest

from gateway.ecx import samples
from tests.stack import ERP_USERS, PLATFORM, Stack, erp_url, wait_value
from tests.transport_fixtures import AMQP_URL, ready_count, wait_for

pytestmark = pytest.mark.integration


def _inbox(stack: Stack) -> Path:
    assert stack.config.intake.folder is not None
    inbox = stack.config.intake.folder / stack.ebc.code
    inbox.mkdir(parents=True, exist_ok=True)
    return inbox


def test_folder_files_end_in_done_or_failed_with_a_report(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    inbox = _inbox(stack)
    good = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200501"])
    (inbox / "good.xml").write_bytes(good)
    (inbox / "bad.xml").write_bytes(
        good.replace(b"<ceb:orderNo>", b"<ceb:orderNo>   ", 1).replace(b"EO2026112200501", b"", 1)
    )
    # The report is written before the file moves (a crash in between re-takes the file),
    # so wait for the files themselves.
    moved = (inbox / "done" / "good.xml", inbox / "failed" / "bad.xml")
    wait_value(lambda: all(p.exists() for p in moved), bool, 15)
    assert (inbox / "done" / "good.xml").read_bytes() == good
    result = json.loads((inbox / "done" / "good.xml.result.json").read_text())
    assert result["documents"][0]["business_key"] == "3301960Z01|EO2026112200501"
    report = json.loads((inbox / "failed" / "bad.xml.errors.json").read_text())
    assert report["violations"][0]["rule"] == "R-COM-2"
    assert (inbox / "failed" / "bad.xml").exists()  # never deleted
    assert not (inbox / "good.xml").exists() and not (inbox / "bad.xml").exists()


def test_folder_never_reads_a_file_still_being_written(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    inbox = _inbox(stack)
    data = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200502"])
    partial = inbox / "slow.xml.part"
    partial.write_bytes(data[: len(data) // 2])
    growing = inbox / "growing.xml"
    with growing.open("wb") as out:  # written slowly under its final name
        for i in range(0, len(data), 200):
            out.write(data[i : i + 200])
            out.flush()
            time.sleep(0.02)
    time.sleep(1.0)
    assert partial.exists()  # a .part file is left alone
    partial.write_bytes(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200503"]))
    partial.rename(inbox / "slow.xml")
    wait_value(
        lambda: len(list((inbox / "done").glob("*.xml"))) if (inbox / "done").exists() else 0,
        lambda n: n == 2,
        15,
    )
    assert sorted(p.name for p in (inbox / "done").glob("*.xml")) == ["growing.xml", "slow.xml"]
    assert not (inbox / "failed").exists()


def test_inbound_queue_answers_with_record_ids_or_errors(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    good = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200504"])
    bad = good.replace(b"<ceb:currency>142</ceb:currency>", b"<ceb:currency>XYZ</ceb:currency>")
    topo = stack.gateway.topology
    # The enterprise's ERP connects as its own broker user; the broker validates user_id,
    # which says who submits (issue 11, finding 7). Answers come on its own reply queue.
    reply = topo.reply_queue(stack.ebc.code)
    connection = pika.BlockingConnection(pika.URLParameters(erp_url(stack.ebc.code)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in (good, bad):
            channel.basic_publish(
                topo.intake_exchange,
                "declaration",
                body,
                pika.BasicProperties(
                    delivery_mode=2,
                    reply_to=reply,
                    message_id=str(uuid.uuid4()),
                    user_id=ERP_USERS[stack.ebc.code],
                ),
            )
        # A sender no broker user vouches for (a key in a header is no identity): refused,
        # and with no enterprise to answer, dead-lettered for ops.
        _publish_unvouched(topo.intake_exchange, good, reply, key="wrong-key")
        answers = []
        for _method, _props, payload in channel.consume(
            reply, auto_ack=True, inactivity_timeout=15
        ):
            if payload is None:
                break
            answers.append(json.loads(payload))
            if len(answers) == 2:
                break
    finally:
        connection.close()
    assert [a["ok"] for a in answers] == [True, False]
    assert answers[0]["documents"][0]["business_key"] == "3301960Z01|EO2026112200504"
    assert answers[1]["violations"][0]["rule"] == "R-COM-1.code"
    dead = topo.dead_queue(topo.inbound_queue)
    assert wait_for(lambda: _ready(dead) == 1, timeout=30)


def _publish_unvouched(exchange: str, body: bytes, reply_to: str, key: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        props = pika.BasicProperties(
            reply_to=reply_to, message_id=str(uuid.uuid4()), headers={"x-api-key": key}
        )
        connection.channel().basic_publish(exchange, "declaration", body, props)
    finally:
        connection.close()


def _ready(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return ready_count(connection.channel(), queue)
    finally:
        connection.close()
