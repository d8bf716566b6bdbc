"""Integration tests of the RabbitMQ transport against a real broker (AMQP_URL).

Each test declares its own topology under a unique prefix and deletes it afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from gateway.codes import EXPORT_RECEIVER_ID
from gateway.errors import ConfigError, InvalidMessage, TransportError, Violation
from tests.transport_fixtures import (
    AMQP_URL,
    close_connections_named,
    consuming,
    delete_topology,
    first_death,
    rabbitmqctl_available,
    ready_count,
    unique_prefix,
    wait_for,
)
from transports import Consumer, Delivery, PermanentFailure, Publisher, Topology, unwrap, wrap

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("broker"),  # fails loudly without RabbitMQ (conftest)
]

SENDER = "DXPENT0000000001"


@pytest.fixture
def channel() -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    yield connection.channel()
    connection.close()


@pytest.fixture
def make_topology(channel: BlockingChannel) -> Iterator[Callable[..., Topology]]:
    """Topologies under a fresh prefix, declared now and deleted after the test."""
    made: list[tuple[Topology, tuple[str, ...]]] = []

    def make(*, notify_codes: tuple[str, ...] = (), **options: object) -> Topology:
        topology = Topology(prefix=unique_prefix(), **options)  # type: ignore[arg-type]
        made.append((topology, notify_codes))  # before declaring: a half-declared one too
        topology.declare(channel)
        return topology

    yield make
    cleanup = pika.BlockingConnection(pika.URLParameters(AMQP_URL))  # test channel may be closed
    for topology, codes in made:
        delete_topology(cleanup.channel(), topology, codes)
    cleanup.close()


@pytest.fixture
def publisher(make_topology: Callable[..., Topology]) -> Iterator[Publisher]:
    with Publisher(AMQP_URL, make_topology(delivery_limit=3)) as pub:
        yield pub


def send(pub: Publisher, body: bytes = b"<x/>", message_id: str = "m-1") -> None:
    pub.publish(pub.topology.outbound_exchange, EXPORT_RECEIVER_ID, body, message_id=message_id)


def consume_until(
    topology: Topology, handler: Callable[[Delivery], None], done: Callable[[], bool], **kw: object
) -> None:
    consumer = Consumer(AMQP_URL, topology.customs_inbound_queue, handler, **kw)  # type: ignore[arg-type]
    with consuming(consumer):
        assert wait_for(done, timeout=60), "consumer did not get there in time"


# --- topology -----------------------------------------------------------------------------


def test_topology_declares_twice(channel: BlockingChannel, make_topology) -> None:
    topology = make_topology()
    topology.declare(channel)  # second time: same arguments, no error
    for binding in topology.bindings:
        assert ready_count(channel, binding.queue) == 0
        assert ready_count(channel, topology.dead_queue(binding.queue)) == 0


def test_redeclare_with_other_arguments_says_what_to_do(make_topology) -> None:
    topology = make_topology(delivery_limit=5)
    other = Topology(prefix=topology.prefix, delivery_limit=7)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        with pytest.raises(ConfigError) as caught:
            other.declare(connection.channel())
    finally:
        connection.close()
    assert "PRECONDITION_FAILED" in caught.value.message
    assert "delete_queue" in caught.value.message and "prefix" in caught.value.message


def test_notify_queue_on_demand(channel: BlockingChannel, make_topology) -> None:
    topology = make_topology(notify_codes=("3301960001",))
    queue = topology.declare_notify_queue(channel, "3301960001")
    assert queue == f"{topology.prefix}notify.3301960001"
    assert topology.declare_notify_queue(channel, "3301960001") == queue  # idempotent
    with Publisher(AMQP_URL, topology) as pub:
        pub.publish(
            topology.notify_exchange,
            "3301960001",
            b"{}",
            message_id="n-1",
            content_type="application/json",
        )
    assert wait_for(lambda: ready_count(channel, queue) == 1)
    with pytest.raises(ValueError, match="enterprise code"):
        topology.notify_queue("33.#")


# --- publisher ----------------------------------------------------------------------------


def test_confirmed_publish_is_consumed_and_acked(channel: BlockingChannel, publisher) -> None:
    topology = publisher.topology
    publisher.publish(
        topology.outbound_exchange,
        EXPORT_RECEIVER_ID,
        b"<a>1</a>",
        message_id="m-42",
        headers={"msg-type": "CEB303Message"},
        correlation_id="c-1",
        reply_to=topology.receipts_exchange,
    )
    assert ready_count(channel, topology.customs_inbound_queue) == 1  # confirmed = in the queue
    got: list[Delivery] = []
    consume_until(topology, got.append, lambda: len(got) == 1)
    (delivery,) = got
    assert delivery.body == b"<a>1</a>" and delivery.message_id == "m-42"
    assert delivery.headers["msg-type"] == "CEB303Message"
    assert (delivery.correlation_id, delivery.reply_to) == ("c-1", topology.receipts_exchange)
    assert (delivery.exchange, delivery.routing_key) == (
        topology.outbound_exchange,
        EXPORT_RECEIVER_ID,
    )
    assert (delivery.redelivered, delivery.delivery_count) == (False, 0)
    assert delivery.content_type == "application/xml"
    # The consumer has stopped: anything unacked would be ready again.
    assert ready_count(channel, topology.customs_inbound_queue) == 0


def test_unroutable_publish_raises_and_publisher_stays_usable(publisher) -> None:
    with pytest.raises(TransportError, match="unroutable") as caught:
        publisher.publish(
            publisher.topology.outbound_exchange, "DXPNOBODY0000000", b"<x/>", message_id="m-lost"
        )
    assert caught.value.retryable
    assert caught.value.context["routing_key"] == "DXPNOBODY0000000"
    send(publisher)


def test_missing_exchange_raises_then_reconnects(channel: BlockingChannel, publisher) -> None:
    with pytest.raises(TransportError, match="NOT_FOUND"):
        publisher.publish("no-such-exchange-" + unique_prefix(), "k", b"x", message_id="m-0")
    send(publisher)  # channel was closed by the broker; the next call reopens it
    assert ready_count(channel, publisher.topology.customs_inbound_queue) == 1


@pytest.mark.skipif(not rabbitmqctl_available(), reason="needs rabbitmqctl")
def test_publisher_survives_broker_closing_its_connection(make_topology) -> None:
    name = "test-publisher-" + unique_prefix()
    with Publisher(AMQP_URL, make_topology(), name=name) as pub:
        send(pub, message_id="before")
        assert close_connections_named(name) == 1
        time.sleep(0.2)
        # The dead connection is noticed before sending, so this publish just reconnects.
        send(pub, message_id="after")


def test_envelope_through_the_broker(publisher) -> None:
    signed = "<CEB303Message>订单</CEB303Message>".encode()
    envelope = wrap(signed, msg_type="CEB303Message", sender_id=SENDER)
    topology = publisher.topology
    publisher.publish(
        topology.outbound_exchange,
        envelope.receiver_ids[0],
        envelope.body,
        message_id=envelope.cop_msg_id,
    )
    got: list[Delivery] = []
    consume_until(topology, got.append, lambda: len(got) == 1)
    opened = unwrap(got[0].body)
    assert opened.data == signed and opened.cop_msg_id == got[0].message_id


# --- consumer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        InvalidMessage([Violation("R-COM-1", "orderNo", "missing")]),
        PermanentFailure("receipt for an unknown record"),
    ],
    ids=["misuse", "permanent"],
)
def test_permanent_failure_is_dead_lettered_at_once(
    channel: BlockingChannel, publisher, error: Exception
) -> None:
    topology = publisher.topology
    dead = topology.dead_queue(topology.customs_inbound_queue)
    send(publisher, message_id="m-bad")
    attempts: list[int] = []

    def refuse(delivery: Delivery) -> None:
        attempts.append(delivery.delivery_count)
        raise error

    consume_until(topology, refuse, lambda: ready_count(channel, dead) == 1)
    assert attempts == [0]
    method, props, body = channel.basic_get(dead, auto_ack=True)
    assert body == b"<x/>" and props.message_id == "m-bad"
    death = first_death(props.headers)
    assert death["reason"] == "rejected" and death["queue"] == topology.customs_inbound_queue
    assert ready_count(channel, topology.customs_inbound_queue) == 0


def test_generic_failure_is_retried_delivery_limit_times(
    channel: BlockingChannel, publisher
) -> None:
    topology = publisher.topology  # delivery_limit=3
    dead = topology.dead_queue(topology.customs_inbound_queue)
    send(publisher, message_id="m-flaky")
    counts: list[int] = []

    def flaky(delivery: Delivery) -> None:
        counts.append(delivery.delivery_count)
        raise RuntimeError("database is locked")

    consume_until(topology, flaky, lambda: ready_count(channel, dead) == 1)
    # RabbitMQ 3.10: the first delivery plus delivery_limit redeliveries, then dead-lettered.
    assert counts == [0, 1, 2, 3]
    _, props, _ = channel.basic_get(dead, auto_ack=True)
    assert first_death(props.headers)["reason"] == "delivery_limit"
    assert ready_count(channel, topology.customs_inbound_queue) == 0


def test_classic_queue_retries_are_bounded_by_the_consumer(
    channel: BlockingChannel, make_topology
) -> None:
    topology = make_topology(queue_type="classic", delivery_limit=2)
    dead = topology.dead_queue(topology.customs_inbound_queue)
    with Publisher(AMQP_URL, topology) as pub:
        send(pub, message_id="m-classic")
    seen: list[Delivery] = []

    def flaky(delivery: Delivery) -> None:
        seen.append(delivery)
        raise RuntimeError("still failing")

    consume_until(
        topology,
        flaky,
        lambda: ready_count(channel, dead) == 1,
        retry_limit=topology.consumer_retry_limit,
    )
    assert [d.delivery_count for d in seen] == [0, 1, 2]
    assert {(d.exchange, d.routing_key) for d in seen} == {
        (topology.outbound_exchange, EXPORT_RECEIVER_ID)
    }
    assert {d.message_id for d in seen} == {"m-classic"}
    assert ready_count(channel, topology.customs_inbound_queue) == 0


def test_handler_recovers_on_retry(channel: BlockingChannel, publisher) -> None:
    send(publisher)
    counts: list[int] = []

    def second_time_lucky(delivery: Delivery) -> None:
        counts.append(delivery.delivery_count)
        if len(counts) == 1:
            raise ConnectionError("webhook down")

    consume_until(publisher.topology, second_time_lucky, lambda: len(counts) == 2)
    assert counts == [0, 1]
    assert ready_count(channel, publisher.topology.customs_inbound_queue) == 0


def test_consumer_stops_within_a_second(publisher) -> None:
    consumer = Consumer(AMQP_URL, publisher.topology.customs_inbound_queue, lambda d: None)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    time.sleep(1.0)  # connected and idle
    started = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1.0


@pytest.mark.skipif(not rabbitmqctl_available(), reason="needs rabbitmqctl")
def test_consumer_reconnects_after_connection_loss(channel: BlockingChannel, publisher) -> None:
    name = "test-consumer-" + unique_prefix()
    got: list[str | None] = []
    consumer = Consumer(
        AMQP_URL,
        publisher.topology.customs_inbound_queue,
        lambda d: got.append(d.message_id),
        name=name,
    )
    with consuming(consumer):
        send(publisher, message_id="one")
        assert wait_for(lambda: got == ["one"])
        assert close_connections_named(name) == 1
        send(publisher, message_id="two")
        assert wait_for(lambda: got == ["one", "two"], timeout=60)
