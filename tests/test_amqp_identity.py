"""AMQP callers are who the broker says (issue 11, findings 7 and 9).

Declarations on the inbound queue are taken from an enterprise's own broker user: the
`user_id` property, which RabbitMQ validates, names it; a key in a header is no identity.
Answers go only to the enterprise's own reply (or notify) queue, whatever `reply_to` says.
No key comes back from the ops tools for old dead letters that still carry one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pika
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pika.exceptions import ChannelClosedByBroker

from gateway.core import ops
from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.ecx import samples
from tests.stack import (
    AMQP_URL,
    EBC_KEY,
    ERP_USERS,
    PLATFORM,
    Stack,
    erp_url,
    publish_as,
    raw_config,
)
from tests.transport_fixtures import ready_count, wait_for

pytestmark = pytest.mark.integration

ACCESS_REFUSED, PRECONDITION_FAILED = 403, 406


def _order(stack: Stack, order_no: str) -> bytes:
    return samples.order_message(stack.ebc, PLATFORM, [order_no])


def _answers(url: str, queue: str, count: int) -> list[dict[str, Any]]:
    """`count` answers from `queue`, read as the broker user of `url` (generous deadline)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    answers: list[dict[str, Any]] = []
    try:
        channel = connection.channel()
        for _m, _p, body in channel.consume(queue, auto_ack=True, inactivity_timeout=30):
            if body is None:
                break
            answers.append(json.loads(body))
            if len(answers) == count:
                break
    finally:
        connection.close()
    return answers


def _depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return ready_count(connection.channel(), queue)
    finally:
        connection.close()


def _documents(stack: Stack) -> int:
    from sqlalchemy import func, select

    from gateway.core.models import Document

    with stack.gateway.db.session() as session:
        return session.scalar(select(func.count()).select_from(Document)) or 0


