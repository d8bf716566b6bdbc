"""The gateway's RabbitMQ topology, declared from code so every deployment gets the same one.

Exchanges (all durable; `p` is the deployment prefix):

    {p}ceb.outbound     direct  gateway -> customs, routing key = receiver id (DXPEDCCEB0000003)
    {p}ceb.receipts     topic   customs -> gateway, routing key = receiver dxpId
    {p}gateway.intake   direct  ERP -> gateway, routing key "declaration"
    {p}gateway.notify   topic   status notifications, routing key = enterprise code
    {p}dlx              topic   dead letters, routing key = the name of the queue they died in

Queues (consuming queues; each has a `{name}.dead` queue bound to dlx with its own name):

    {p}customs.inbound    <- ceb.outbound  DXPEDCCEB0000003, DXPEDCCEB0000002
    {p}gateway.receipts   <- ceb.receipts  #
    {p}gateway.inbound    <- gateway.intake declaration
    {p}notify.<code>      <- gateway.notify <code>   (declared on demand)
    {p}reply.<code>       <- default exchange: the gateway's answers to what the enterprise
                             submitted on gateway.intake (declared with the notify queue)

Who may publish where (broker users and permissions) is transports/permissions.py.

Retries are bounded by the broker, not by consumers: quorum queues count deliveries
(`x-delivery-limit`) and dead-letter a message once the count is exceeded, with the
`at-least-once` strategy so a dead letter is never lost between the two queues (that strategy
needs `x-overflow: reject-publish`). Measured on RabbitMQ 3.10: with `x-delivery-limit: N` a
message is delivered N + 1 times (the first delivery plus N redeliveries), and every return
counts — a nack with requeue, and also unacked messages returned when a consumer's channel
closes. Classic queues refuse `x-delivery-limit`; with `queue_type="classic"` the consumer
bounds retries itself (`Topology.consumer_retry_limit`, see consumer.py).

Queue arguments are fixed at creation: declaring an existing queue with other arguments
(another delivery limit, another queue type) fails with PRECONDITION_FAILED and closes the
channel. `declare` turns that into a ConfigError saying what to do. A policy
(`rabbitmqctl set_policy ... '{"delivery-limit": N}'`) changes a live quorum queue without
re-creating it, but measured on 3.10 the broker applies the smaller of policy and argument:
a policy can lower the limit, never raise it.

Notify queues are read by the enterprises, which may stop reading: each holds at most
`notify_max_length` messages, and past that the oldest is dead-lettered (reason `maxlen`)
into its `.dead` queue, which is bounded the same way and drops its own oldest for good. The
newest notifications are the ones kept; a record's status is always in the API. Quorum
queues dead-letter at-least-once only with `reject-publish`, which would make the relay stall
on one enterprise's full queue, so these dead-letter at-most-once. A notify queue declared by
an earlier version, without the limit, is kept as it is (redeclaring it with other arguments
would fail): a warning gives the `rabbitmqctl set_policy` command that bounds it in place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import ChannelClosedByBroker

from gateway.codes import EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID
from gateway.errors import ConfigError, InvalidInput

log = logging.getLogger(__name__)

QUEUE_TYPES = ("quorum", "classic")
INTAKE_ROUTING_KEY = "declaration"
PRECONDITION_FAILED = 406
# A prefix or enterprise code becomes part of topic routing keys: no wildcards, no spaces.
_PREFIX = re.compile(r"[A-Za-z0-9_.\-]*")
_CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class Binding:
    """One consuming queue and the exchange keys that feed it."""

    queue: str
    exchange: str
    routing_keys: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    """Names and arguments of every exchange and queue, derived from `prefix`."""

    prefix: str = ""
    delivery_limit: int = 5
    queue_type: str = "quorum"
    #: messages a notify queue (and its `.dead` queue) holds; past it the oldest goes
    notify_max_length: int = 10_000

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ConfigError(f"topology prefix {self.prefix!r}: use letters, digits, . _ -")
        if self.queue_type not in QUEUE_TYPES:
            raise ConfigError(f"queue_type {self.queue_type!r}: expected one of {QUEUE_TYPES}")
        if self.delivery_limit < 0:
            raise ConfigError(f"delivery_limit {self.delivery_limit}: must be 0 or more")
        if self.notify_max_length < 1:
            raise ConfigError(f"notify_max_length {self.notify_max_length}: must be 1 or more")

    # --- names ----------------------------------------------------------------------------

    @property
    def outbound_exchange(self) -> str:
        return f"{self.prefix}ceb.outbound"

    @property
    def receipts_exchange(self) -> str:
        return f"{self.prefix}ceb.receipts"

    @property
    def intake_exchange(self) -> str:
        return f"{self.prefix}gateway.intake"

    @property
    def notify_exchange(self) -> str:
        return f"{self.prefix}gateway.notify"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}dlx"

    @property
    def customs_inbound_queue(self) -> str:
        return f"{self.prefix}customs.inbound"

    @property
    def receipts_queue(self) -> str:
        return f"{self.prefix}gateway.receipts"

    @property
    def inbound_queue(self) -> str:
        return f"{self.prefix}gateway.inbound"

    def notify_queue(self, code: str) -> str:
        return f"{self.prefix}notify.{_checked_code(code)}"

    def reply_queue(self, code: str) -> str:
        """Where the enterprise's answers to its inbound-queue submissions go (and nowhere
        else: a `reply_to` naming another queue is not followed)."""
        return f"{self.prefix}reply.{_checked_code(code)}"

    @staticmethod
    def dead_queue(queue: str) -> str:
        return f"{queue}.dead"

    @property
    def exchanges(self) -> dict[str, str]:
        """Exchange name -> type."""
        return {
            self.outbound_exchange: "direct",
            self.receipts_exchange: "topic",
            self.intake_exchange: "direct",
            self.notify_exchange: "topic",
            self.dead_letter_exchange: "topic",
        }

    @property
    def bindings(self) -> tuple[Binding, ...]:
        """The fixed consuming queues (per-enterprise notify queues come on demand)."""
        return (
            Binding(
                self.customs_inbound_queue,
                self.outbound_exchange,
                (EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID),
            ),
            Binding(self.receipts_queue, self.receipts_exchange, ("#",)),
            Binding(self.inbound_queue, self.intake_exchange, (INTAKE_ROUTING_KEY,)),
        )

    @property
    def consumer_retry_limit(self) -> int | None:
        """What a Consumer must count itself: None when the broker counts (quorum)."""
        return None if self.queue_type == "quorum" else self.delivery_limit

    # --- arguments ------------------------------------------------------------------------

    def queue_arguments(self, queue: str) -> dict[str, Any]:
        """Arguments of a consuming queue: bounded deliveries, dead letters to `{queue}.dead`."""
        args: dict[str, Any] = {
            "x-queue-type": self.queue_type,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": queue,
        }
        if self.queue_type == "quorum":
            args["x-delivery-limit"] = self.delivery_limit
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"  # required by at-least-once dead-lettering
        return args

    def dead_queue_arguments(self) -> dict[str, Any]:
        # Same type as the live queue: dead letters wait for ops and must survive a node loss.
        return {"x-queue-type": self.queue_type}

    def _bounded(self) -> dict[str, Any]:
        return {"x-max-length": self.notify_max_length, "x-overflow": "drop-head"}

    def notify_queue_arguments(self, queue: str) -> dict[str, Any]:
        """A consuming queue's arguments, bounded: the oldest goes to `{queue}.dead`."""
        args = {**self.queue_arguments(queue), **self._bounded()}
        if self.queue_type == "quorum":
            # at-least-once needs reject-publish: a full queue would stall the relay
            args["x-dead-letter-strategy"] = "at-most-once"
        return args

    def notify_dead_queue_arguments(self) -> dict[str, Any]:
        return {**self.dead_queue_arguments(), **self._bounded()}

    # --- declaration ----------------------------------------------------------------------

    def declare(self, channel: BlockingChannel) -> None:
        """Declare every exchange, queue and binding; safe to repeat. ConfigError on a clash."""
        with _explained(self):
            for name, kind in self.exchanges.items():
                channel.exchange_declare(name, exchange_type=kind, durable=True)
            for binding in self.bindings:
                self._declare_queue(channel, binding)

    def declare_notify_queue(self, channel: BlockingChannel, code: str) -> str:
        """Declare (idempotently) the notification queue of one enterprise; return its name."""
        binding = Binding(self.notify_queue(code), self.notify_exchange, (code,))
        with _explained(self):
            channel.exchange_declare(self.notify_exchange, exchange_type="topic", durable=True)
            channel.exchange_declare(self.dead_letter_exchange, exchange_type="topic", durable=True)
            self._declare_bounded(channel, binding)
        return binding.queue

    def _declare_bounded(self, channel: BlockingChannel, binding: Binding) -> None:
        queue, dead = binding.queue, self.dead_queue(binding.queue)
        connection = channel.connection
        kept = _declare_keeping(
            connection, dead, self.notify_dead_queue_arguments(), self.dead_queue_arguments()
        )
        channel.queue_bind(dead, self.dead_letter_exchange, routing_key=queue)
        kept += _declare_keeping(
            connection, queue, self.notify_queue_arguments(queue), self.queue_arguments(queue)
        )
        for key in binding.routing_keys:
            channel.queue_bind(queue, binding.exchange, routing_key=key)
        if kept:
            log.warning(
                "%s exists without a length limit (declared by an earlier version) and is kept "
                "as it is; bound it in place: %s",
                ", ".join(kept),
                self.notify_policy_command(),
            )

    def notify_policy_command(self) -> str:
        """The command that bounds notify queues declared before they had a limit."""
        pattern = "^" + re.escape(f"{self.prefix}notify.")
        limit = f'{{"max-length": {self.notify_max_length}, "overflow": "drop-head"}}'
        return f"rabbitmqctl set_policy notify-limit '{pattern}' '{limit}' --apply-to queues"

    def declare_reply_queue(self, channel: BlockingChannel, code: str) -> str:
        """Declare (idempotently) the reply queue of one enterprise; return its name. It is
        bound to no exchange: answers reach it through the default exchange. Bounded like a
        notify queue: an ERP that never reads its answers cannot grow it without limit."""
        binding = Binding(self.reply_queue(code), "", ())
        with _explained(self):
            channel.exchange_declare(self.dead_letter_exchange, exchange_type="topic", durable=True)
            self._declare_bounded(channel, binding)
        return binding.queue

    def _declare_queue(self, channel: BlockingChannel, binding: Binding) -> None:
        queue, dead = binding.queue, self.dead_queue(binding.queue)
        # The dead-letter queue first: with at-least-once, a letter with nowhere to go would
        # stay (and be redelivered) in the live queue.
        channel.queue_declare(dead, durable=True, arguments=self.dead_queue_arguments())
        channel.queue_bind(dead, self.dead_letter_exchange, routing_key=queue)
        channel.queue_declare(queue, durable=True, arguments=self.queue_arguments(queue))
        for key in binding.routing_keys:
            channel.queue_bind(queue, binding.exchange, routing_key=key)


