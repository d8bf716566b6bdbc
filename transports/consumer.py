"""Consuming with ack-after-commit and bounded retries.

The handler is synchronous and does its whole effect (database commit, publish…) before it
returns; only then is the message acked. So a crash at any point leaves the message in the
queue, and handlers must be idempotent (a redelivery after a lost ack is normal).

What the handler's outcome does to the message:

    returns                                  basic_ack
    raises a non-retryable GatewayError      basic_nack(requeue=False) -> `{queue}.dead` now
      (MisuseError and its family, PermanentFailure, ReceiptError)
    raises anything else                     basic_nack(requeue=True) -> tried again, until
                                             the quorum queue's x-delivery-limit dead-letters it

Measured on RabbitMQ 3.10 quorum queues: `x-delivery-limit: N` gives N + 1 deliveries in all,
and unacked messages returned by a closing channel (a stopped or crashed consumer) count as
deliveries too — every stop burns one attempt for up to `prefetch` prefetched messages. Keep
`delivery_limit` well above the number of restarts a message may live through, or `prefetch`
low where restarts are frequent.

Classic queues cannot count deliveries; pass `retry_limit` (Topology.consumer_retry_limit)
and the consumer counts handler failures in the `x-gateway-retries` header by re-publishing
a copy to the queue's tail (confirmed) before acking the original. That bounds handler
exceptions only: a message that crashes the process is retried forever on a classic queue.

Who published: `Delivery.user_id` is the `user_id` property, which RabbitMQ validates against
the publishing connection's user. A copy the consumer's own user re-published (the classic
retry path, an ops replay) carries the original publisher in `x-gateway-original-user-id`;
that header is believed only on a message the broker validated as published by this
consumer's own user, never on anyone else's.

pika's blocking connection services heartbeats only between messages: a handler that runs
longer than the negotiated heartbeat timeout (60 s by default) loses the connection and the
message comes back. Not thread-safe: one Consumer per thread (several may share a queue).
"""

from __future__ import annotations

import copy
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from pika.spec import Basic, BasicProperties

from gateway.errors import GatewayError
from gateway.errors import PermanentFailure as PermanentFailure  # in the tree; importable here
from transports.publisher import broker_user, close_quietly, connection_parameters

log = logging.getLogger(__name__)

RETRY_HEADER = "x-gateway-retries"
ORIGINAL_EXCHANGE_HEADER = "x-gateway-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-gateway-original-routing-key"
ORIGINAL_USER_HEADER = "x-gateway-original-user-id"
#: how long the consume loop waits for a message before it looks at `stop` again
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Delivery:
    """One received message, as the handler sees it."""

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    routing_key: str = ""
    exchange: str = ""
    redelivered: bool = False
    #: earlier deliveries of this message: quorum `x-delivery-count` (or the classic retry
    #: header), 0 on the first delivery
    delivery_count: int = 0
    content_type: str | None = None
    #: the broker user that published it (`user_id`, validated by the broker), or None when
    #: the publisher set none: then nobody vouches for who sent it
    user_id: str | None = None


Handler = Callable[[Delivery], None]
#: handles several deliveries at once, all or nothing (e.g. in one database transaction)
BatchHandler = Callable[[list[Delivery]], None]


