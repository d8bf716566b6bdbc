"""Publishing with publisher confirms: `publish` returns only once the broker has the message.

One BlockingConnection and one confirming channel per Publisher. NOT thread-safe: pika's
blocking connection must stay on the thread that uses it, so give each thread its own
Publisher (a connection costs a few milliseconds to open and little to keep).

Every failure the broker can cause is a TransportError (retryable): a nack (a quorum queue
that is full rejects publishes), an unroutable message (`mandatory=True`: no queue bound for
that routing key, which would otherwise drop the message silently), a lost connection, or a
broker that blocks publishers (memory or disk alarm) for longer than the URL's
`blocked_connection_timeout` (30 s unless the URL says otherwise). After a failure the
connection is dropped and re-opened on the next call, so the caller's retry (the outbox
relay) needs no reconnect logic of its own. With `declare=True` the topology is declared on
every (re)connect; a clash with the queues the broker has is a ConfigError.

Every message carries `user_id`, the broker user of the connection: RabbitMQ refuses a
publish whose `user_id` is not the connection's user, so a receiver can trust it to say who
published (transports/permissions.py).

A publish whose confirm was lost with the connection may have reached the queue: a retry can
then deliver a duplicate, which is why every message carries a `message_id` (the envelope's
CopMsgId) for receivers to drop duplicates.

Waiting for each confirm caps throughput at one round trip per message (pika's blocking
channel cannot wait for confirms in batches): measured 370-750 msg/s for 1 KB messages to a
quorum queue on a shared, busy 2-core machine, the same as bare pika there. For more, use several
Publishers on several threads, or pika's asynchronous connection with batched confirms.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError, NackError, UnroutableError

from gateway.errors import InvalidInput, TransportError
from transports.topology import Topology

log = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent.value
APP_ID = "customs-gateway"
DEFAULT_BLOCKED_TIMEOUT = 30.0


def connection_parameters(url: str, name: str) -> pika.URLParameters:
    """Parameters from an amqp:// URL, named so ops can tell connections apart in rabbitmqctl."""
    params = pika.URLParameters(url)
    params.client_properties = {"connection_name": name, "product": APP_ID}
    if params.blocked_connection_timeout is None:
        # Without it a broker alarm blocks publish() forever; with it, a TransportError.
        params.blocked_connection_timeout = DEFAULT_BLOCKED_TIMEOUT
    return params


def broker_user(params: pika.ConnectionParameters) -> str | None:
    """The user these parameters log in as, which the broker checks `user_id` against."""
    username = getattr(params.credentials, "username", None)
    return str(username) if username else None


class Publisher:
    """Confirmed, persistent, mandatory publishing on one lazily (re)opened connection."""

    def __init__(
        self, url: str, topology: Topology, *, name: str = "gateway-publisher", declare: bool = True
    ) -> None:
        self.topology = topology
        self._params = connection_parameters(url, name)
        self.user = broker_user(self._params)
        self._declare = declare
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
        content_type: str = "application/xml",
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; TransportError if it did not confirm."""
        if not message_id:
            raise InvalidInput("message_id is required: receivers use it to drop duplicates")
        props = pika.BasicProperties(
            delivery_mode=PERSISTENT,
            content_type=content_type,
            message_id=message_id,
            correlation_id=correlation_id,
            reply_to=reply_to,
            headers=dict(headers) if headers else None,
            timestamp=int(time.time()),
            app_id=APP_ID,
            user_id=self.user,
        )
        context = {"exchange": exchange, "routing_key": routing_key, "message_id": message_id}
        channel = self._ready_channel(context)
        try:
            channel.basic_publish(exchange, routing_key, body, props, mandatory=True)
        except UnroutableError as exc:
            raise TransportError(_unroutable(exchange, routing_key), **context) from exc
        except NackError as exc:
            reason = "broker nacked the message (queue full with reject-publish, or broker error)"
            raise TransportError(reason, **context) from exc
        except AMQPError as exc:
            raise self._lost(exc, context) from exc

    def close(self) -> None:
        """Close the connection; the Publisher reopens it if used again."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            close_quietly(connection)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- connection -------------------------------------------------------------------------

    def _ready_channel(self, context: dict[str, str]) -> BlockingChannel:
        if self._channel is not None and self._alive():
            return self._channel
        self.close()
        try:
            return self._open()
        except AMQPError as exc:
            raise self._lost(exc, context) from exc

    def _alive(self) -> bool:
        # Reading pending frames detects a connection the broker already closed (restart,
        # missed heartbeats) before anything is sent, so reconnecting here cannot duplicate.
        assert self._connection is not None and self._channel is not None
        try:
            self._connection.process_data_events(time_limit=0)
        except AMQPError as exc:
            log.info("publisher connection found closed (%s); reconnecting", exc)
            return False
        return self._channel.is_open

    def _open(self) -> BlockingChannel:
        connection = pika.BlockingConnection(self._params)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            if self._declare:
                self.topology.declare(channel)
        except BaseException:
            close_quietly(connection)
            raise
        self._connection, self._channel = connection, channel
        return channel

    def _lost(self, exc: AMQPError, context: dict[str, str]) -> TransportError:
        self.close()
        reason = f"broker connection or channel failed: {type(exc).__name__}: {exc}"
        log.warning("publish of %s failed: %s", context["message_id"], reason)
        return TransportError(reason, **context)


def close_quietly(connection: BlockingConnection) -> None:
    """Close a connection that may already be gone; there is nothing to release then."""
    with contextlib.suppress(AMQPError):
        if connection.is_open:
            connection.close()


def _unroutable(exchange: str, routing_key: str) -> str:
    return (
        f"unroutable: no queue is bound to exchange {exchange!r} with routing key "
        f"{routing_key!r} (topology not declared, or wrong receiver id)"
    )