def _declare_keeping(
    connection: BlockingConnection, queue: str, arguments: dict[str, Any], earlier: dict[str, Any]
) -> list[str]:
    """Declare `queue` with `arguments`, or keep it as it is if it exists with the `earlier`
    arguments (before the limit): [queue] if kept. Each try gets a channel of its own, since
    the broker closes the channel of a refused declaration; a queue that has neither raises
    PRECONDITION_FAILED as any clash does."""
    for args in (arguments, earlier):
        channel = connection.channel()
        try:
            channel.queue_declare(queue, durable=True, arguments=args)
        except ChannelClosedByBroker as exc:
            if exc.reply_code != PRECONDITION_FAILED or args is earlier:
                raise
            continue
        channel.close()
        return [queue] if args is earlier else []
    raise AssertionError("unreachable")


def _checked_code(code: str) -> str:
    if not _CODE.fullmatch(code):
        raise InvalidInput(f"enterprise code {code!r}: 1-64 letters, digits, _ or -")
    return code


@contextmanager
def _explained(topology: Topology) -> Iterator[None]:
    """Turn PRECONDITION_FAILED into a ConfigError that tells the operator the way out."""
    try:
        yield
    except ChannelClosedByBroker as exc:
        if exc.reply_code != PRECONDITION_FAILED:
            raise
        raise ConfigError(_clash_message(topology, exc.reply_text)) from exc


def _clash_message(topology: Topology, reply: str) -> str:
    return (
        f"RabbitMQ refused the topology ({reply}). An exchange or queue already exists with "
        f"other arguments than this configuration (queue_type={topology.queue_type}, "
        f"delivery_limit={topology.delivery_limit}); arguments cannot change in place. "
        "Either configure the values the broker has, use another prefix, or drain and delete "
        "the old queue (rabbitmqctl delete_queue <name>) and declare again. To only lower "
        "the delivery limit of a live quorum queue, a policy works without re-creating it "
        "(rabbitmqctl set_policy ... '{\"delivery-limit\": N}'). The channel is now closed: "
        "open a new one."
    )