def test_a_declaration_from_the_enterprise_broker_user_is_answered_on_its_queue(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    topo, code = stack.gateway.topology, stack.ebc.code
    publish_as(erp_url(code), topo.intake_exchange, "declaration",
               _order(stack, "EO2026120400101"), message_id=str(uuid.uuid4()),
               reply_to=topo.reply_queue(code))  # fmt: skip
    (answer,) = _answers(erp_url(code), topo.reply_queue(code), 1)
    assert answer["ok"] is True, answer
    assert answer["documents"][0]["business_key"] == f"{code}|EO2026120400101"


def test_a_header_key_without_a_validated_user_is_refused(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    topo, code = stack.gateway.topology, stack.ebc.code
    # The enterprise's valid API key in a header, published without user_id (as guest, who
    # may publish anywhere): nobody vouches for the sender, so nothing is taken in.
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        props = pika.BasicProperties(message_id="header-key-1", headers={"x-api-key": EBC_KEY},
                                     reply_to=topo.reply_queue(code))  # fmt: skip
        channel.basic_publish(topo.intake_exchange, "declaration",
                              _order(stack, "EO2026120400102"), props)  # fmt: skip
    finally:
        connection.close()
    dead = topo.dead_queue(topo.inbound_queue)
    assert wait_for(lambda: _depth(dead) == 1, timeout=30)
    assert _documents(stack) == 0
    assert _depth(topo.reply_queue(code)) == 0  # an unknown sender is answered nowhere


def test_a_user_id_that_is_not_the_publishers_is_refused_by_the_broker(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    topo = stack.gateway.topology
    ebc, carrier = stack.ebc.code, stack.carrier.code
    with pytest.raises(ChannelClosedByBroker) as refused:
        publish_as(erp_url(carrier), topo.intake_exchange, "declaration",
                   _order(stack, "EO2026120400103"), message_id="impostor-1",
                   user_id=ERP_USERS[ebc])  # fmt: skip
    assert refused.value.reply_code == PRECONDITION_FAILED


def test_reply_to_another_enterprise_queue_is_not_followed(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    topo, ebc, carrier = stack.gateway.topology, stack.ebc.code, stack.carrier.code
    publish_as(erp_url(ebc), topo.intake_exchange, "declaration",
               _order(stack, "EO2026120400104"), message_id="reply-elsewhere-1",
               reply_to=topo.notify_queue(carrier))  # fmt: skip
    publish_as(erp_url(ebc), topo.intake_exchange, "declaration",
               _order(stack, "EO2026120400105"), message_id="reply-nowhere-1",
               reply_to="no.such.queue")  # fmt: skip
    answers = _answers(erp_url(ebc), topo.reply_queue(ebc), 2)
    assert [a["ok"] for a in answers] == [True, True]
    assert all("is not a queue of enterprise" in a["reply_to_refused"] for a in answers)
    assert _depth(topo.notify_queue(carrier)) == 0  # nothing of ebc's reached the carrier


def test_ops_never_show_the_key_of_an_old_dead_letter(make_stack, keys_dir) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack("idle", sim=False)  # no worker: the test kills the letter itself
    topo = stack.gateway.topology
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        props = pika.BasicProperties(message_id="old-client-1",
                                     headers={"x-api-key": EBC_KEY, "trace": "t-1"})  # fmt: skip
        channel.basic_publish(topo.intake_exchange, "declaration", b"<old/>", props)
        method = None
        while method is None:
            method, _props, _body = channel.basic_get(topo.inbound_queue)
        channel.basic_nack(method.delivery_tag, requeue=False)
        assert wait_for(lambda: ready_count(channel, topo.dead_queue(topo.inbound_queue)) == 1)
    finally:
        connection.close()
    (letter,) = ops.list_dead_letters(stack.config, topo, "gateway.inbound")
    assert EBC_KEY not in json.dumps(letter.as_dict())
    assert letter.headers["trace"] == "t-1"  # the other headers are still shown
    with TestClient(create_app(stack.gateway)) as client:
        listed = client.get("/v1/ops/dead-letters/gateway.inbound",
                            headers={"X-API-Key": "test-admin-key"})  # fmt: skip
    assert listed.status_code == 200 and "old-client-1" in listed.text
    assert EBC_KEY not in listed.text
    config_file = stack.config.state_dir / "cli-config.yaml"
    raw = raw_config(stack.config.state_dir, keys_dir, prefix=topo.prefix)
    config_file.write_text(yaml.safe_dump(raw, allow_unicode=True))
    shown = CliRunner().invoke(
        main, ["--config", str(config_file), "ops", "dead-letters", "gateway.inbound", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    assert "old-client-1" in shown.output and EBC_KEY not in shown.output


def test_an_enterprise_user_reads_only_its_own_queues(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    topo = stack.gateway.topology
    connection = pika.BlockingConnection(pika.URLParameters(erp_url(stack.ebc.code)))
    try:
        channel = connection.channel()
        channel.basic_get(topo.notify_queue(stack.ebc.code))  # its own: allowed
        with pytest.raises(ChannelClosedByBroker) as refused:
            channel.basic_get(topo.notify_queue(stack.carrier.code))
        assert refused.value.reply_code == ACCESS_REFUSED
    finally:
        if connection.is_open:
            connection.close()


def test_only_a_copy_our_own_user_published_may_name_another_publisher() -> None:
    from transports.consumer import ORIGINAL_USER_HEADER, publisher_user, republished

    named = {ORIGINAL_USER_HEADER: "customs-sim"}
    ours = pika.BasicProperties(user_id="customs-gateway", headers=named)
    theirs = pika.BasicProperties(user_id="test-erp-3301960Z01", headers=named)
    assert publisher_user(ours, "customs-gateway") == "customs-sim"
    assert publisher_user(theirs, "customs-gateway") == "test-erp-3301960Z01"
    assert publisher_user(pika.BasicProperties(headers=named), "customs-gateway") is None
    # re-published as our user, naming the one the broker had validated
    copy = republished(theirs, "customs-gateway")
    assert copy.user_id == "customs-gateway"
    assert publisher_user(copy, "customs-gateway") == "test-erp-3301960Z01"


def test_the_configuration_keeps_the_broker_users_apart(tmp_path, keys_dir) -> None:  # type: ignore[no-untyped-def]
    from gateway.core.config import from_dict
    from gateway.errors import ConfigError
    from tests.stack import GATEWAY_AMQP_URL
    from transports.permissions import user_of

    def load(change: Any) -> None:
        raw = raw_config(tmp_path, keys_dir, prefix="cfg.")
        change(raw)
        from_dict(raw, tmp_path)

    load(lambda raw: None)  # the tests' own configuration is fine
    with pytest.raises(ConfigError, match="the gateway's or customs' own broker user"):
        load(lambda raw: raw["enterprises"][0].update(amqp_users=[user_of(GATEWAY_AMQP_URL)]))
    with pytest.raises(ConfigError, match="one user submits for one enterprise"):
        load(lambda raw: raw["enterprises"][1].update(amqp_users=[ERP_USERS["3301960Z01"]]))
    with pytest.raises(ConfigError, match="need users of their own"):
        load(lambda raw: raw["amqp"].update(customs_url=GATEWAY_AMQP_URL))
