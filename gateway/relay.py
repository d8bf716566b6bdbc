"""The outbox relay: publishes committed outbox rows in broker transactions, then marks them.

A crash between the broker's commit and the mark publishes the row again on restart. That is
the only way a message can go out twice, and it goes out with the same AMQP message id and
the same CopMsgId, which the receiving side (customs' exchange platform, our simulator)
uses to drop the repeat — so customs counts each declaration once.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import logs, metrics
from gateway.db import Database
from gateway.errors import TransportError
from gateway.faults import crash_point
from gateway.history import Change, Notifier, Source, record
from gateway.models import Message, Outbox, documents_of, utcnow
from gateway.status import Status
from transports.batch import BatchPublisher, Outgoing

log = logging.getLogger(__name__)


def _rows(_relay: OutboxRelay, rows: list[Outbox]) -> int:
    return len(rows)


class OutboxRelay:
    """Publishes outbox rows in batches, each batch in one broker transaction."""

    def __init__(
        self, db: Database, publisher: BatchPublisher, notifier: Notifier | None, batch: int = 200
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.notifier = notifier
        self.batch = batch
        self.wake = threading.Event()

    def run_once(self) -> int:
        """Publish one batch; returns how many rows were sent."""
        with self.db.session() as session:
            stmt = select(Outbox).where(Outbox.sent_at.is_(None)).order_by(Outbox.id)
            rows = list(session.scalars(stmt.limit(self.batch).with_for_update(skip_locked=True)))
            if not rows:
                return 0
            what = "declaration" if any(r.gateway_message_id for r in rows) else "notification"
            crash_point(f"relay.before_publish.{what}")
            returned = self._publish(rows)
            if returned is None:
                return 0  # the attempts are recorded; the rows wait for the broker
            crash_point(f"relay.after_publish.{what}")
            sent = [r for r in rows if r.message_id not in returned]
            for row in sent:
                self._mark(session, row)
            for row in rows:
                if row.message_id in returned:
                    self._failed(row, "no queue took it (unroutable); will retry")
            return len(sent)

    @metrics.timed("publish", lambda out: "failed" if out is None else "published", _rows)
    def _publish(self, rows: list[Outbox]) -> set[str] | None:
        batch = [
            Outgoing(
                r.exchange, r.routing_key, r.body, r.message_id, r.headers or {}, r.content_type
            )
            for r in rows
        ]
        try:
            return self.publisher.publish_batch(batch)
        except TransportError as exc:
            for row in rows:
                self._failed(row, exc.message)
            return None

    @staticmethod
    @logs.with_context(lambda row, _why: {"outbox_id": row.id, "cop_msg_id": row.message_id})
    def _failed(row: Outbox, why: str) -> None:
        row.attempts += 1
        row.last_error = why
        log.warning("outbox row %s (%s) not sent: %s", row.id, row.message_id, why)

    def _mark(self, session: Session, row: Outbox) -> None:
        row.sent_at = utcnow()
        row.attempts += 1
        if row.gateway_message_id is None:
            return
        msg = session.get(Message, row.gateway_message_id)
        if msg is None:
            return
        msg.state, msg.sent_at = Status.SENT.value, row.sent_at
        note = f"committed by the broker for {row.routing_key}"
        for doc in documents_of(session, msg.id, Status.SIGNED.value):
            record(session, doc, Change(Status.SENT, Source.GATEWAY, note), self.notifier)

    def run(self, stop: threading.Event, idle: float = 0.5) -> None:
        while not stop.is_set():
            try:
                sent = self.run_once()
            except Exception:  # the relay must outlive a database outage
                log.exception("outbox relay failed; retrying")
                sent = 0
            if not sent:
                self.wake.wait(idle)
                self.wake.clear()
