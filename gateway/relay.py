"""The outbox relay: publishes committed outbox rows with publisher confirms, then marks them.

A crash between the broker's confirm and the mark publishes the row again on restart. That is
the only way a message can go out twice, and it goes out with the same AMQP message id and
the same CopMsgId, which the receiving side (customs' exchange platform, our simulator)
uses to drop the repeat — so customs counts each declaration once.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import Database
from gateway.errors import TransportError
from gateway.faults import crash_point
from gateway.history import Change, Notifier, Source, record
from gateway.models import Message, Outbox, utcnow
from gateway.signing import documents_of
from gateway.status import Status
from transports.publisher import Publisher

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self, db: Database, publisher: Publisher, notifier: Notifier | None, batch: int = 200
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
            sent = 0
            for row in rows:
                what = "declaration" if row.gateway_message_id else "notification"
                crash_point(f"relay.before_publish.{what}")
                if not self._publish(row):
                    break  # broker trouble: keep order, commit what went out, retry later
                crash_point(f"relay.after_publish.{what}")
                self._mark(session, row)
                sent += 1
        return sent

    def _publish(self, row: Outbox) -> bool:
        try:
            self.publisher.publish(
                row.exchange,
                row.routing_key,
                row.body,
                message_id=row.message_id,
                headers=row.headers or None,
                content_type=row.content_type,
            )
            return True
        except TransportError as exc:
            row.attempts += 1
            row.last_error = exc.message
            log.warning("publishing outbox row %s failed: %s", row.id, exc.message)
            return False

    def _mark(self, session: Session, row: Outbox) -> None:
        row.sent_at = utcnow()
        row.attempts += 1
        if row.gateway_message_id is None:
            return
        msg = session.get(Message, row.gateway_message_id)
        if msg is None:
            return
        msg.state, msg.sent_at = Status.SENT.value, row.sent_at
        note = f"confirmed by the broker for {row.routing_key}"
        for doc in documents_of(session, msg.id, Status.SIGNED):
            record(session, doc, Change(Status.SENT, Source.GATEWAY, note), self.notifier)

    def run(self, stop: threading.Event, idle: float = 0.5) -> None:
        while not stop.is_set():
            try:
                sent = self.run_once()
            except Exception:  # the relay must outlive a database or broker outage
                log.exception("outbox relay failed; retrying")
                sent = 0
            if not sent:
                self.wake.wait(idle)
                self.wake.clear()
