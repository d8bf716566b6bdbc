"""Wiring: builds the gateway's parts from the configuration and runs its workers.

Workers are threads of one process (signing, outbox relay, receipts consumer, inbound-queue
consumer, folder watcher, HTTP API). Several such processes can run against one PostgreSQL
database and one broker: claims use row locks with SKIP LOCKED, consumers compete.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pika
from pika.exceptions import AMQPError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from gateway.core import alerts, enterprises, registry
from gateway.core.config import Config, topology_for
from gateway.core.db import Database
from gateway.core.folder import FolderIntake
from gateway.core.history import Notifier
from gateway.core.intake import Intake
from gateway.core.key_cache import KeyCache
from gateway.core.migrate import upgrade
from gateway.core.receipt_processor import ReceiptProcessor
from gateway.core.receipt_trust import ReceiptTrust
from gateway.core.relay import OutboxRelay
from gateway.core.signing import Keyring, SigningWorker
from gateway.core.webhooks import WebhookOutbox, WebhookWorker
from gateway.errors import AccessDenied, GatewayError, MisuseError
from transports import Consumer, Delivery, PermanentFailure, Publisher, Topology
from transports.batch import BatchPublisher
from transports.publisher import connection_parameters

log = logging.getLogger(__name__)

#: a header older AMQP clients sent their API key in: never read (the broker user is who
#: submits), never shown (ops scrub it from dead letters)
API_KEY_HEADER = "x-api-key"
#: receipts applied in one transaction at most (and the receipts consumer's prefetch)
RECEIPT_BATCH = 50


def ensure_test_keys(config: Config) -> None:
    """Create the self-signed identities that config marks `generate: true` (demo, tests)."""
    from signers.testkeys import ensure_identity

    for ent in config.enterprises:
        key = ent.key
        if key.generate and key.key_file and key.cert_file:
            if key.key_file.exists() and key.cert_file.exists():
                continue
            made_key, made_cert = ensure_identity(
                key.key_file.parent, ent.code, key_type=key.key_type, common_name=ent.name
            )
            if made_key != key.key_file:
                made_key.replace(key.key_file)
            if made_cert != key.cert_file:
                made_cert.replace(key.cert_file)


def declare_topology(config: Config, topology: Topology) -> None:
    params = connection_parameters(config.amqp.url, "gateway-setup")
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        topology.declare(channel)
        for ent in config.enterprises:
            topology.declare_notify_queue(channel, ent.code)
            topology.declare_reply_queue(channel, ent.code)
    finally:
        connection.close()


@dataclass
class Gateway:
    config: Config
    db: Database = field(init=False)
    topology: Topology = field(init=False)
    notifier: Notifier = field(init=False)
    keyring: Keyring = field(init=False)
    intake: Intake = field(init=False)
    signer: SigningWorker = field(init=False)
    receipts: ReceiptProcessor = field(init=False)
    receipt_trust: ReceiptTrust = field(init=False)
    webhooks: WebhookOutbox = field(init=False)
    key_cache: KeyCache = field(init=False)
    #: called with the gateway and the queue stats at each scrape of /metrics
    scrape_hooks: list[Callable[[Gateway, list[Any] | None], Any]] = field(
        default_factory=lambda: [alerts.refresh]
    )
    _wakers: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        registry.ensure_installed(self.config.systems)
        self.db = Database(self.config.database_url, self.config.database)
        self.topology = topology_for(self.config)
        self.webhooks = WebhookOutbox(self.config)
        self.key_cache = KeyCache(self.config.auth.cache_seconds)
        self.notifier = Notifier(self.topology, self.webhooks)
        self.db.before_commit.append(self.notifier.flush)
        self.keyring = Keyring(
            self.config.sign_algorithms, {e.code: e.key for e in self.config.enterprises}
        )
        self.signer = SigningWorker(
            self.db, self.keyring, self.topology, self.notifier, on_signed=self._wake_relays
        )
        self.intake = Intake(
            self.db,
            self.notifier,
            max_bytes=self.config.intake.max_bytes,
            on_declared=self.signer.wake.set,
        )
        amqp = self.config.amqp
        self.receipts = ReceiptProcessor(self.db, self.notifier, max_clock_skew=amqp.max_clock_skew)
        self.receipt_trust = ReceiptTrust.of(
            amqp.customs_users, amqp.customs_sender_ids, (e.dxp_id for e in self.config.enterprises)
        )

    def _wake_relays(self) -> None:
        for wake in self._wakers:
            wake()

    def prepare(self, *, broker: bool = True) -> None:
        """Migrate the database, register enterprises, declare the broker topology."""
        ensure_test_keys(self.config)
        if self.config.emulated_cards:  # demo: emulated IC cards behind a private pcscd
            from gateway.core.emulated_cards import start_emulated_cards

            start_emulated_cards(self.config)
        upgrade(self.db)
        with self.db.session() as session:
            if not self.db.is_sqlite:
                # Several processes starting together register the same enterprises.
                session.execute(text("SELECT pg_advisory_xact_lock(7263002)"))
            for ent in self.config.enterprises:
                enterprises.upsert(session, ent)
            enterprises.register_keys(session, self.config)  # API keys (gateway/core/keys.py)
        if broker:
            declare_topology(self.config, self.topology)

    def prepare_when_ready(self, timeout: float = 120.0) -> None:
        """`prepare`, waiting for the database and the broker when they are (re)starting."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.prepare()
                return
            except (DBAPIError, AMQPError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("database or broker not ready (%s); retrying", type(exc).__name__)
                time.sleep(2.0)

    def new_relay(self) -> OutboxRelay:
        publisher = BatchPublisher(self.config.amqp.url, name="gateway-relay")
        relay = OutboxRelay(self.db, publisher, self.notifier)
        self._wakers.append(relay.wake.set)
        return relay

    def new_webhook_worker(self) -> WebhookWorker:
        worker = WebhookWorker(self.db, self.webhooks, self.config.webhooks)
        self._wakers.append(worker.wake.set)
        return worker

    def handle_receipt(self, delivery: Delivery) -> None:
        try:
            applied = self._apply_envelope(delivery)
        except Exception as exc:
            if not _crashed(exc, delivery):
                raise  # retried: the database or broker may be back on the next delivery
            log.exception("receipt %s crashed its handler; kept as unreadable", delivery.message_id)
            self.receipts.keep_crashed(delivery.body, exc)
            return  # acked: the same bytes would crash the same way on every delivery
        if applied:
            self._wake_relays()  # status notifications are waiting in the outbox

    def _apply_envelope(self, delivery: Delivery) -> bool:
        """One envelope from customs; False when it was reference data, not a receipt.

        Only customs may send either: anything else is kept for ops and reaches no handler."""
        verdict = self.receipt_trust.check(delivery)
        if verdict.why is not None:
            self.receipts.keep_untrusted(delivery.body, verdict.envelope, verdict.why)
            return False
        for takes in registry.installed().reference_handlers():  # APT110 and the like
            if takes(self.db, delivery.body):
                return False
        self.receipts.handle_envelope(delivery.body)
        return True

    def handle_receipts(self, deliveries: list[Delivery]) -> None:
        """The receipts that arrived together, applied in one transaction, in arrival order.

        Why: applying a receipt is a few statements, but its own transaction also cost a
        session, a commit, a notification row and an ack: the largest share of the gateway's
        time when each declaration brings two receipts. The same code applies them, so the
        same order and refusal rules hold; a failure makes the consumer redo them one by one.
        """
        with self.db.together():
            for delivery in deliveries:
                self._apply_envelope(delivery)
        self._wake_relays()

    def workers(
        self, stop: threading.Event, *, folder: bool = True, idle: float = 0.5
    ) -> list[threading.Thread]:
        """Start every background worker; they stop when `stop` is set.

        `idle`: how often the signer and the relay look for work when nothing wakes them. In
        one process intake wakes them at once; when intake runs in other processes (`serve
        --no-workers` next to `serve --no-http`), only this poll does, so keep it short there.
        """
        url = self.config.amqp.url
        jobs: dict[str, Callable[[], None]] = {
            "signer": lambda: self.signer.run(stop, idle),
            "relay": lambda: self.new_relay().run(stop, idle),
            "webhooks": lambda: self.new_webhook_worker().run(stop),  # docs/webhooks.md
            "alerts": lambda: alerts.AlertWatcher(self).run(stop),  # docs/alerts.md
            "receipts": lambda: Consumer(
                url,
                self.topology.receipts_queue,
                self.handle_receipt,
                name="gateway-receipts",
                retry_limit=self.topology.consumer_retry_limit,
                batch_handler=self.handle_receipts,
                prefetch=RECEIPT_BATCH,
            ).run(stop),
            "inbound": lambda: Consumer(
                url,
                self.topology.inbound_queue,
                InboundHandler(self).handle,
                name="gateway-inbound",
                retry_limit=self.topology.consumer_retry_limit,
            ).run(stop),
        }
        if not self.config.alerts.enabled:
            del jobs["alerts"]
        # The systems' batch jobs (R-APT-9, R-ECX-8…): every process schedules them; a
        # database lease lets one run each round.
        for job in registry.installed().jobs():
            if job.enabled(self.config):
                jobs[job.name] = partial(job.run, self, stop)
        if folder and self.config.intake.folder is not None:
            watcher = FolderIntake(
                self.intake, self.config.intake.folder, self.config.intake.settle_seconds
            )
            jobs["folder"] = lambda: watcher.run(stop, self.config.intake.poll_seconds)
        threads = [
            threading.Thread(target=job, name=name, daemon=True) for name, job in jobs.items()
        ]
        for thread in threads:
            thread.start()
        return threads


def _crashed(exc: Exception, delivery: Delivery) -> bool:
    """A failure the receipt itself causes (a bad value, a value too long for its column),
    not one of the database or broker, nor a decision of the gateway (its own errors keep
    their retry or dead-letter meaning). A unique-key clash is a race with another consumer
    on its first delivery, the receipt's own fault after that."""
    if isinstance(exc, GatewayError | OSError | AMQPError | SQLAlchemyTimeout):
        return False
    if isinstance(exc, OperationalError | InterfaceError):
        return False  # connection lost, database locked, deadlock, serialization failure
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return False
    return not (isinstance(exc, IntegrityError) and delivery.delivery_count == 0)


class InboundHandler:
    """The inbound RabbitMQ channel: a declaration per message from an enterprise's broker user.

    Who submits is the message's `user_id`, which the broker validates against the publishing
    connection; `enterprises[].amqp_users` maps broker users to enterprises. No key is read
    from the headers. The answer (record ids or every error) goes to the enterprise's own
    reply queue when `reply_to` is set: `reply_to` may name that queue or its notify queue,
    anything else is answered on the reply queue with `reply_to_refused` saying why. A refused
    message nobody can be told of (no `reply_to`, or no enterprise) is dead-lettered.
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._local = threading.local()
        self._users = {
            user: ent.code for ent in gateway.config.enterprises for user in ent.amqp_users
        }

    def _publisher(self) -> Publisher:
        pub = getattr(self._local, "publisher", None)
        if pub is None:
            gw = self.gateway
            pub = Publisher(gw.config.amqp.url, gw.topology, name="gateway-replies", declare=False)
            self._local.publisher = pub
        return pub

    def handle(self, delivery: Delivery) -> None:
        code = self._users.get(delivery.user_id or "")
        if API_KEY_HEADER in delivery.headers:  # an old client: tell ops, never the key
            log.warning(
                "inbound message %s carries an %s header, which is ignored: the sender is "
                "its broker user (%s)",
                delivery.message_id,
                API_KEY_HEADER,
                delivery.user_id,
            )
        try:
            answer = {"ok": True, **self._submit(code, delivery)}
        except MisuseError as exc:
            if not delivery.reply_to or code is None:
                raise PermanentFailure(f"refused, nobody to answer: {exc.message}") from exc
            answer = {"ok": False, **exc.as_dict()}
        if delivery.reply_to and code is not None:
            queue, refused = self._reply_queue(code, delivery.reply_to)
            if refused:
                answer["reply_to_refused"] = refused
            self._publisher().publish(
                "",
                queue,
                json.dumps(answer, ensure_ascii=False).encode(),
                message_id=f"reply-{delivery.message_id or ''}",
                correlation_id=delivery.correlation_id or delivery.message_id,
                content_type="application/json",
            )

    def _reply_queue(self, code: str, reply_to: str) -> tuple[str, str | None]:
        """The enterprise's own queue to answer on, and why `reply_to` was not followed."""
        topo = self.gateway.topology
        own = topo.reply_queue(code)
        if reply_to in (own, topo.notify_queue(code)):
            return reply_to, None
        return own, (
            f"reply_to {reply_to!r} is not a queue of enterprise {code}: answers go to {own} "
            f"or {topo.notify_queue(code)} only (R-COM-3)"
        )

    def _submit(self, code: str | None, delivery: Delivery) -> dict[str, object]:
        if code is None:
            raise AccessDenied(
                f"user_id: broker user {delivery.user_id!r} submits for no enterprise; "
                "declarations on the inbound queue are taken from an enterprise's own broker "
                "user (user_id set, validated by the broker), never by a key in a header "
                "(R-COM-3)"
            )
        result = self.gateway.intake.submit(code, delivery.body, "amqp")
        return result.as_dict()