class Consumer:
    """Feed one queue's messages to `handler` until `stop` is set, reconnecting as needed."""

    def __init__(
        self,
        url: str,
        queue: str,
        handler: Handler,
        *,
        prefetch: int = 20,
        name: str = "",
        retry_limit: int | None = None,
        max_backoff: float = 30.0,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self.queue = queue
        self.handler = handler
        #: given, the deliveries already received when one is taken are handled with it
        #: together (up to `prefetch`) and acked with one `multiple` ack; if it raises, each
        #: is handled again alone by `handler`, with the usual retry and dead-lettering
        self.batch_handler = batch_handler
        self.prefetch = prefetch
        self.name = name or f"consumer:{queue}"
        self.retry_limit = retry_limit
        self._params = connection_parameters(url, self.name)
        self.user = broker_user(self._params)
        self._backoff = _Backoff(maximum=max_backoff)

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set (honoured within about POLL_SECONDS when idle)."""
        while not stop.is_set():
            try:
                self._session(stop)
            except (AMQPError, OSError) as exc:
                delay = self._backoff.next()
                log.warning(
                    "%s: broker unavailable (%s: %s); retrying in %.1f s",
                    self.name,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                stop.wait(delay)
        log.info("%s: stopped", self.name)

    def _session(self, stop: threading.Event) -> None:
        connection = pika.BlockingConnection(self._params)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.prefetch)
            if self.retry_limit is not None:
                channel.confirm_delivery()  # the retry copy must be safe before the ack
            self._loop(channel, stop)
        finally:
            close_quietly(connection)

    def _loop(self, channel: BlockingChannel, stop: threading.Event) -> None:
        messages = channel.consume(self.queue, inactivity_timeout=POLL_SECONDS)
        for method, props, body in messages:
            self._backoff.reset()  # the queue answered: the broker is back
            if stop.is_set():
                break
            if method is None:
                continue
            if self.batch_handler is None:
                self._dispatch(channel, method, props, body)
                continue
            batch = [(method, props, body)]
            # Only what is already here: a batch never waits for a message to fill it.
            while len(batch) < self.prefetch and channel.get_waiting_message_count():
                batch.append(next(messages))
            self._dispatch_batch(channel, batch)
        # Give prefetched, unhandled messages back (each counts as a delivery on quorum).
        channel.cancel()

    def _dispatch(
        self, channel: BlockingChannel, method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        delivery = _delivery(method, props, body, self.user)
        try:
            self.handler(delivery)
        except Exception as exc:
            self._failed(channel, method, props, delivery, exc)
            return
        # Outside the try: a failed ack is a broker problem (reconnect), not a handler failure.
        # The effect is committed; the redelivery that follows must be absorbed by idempotency.
        channel.basic_ack(method.delivery_tag)

    def _dispatch_batch(
        self, channel: BlockingChannel, batch: list[tuple[Basic.Deliver, BasicProperties, bytes]]
    ) -> None:
        assert self.batch_handler is not None
        if len(batch) == 1:
            self._dispatch(channel, *batch[0])
            return
        try:
            self.batch_handler([_delivery(*item, self.user) for item in batch])
        except Exception as exc:  # noqa: BLE001 - each is tried alone: only the culprit fails
            log.info("%s: a batch of %d failed (%s); one by one", self.name, len(batch), exc)
            for item in batch:
                self._dispatch(channel, *item)
            return
        # Every earlier delivery of this channel is acked already: `multiple` acks the batch.
        channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)

    def _failed(
        self,
        channel: BlockingChannel,
        method: Basic.Deliver,
        props: BasicProperties,
        delivery: Delivery,
        exc: Exception,
    ) -> None:
        tag, msg = method.delivery_tag, delivery.message_id
        if isinstance(exc, GatewayError) and not exc.retryable:
            log.error(
                "%s: message %s refused (%s); dead-lettered", self.name, msg, exc, exc_info=exc
            )
            channel.basic_nack(tag, requeue=False)
        elif self.retry_limit is None:
            log.warning(
                "%s: message %s failed on delivery %d; requeued",
                self.name,
                msg,
                delivery.delivery_count + 1,
                exc_info=exc,
            )
            channel.basic_nack(tag, requeue=True)
        else:
            self._retry_counted(channel, method, props, delivery, exc)

    def _retry_counted(
        self,
        channel: BlockingChannel,
        method: Basic.Deliver,
        props: BasicProperties,
        delivery: Delivery,
        exc: Exception,
    ) -> None:
        assert self.retry_limit is not None
        tag, msg, tries = method.delivery_tag, delivery.message_id, delivery.delivery_count
        if tries >= self.retry_limit:
            log.error(
                "%s: message %s failed %d times; dead-lettered",
                self.name,
                msg,
                tries + 1,
                exc_info=exc,
            )
            channel.basic_nack(tag, requeue=False)
            return
        log.warning(
            "%s: message %s failed on delivery %d; retrying",
            self.name,
            msg,
            tries + 1,
            exc_info=exc,
        )
        retry = _retry_props(method, props, tries, self.user)
        channel.basic_publish("", self.queue, delivery.body, retry)
        channel.basic_ack(tag)


def _delivery(
    method: Basic.Deliver, props: BasicProperties, body: bytes, own_user: str | None = None
) -> Delivery:
    headers = dict(props.headers or {})
    return Delivery(
        body=body,
        headers=headers,
        message_id=props.message_id,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        routing_key=headers.get(ORIGINAL_ROUTING_KEY_HEADER, method.routing_key),
        exchange=headers.get(ORIGINAL_EXCHANGE_HEADER, method.exchange),
        redelivered=bool(method.redelivered),
        delivery_count=_delivery_count(headers),
        content_type=props.content_type,
        user_id=publisher_user(props, own_user),
    )


def publisher_user(props: BasicProperties, own_user: str | None) -> str | None:
    """Who published the message: its validated `user_id`, or for a copy our own user
    re-published, the original publisher that copy names."""
    user = props.user_id
    original = (props.headers or {}).get(ORIGINAL_USER_HEADER)
    if own_user and user == own_user and original:
        return original.decode() if isinstance(original, bytes) else str(original)
    return user


def republished(props: BasicProperties, own_user: str | None) -> BasicProperties:
    """Properties for re-publishing a received message as `own_user`: the broker refuses
    another user's `user_id`, so the copy carries ours and names the original publisher."""
    out = copy.copy(props)
    headers = dict(props.headers or {})
    headers.pop(ORIGINAL_USER_HEADER, None)
    original = publisher_user(props, own_user)
    if props.user_id is not None:
        out.user_id = own_user
        if original and original != own_user:
            headers[ORIGINAL_USER_HEADER] = original
    out.headers = headers or None
    return out


def _delivery_count(headers: Mapping[str, Any]) -> int:
    count = headers.get("x-delivery-count", headers.get(RETRY_HEADER, 0))
    # Headers come from any publisher: a malformed count must not crash the consumer.
    return count if isinstance(count, int) and count >= 0 else 0


def _retry_props(
    method: Basic.Deliver, props: BasicProperties, tries: int, own_user: str | None
) -> BasicProperties:
    # The copy goes through the default exchange; remember where the original came from.
    out = republished(props, own_user)
    headers = dict(out.headers or {})
    headers.setdefault(ORIGINAL_EXCHANGE_HEADER, method.exchange)
    headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, method.routing_key)
    headers[RETRY_HEADER] = tries + 1
    out.headers = headers
    return out


class _Backoff:
    """Exponential reconnect delay with jitter, so consumers do not reconnect in lockstep."""

    def __init__(self, first: float = 0.5, maximum: float = 30.0) -> None:
        self.first, self.maximum, self.current = first, maximum, first

    def next(self) -> float:
        delay, self.current = self.current, min(self.current * 2, self.maximum)
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.current = self.first
