"""Throughput of the transport on the real broker. Opt-in: TRANSPORT_BENCH=1 pytest -s ...

Prints confirmed publishes/s (1 KB persistent messages, one confirm awaited per publish) and
consumed messages/s (ack per message after a no-op handler) for a quorum queue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from gateway.codes import EXPORT_RECEIVER_ID
from tests.transport_fixtures import (
    AMQP_URL,
    broker_available,
    consuming,
    delete_topology,
    unique_prefix,
    wait_for,
)
from transports import Consumer, Delivery, Publisher, Topology

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("TRANSPORT_BENCH") != "1", reason="set TRANSPORT_BENCH=1"),
    pytest.mark.skipif(not broker_available(), reason=f"no RabbitMQ at {AMQP_URL}"),
]

COUNT = int(os.environ.get("TRANSPORT_BENCH_COUNT", "5000"))
BODY = b"x" * 1024


@pytest.fixture
def bench_topology() -> Iterator[tuple[Topology, BlockingChannel]]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    topology = Topology(prefix=unique_prefix())
    topology.declare(channel)
    yield topology, channel
    delete_topology(channel, topology)
    connection.close()


def publish_all(topology: Topology) -> float:
    with Publisher(AMQP_URL, topology, declare=False) as pub:
        started = time.perf_counter()
        for i in range(COUNT):
            pub.publish(topology.outbound_exchange, EXPORT_RECEIVER_ID, BODY, message_id=str(i))
        return COUNT / (time.perf_counter() - started)


@pytest.mark.parametrize("prefetch", [20, 100])
def test_publish_and_consume_rates(bench_topology, prefetch: int) -> None:
    topology, channel = bench_topology
    publish_rate = publish_all(topology)
    seen = [0]

    def count(delivery: Delivery) -> None:
        seen[0] += 1

    consumer = Consumer(AMQP_URL, topology.customs_inbound_queue, count, prefetch=prefetch)
    started = time.perf_counter()
    with consuming(consumer):
        assert wait_for(lambda: seen[0] >= COUNT, timeout=120, step=0.01)
        consume_rate = COUNT / (time.perf_counter() - started)
    print(
        f"\n{COUNT} x 1 KB, quorum: confirmed publish {publish_rate:,.0f} msg/s; "
        f"consume+ack (prefetch {prefetch}) {consume_rate:,.0f} msg/s"
    )
