"""Helpers for the transport tests against a real RabbitMQ (AMQP_URL, default localhost)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from pika.exceptions import AMQPError

from transports import Consumer, Topology

#: the tests' connections wait for a busy broker's handshake (pika's 15 s stack timeout
#: failed whole runs on a loaded machine) and try three times
AMQP_URL = os.environ.get(
    "AMQP_URL",
    "amqp://guest:guest@127.0.0.1:5672/%2F"
    "?stack_timeout=60&socket_timeout=30&connection_attempts=3&retry_delay=2",
)


def broker_available(deadline: float = 90.0) -> bool:
    """Whether the broker answers, trying until `deadline` seconds have passed: a broker
    that is slow to answer on a loaded machine is not a missing broker."""
    end = time.monotonic() + deadline
    while True:
        try:
            pika.BlockingConnection(pika.URLParameters(AMQP_URL)).close()
            return True
        except (AMQPError, AMQPConnectorException, OSError):
            if time.monotonic() >= end:
                return False
            time.sleep(1)


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def delete_topology(
    channel: BlockingChannel, topology: Topology, notify_codes: Iterable[str] = ()
) -> None:
    """Delete everything `topology.declare` (and declare_notify_queue) created."""
    queues = [b.queue for b in topology.bindings]
    queues += [topology.notify_queue(code) for code in notify_codes]
    for queue in queues:
        channel.queue_delete(queue)
        channel.queue_delete(topology.dead_queue(queue))
    for exchange in topology.exchanges:
        channel.exchange_delete(exchange)


def ready_count(channel: BlockingChannel, queue: str) -> int:
    """Messages ready in `queue` (passive declare: fails if the queue does not exist)."""
    return channel.queue_declare(queue, passive=True).method.message_count


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@contextmanager
def consuming(consumer: Consumer) -> Iterator[threading.Thread]:
    """Run `consumer` on a thread for the duration of the block; stop and join it after."""
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=5)


def rabbitmqctl_available() -> bool:
    return shutil.which("rabbitmqctl") is not None


def close_connections_named(name: str) -> int:
    """Force-close, from the broker side, the connections whose connection_name is `name`."""
    listing = subprocess.run(
        ["rabbitmqctl", "list_connections", "-q", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    pids = [line.split("\t")[0] for line in listing.splitlines() if f'"{name}"' in line]
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "test: forced close"],
            capture_output=True,
            check=True,
            timeout=60,
        )
    return len(pids)


def first_death(headers: dict) -> dict:
    deaths = headers.get("x-death") or []
    return deaths[0] if deaths else {}


def is_uuid_upper(text: str) -> bool:
    return (
        re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}", text)
        is not None
    )
