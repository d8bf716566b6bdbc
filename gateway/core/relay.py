"""The outbox relay: publishes committed outbox rows in broker transactions, then marks them.

A crash between the broker's commit and the mark publishes the row again on restart. That is
the only way a message can go out twice, and it goes out with the same AMQP message id and
the same CopMsgId, which the receiving side (customs' exchange platform, our simulator)
uses to drop the repeat — so customs counts each declaration once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from gateway.core import logs, metrics
from gateway.core.db import Database
from gateway.core.faults import crash_point
from gateway.core.history import OUTBOX, Change, Notifier, Source, record_all
from gateway.core.models import MESSAGES, document_refs_of, utcnow
from gateway.core.status import Status
from gateway.errors import TransportError
from transports.batch import BatchPublisher, Outgoing

log = logging.getLogger(__name__)

#: what publishing a row needs (its bookkeeping columns are only written)
_COLUMNS = [
    c for c in OUTBOX.c if c.name not in ("created_at", "sent_at", "attempts", "last_error")
]


def _rows(_relay: OutboxRelay, rows: list[Row[Any]]) -> int:
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
            o = OUTBOX.c
            stmt = select(*_COLUMNS).where(o.sent_at.is_(None)).order_by(o.id).limit(self.batch)
            rows = list(session.execute(stmt.with_for_update(skip_locked=True)))
            if not rows:
                return 0
            what = "declaration" if any(r.gateway_message_id for r in rows) else "notification"
            crash_point(f"relay.before_publish.{what}")
            returned = self._publish(session, rows)
            if returned is None:
                return 0  # the attempts are recorded; the rows wait for the broker
            crash_point(f"relay.after_publish.{what}")
            sent = [r for r in rows if r.message_id not in returned]
            self._mark(session, sent)
            refused = [r for r in rows if r.message_id in returned]
            self._failed(session, refused, "no queue took it (unroutable); will retry")
            return len(sent)

    @metrics.timed("publish", lambda out: "failed" if out is None else "published", _rows)
    def _publish(self, session: Session, rows: list[Row[Any]]) -> set[str] | None:
        batch = [
            Outgoing(
                r.exchange, r.routing_key, r.body, r.message_id, r.headers or {}, r.content_type
            )
            for r in rows
        ]
        try:
            return self.publisher.publish_batch(batch)
        except TransportError as exc:
            self._failed(session, rows, exc.message)
            return None

    @staticmethod
    def _failed(session: Session, rows: list[Row[Any]], why: str) -> None:
        if not rows:
            return
        for row in rows:
            with logs.context(outbox_id=row.id, cop_msg_id=row.message_id):
                log.warning("outbox row %s (%s) not sent: %s", row.id, row.message_id, why)
        stmt = update(OUTBOX).where(OUTBOX.c.id.in_([r.id for r in rows]))
        session.execute(stmt.values(attempts=OUTBOX.c.attempts + 1, last_error=why))

    def _mark(self, session: Session, rows: list[Row[Any]]) -> None:
        """Sent: the rows, their messages and the messages' documents, in a few statements
        for the whole batch (one ORM flush per row and per document before)."""
        if not rows:
            return
        now = utcnow()
        stmt = update(OUTBOX).where(OUTBOX.c.id.in_([r.id for r in rows]))
        session.execute(stmt.values(sent_at=now, attempts=OUTBOX.c.attempts + 1))
        routed = {r.gateway_message_id: r.routing_key for r in rows if r.gateway_message_id}
        if not routed:
            return
        stmt = update(MESSAGES).where(MESSAGES.c.id.in_(list(routed)))
        session.execute(stmt.values(state=Status.SENT.value, sent_at=now))
        docs = document_refs_of(session, routed, Status.SIGNED.value)
        changes = [
            (doc, Change(Status.SENT, Source.GATEWAY, f"committed by the broker for {key}"))
            for message_id, key in routed.items()
            for doc in docs.get(message_id, ())
        ]
        record_all(session, changes, self.notifier, at=now)

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
