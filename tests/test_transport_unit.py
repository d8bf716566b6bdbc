"""Transport behaviour that needs no broker: names, arguments, validation, failure paths."""

from __future__ import annotations

import threading
import time

import pytest
from pika.spec import Basic, BasicProperties

from gateway.codes import EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID
from gateway.errors import ConfigError, TransportError
from transports import Consumer, Publisher, Topology
from transports.consumer import RETRY_HEADER, _Backoff, _delivery

NOWHERE = "amqp://guest:guest@127.0.0.1:1/%2F"  # port 1: connection refused at once


def test_names_derive_from_the_prefix() -> None:
    t = Topology(prefix="acme.")
    assert (t.outbound_exchange, t.receipts_exchange) == ("acme.ceb.outbound", "acme.ceb.receipts")
    assert (t.intake_exchange, t.notify_exchange) == ("acme.gateway.intake", "acme.gateway.notify")
    assert t.dead_letter_exchange == "acme.dlx"
    assert t.customs_inbound_queue == "acme.customs.inbound"
    assert (t.receipts_queue, t.inbound_queue) == ("acme.gateway.receipts", "acme.gateway.inbound")
    assert t.notify_queue("3301960001") == "acme.notify.3301960001"
    assert t.dead_queue(t.inbound_queue) == "acme.gateway.inbound.dead"
    assert Topology().outbound_exchange == "ceb.outbound"


def test_bindings_and_exchange_types() -> None:
    t = Topology(prefix="p.")
    keys = {b.queue: (b.exchange, b.routing_keys) for b in t.bindings}
    assert keys == {
        "p.customs.inbound": ("p.ceb.outbound", (EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID)),
        "p.gateway.receipts": ("p.ceb.receipts", ("#",)),
        "p.gateway.inbound": ("p.gateway.intake", ("declaration",)),
    }
    assert t.exchanges == {
        "p.ceb.outbound": "direct",
        "p.ceb.receipts": "topic",
        "p.gateway.intake": "direct",
        "p.gateway.notify": "topic",
        "p.dlx": "topic",
    }


def test_quorum_queue_arguments() -> None:
    t = Topology(prefix="p.", delivery_limit=4)
    assert t.queue_arguments("p.q") == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 4,
        "x-dead-letter-exchange": "p.dlx",
        "x-dead-letter-routing-key": "p.q",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert t.consumer_retry_limit is None


def test_classic_queues_leave_the_count_to_the_consumer() -> None:
    t = Topology(queue_type="classic", delivery_limit=3)
    assert "x-delivery-limit" not in t.queue_arguments("q")  # classic queues refuse it
    assert t.consumer_retry_limit == 3


@pytest.mark.parametrize(
    "options",
    [{"prefix": "a#."}, {"prefix": "a b"}, {"queue_type": "stream"}, {"delivery_limit": -1}],
)
def test_bad_topology_configuration(options: dict) -> None:
    with pytest.raises(ConfigError):
        Topology(**options)


@pytest.mark.parametrize("code", ["", "a.b", "*", "#", "x" * 65])
def test_notify_codes_cannot_be_wildcards(code: str) -> None:
    with pytest.raises(ValueError, match="enterprise code"):
        Topology().notify_queue(code)


def test_publish_without_broker_is_a_retryable_transport_error() -> None:
    with Publisher(NOWHERE, Topology()) as pub, pytest.raises(TransportError) as caught:
        pub.publish("x", "k", b"<x/>", message_id="m-1")
    assert caught.value.retryable and caught.value.context["message_id"] == "m-1"


def test_publish_requires_a_message_id() -> None:
    with pytest.raises(ValueError, match="message_id"):
        Publisher(NOWHERE, Topology()).publish("x", "k", b"", message_id="")


def test_consumer_stops_while_broker_is_unreachable() -> None:
    consumer = Consumer(NOWHERE, "nowhere", lambda d: None)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    time.sleep(1.5)  # a few refused attempts; now sleeping in backoff
    started = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - started < 1.0


def test_delivery_reads_counts_and_original_route() -> None:
    method = Basic.Deliver(delivery_tag=1, redelivered=True, exchange="", routing_key="q")
    props = BasicProperties(
        message_id="m",
        headers={
            RETRY_HEADER: 2,
            "x-gateway-original-exchange": "ceb.outbound",
            "x-gateway-original-routing-key": EXPORT_RECEIVER_ID,
        },
    )
    d = _delivery(method, props, b"b")
    assert (d.delivery_count, d.exchange, d.routing_key) == (2, "ceb.outbound", EXPORT_RECEIVER_ID)
    quorum = _delivery(method, BasicProperties(headers={"x-delivery-count": 4}), b"")
    assert quorum.delivery_count == 4 and quorum.redelivered
    forged = _delivery(method, BasicProperties(headers={"x-delivery-count": "lots"}), b"")
    assert forged.delivery_count == 0


def test_backoff_grows_to_a_cap_and_resets() -> None:
    backoff = _Backoff(first=1.0, maximum=4.0)
    delays = [backoff.next() for _ in range(5)]
    assert 0.8 <= delays[0] <= 1.2 and all(d <= 4.8 for d in delays) and delays[-1] >= 3.2
    backoff.reset()
    assert backoff.next() <= 1.2
