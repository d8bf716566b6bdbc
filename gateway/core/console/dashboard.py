"""What the console's dashboard and work lists show, read with the ops tools' own functions
(ops.queue_stats, ops.stuck's in-flight states, cards.keyring_health, queries.*) and the
business systems' panels (`BusinessSystem.console_panels`): the core names no system.

The alerts are `alerts.evaluate`'s (docs/alerts.md), the list `ops alerts` prints and the
watcher posts: among them the receipt silence alarm (`customs_silent`: records sent longer
than `alerts.customs_silent_minutes` ago wait for customs and no receipt came in that time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core import alerts, ops, registry, webhooks
from gateway.core.cards import keyring_health
from gateway.core.models import Document, Enterprise, Message, Outbox, Receipt, utcnow
from gateway.core.status import Status

log = logging.getLogger(__name__)

#: the work list of records customs (or the exchange) refused on format or storage
FAILURES = (
    Status.FORMAT_FAILED, Status.SECURITY_FAILED, Status.STORE_FAILED,
    Status.CUSTOMS_SEND_FAILED, Status.SEND_FAILED,
)  # fmt: skip
LIST_LIMIT = 200


@dataclass
class PanelView:
    title: str
    title_en: str
    columns: tuple[tuple[str, str, str], ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Dashboard:
    now: datetime
    counts: dict[str, dict[str, int]]  # system -> status -> n
    oldest_in_flight: dict[str, Any] | None
    queues: list[ops.QueueStats]
    broker_error: str | None
    outbox_unsent: int
    outbox_oldest: datetime | None
    last_receipt_at: datetime | None
    alerts: list[alerts.Alert]
    alerts_error: str | None
    silence_minutes: float
    webhooks: dict[str, int]
    cards: list[dict[str, Any]]
    cards_error: str | None
    receipts: dict[str, int]
    worklists: dict[str, int]
    panels: list[PanelView]

    @property
    def silent(self) -> bool:
        return any(a.alert == alerts.AlertKind.CUSTOMS_SILENT for a in self.alerts)

    @property
    def dead_letters(self) -> int:
        return sum(q.dead_letters or 0 for q in self.queues)


def system_of_kind() -> dict[str, str]:
    return {k.name: s.name for s in registry.installed().systems.values() for k in s.kinds}


def status_counts(session: Session) -> dict[str, dict[str, int]]:
    systems = system_of_kind()
    out: dict[str, dict[str, int]] = {}
    stmt = select(Document.kind, Document.status, func.count()).group_by(
        Document.kind, Document.status
    )
    for kind, status, n in session.execute(stmt):
        by_status = out.setdefault(systems.get(kind, "?"), {})
        by_status[status] = by_status.get(status, 0) + n
    return {s: dict(sorted(c.items())) for s, c in sorted(out.items())}


def oldest_in_flight(session: Session) -> dict[str, Any] | None:
    stmt = (
        select(Document)
        .where(Document.status.in_([s.value for s in ops.IN_FLIGHT]))
        .order_by(Document.updated_at)
        .limit(1)
    )
    doc = session.scalar(stmt)
    if doc is None:
        return None
    return {"id": doc.id, "kind": doc.kind, "business_key": doc.business_key,
            "status": doc.status, "since": doc.updated_at}  # fmt: skip


def build(gateway: Any, session: Session, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    queues, broker_error = _queues(gateway)
    unsent = select(func.count(), func.min(Outbox.created_at)).where(Outbox.sent_at.is_(None))
    outbox_unsent, outbox_oldest = session.execute(unsent).one()
    last = session.scalar(select(func.max(Receipt.received_at)))
    cards, cards_error = _cards(gateway, session)
    raised, alerts_error = _alerts(gateway, now, queues)
    return Dashboard(
        now=now,
        counts=status_counts(session),
        oldest_in_flight=oldest_in_flight(session),
        queues=queues,
        broker_error=broker_error,
        outbox_unsent=outbox_unsent or 0,
        outbox_oldest=outbox_oldest,
        last_receipt_at=last,
        alerts=raised,
        alerts_error=alerts_error,
        silence_minutes=gateway.config.alerts.customs_silent_minutes,
        webhooks=webhooks.counts(session),
        cards=cards,
        cards_error=cards_error,
        receipts=_receipt_counts(session),
        worklists=_worklist_counts(session),
        panels=panels(gateway, now),
    )


def _queues(gateway: Any) -> tuple[list[ops.QueueStats], str | None]:
    try:
        return ops.queue_stats(gateway.config, gateway.topology), None
    except Exception as exc:  # noqa: BLE001 - the dashboard shows the rest, and says why
        log.warning("console: queue depths not available: %s", type(exc).__name__)
        return [], type(exc).__name__


def _cards(gateway: Any, session: Session) -> tuple[list[dict[str, Any]], str | None]:
    try:
        # warned as the alerts warn (`alerts.expiry_days`)
        days = gateway.config.alerts.expiry_days
        return keyring_health(session, gateway.keyring, days), None
    except Exception as exc:  # noqa: BLE001 - a reader fault must not hide the dashboard
        log.warning("console: card health not available: %s", type(exc).__name__)
        return [], type(exc).__name__


def _alerts(
    gateway: Any, now: datetime, queues: list[ops.QueueStats]
) -> tuple[list[alerts.Alert], str | None]:
    """What `ops alerts` shows, with the queue depths already read (none if the broker is
    down: its own error is on the page)."""
    try:
        return alerts.evaluate(gateway, now, queues=queues), None
    except Exception as exc:  # noqa: BLE001 - the dashboard shows the rest, and says why
        log.warning("console: alerts not evaluated: %s", type(exc).__name__)
        return [], type(exc).__name__


def _receipt_counts(session: Session) -> dict[str, int]:
    stmt = (
        select(Receipt.outcome, func.count())
        .where(Receipt.outcome.in_(["unmatched", "unreadable"]))
        .group_by(Receipt.outcome)
    )
    found = dict(session.execute(stmt).all())
    return {k: int(found.get(k, 0)) for k in ("unmatched", "unreadable")}


def _worklist_counts(session: Session) -> dict[str, int]:
    def count(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    docs = select(func.count()).select_from(Document)
    return {
        "returned": count(docs.where(Document.status == Status.RETURNED.value)),
        "failures": count(docs.where(Document.status.in_([s.value for s in FAILURES]))),
        "signing": count(
            select(func.count())
            .select_from(Message)
            .where(Message.state == Status.SIGNING_FAILED.value)
        ),
    }


def panels(gateway: Any, now: datetime) -> list[PanelView]:
    """Each installed system's panels; one that fails shows its error, not a broken page."""
    out = []
    for system in registry.installed().systems.values():
        for panel in system.console_panels:
            view = PanelView(panel.title, panel.title_en, panel.columns)
            try:  # a session of its own: a failed query leaves the others' untouched
                with gateway.db.session() as session:
                    view.rows = panel.rows(gateway, session, now)
            except Exception as exc:  # noqa: BLE001 - one system's fault stays in its panel
                log.warning("console panel %s failed: %s", panel.name, type(exc).__name__)
                view.error = type(exc).__name__
            out.append(view)
    return out


# --- work lists ------------------------------------------------------------------------------


def _codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Enterprise.id, Enterprise.code)).all())


def documents_in(session: Session, statuses: list[str]) -> list[dict[str, Any]]:
    """Records in `statuses`, the most recently changed first, with customs' reason."""
    codes = _codes(session)
    stmt = (
        select(Document)
        .where(Document.status.in_(statuses))
        .order_by(Document.updated_at.desc())
        .limit(LIST_LIMIT)
    )
    return [
        {
            "id": d.id,
            "enterprise": codes.get(d.enterprise_id, "?"),
            "kind": d.kind,
            "business_key": d.business_key,
            "status": d.status,
            "reason": d.status_info,
            "updated_at": d.updated_at,
        }  # fmt: skip
        for d in session.scalars(stmt)
    ]


def signing_failures(session: Session) -> list[dict[str, Any]]:
    codes = _codes(session)
    stmt = (
        select(Message)
        .where(Message.state == Status.SIGNING_FAILED.value)
        .order_by(Message.created_at.desc())
        .limit(LIST_LIMIT)
    )
    return [
        {
            "id": m.id,
            "enterprise": codes.get(m.enterprise_id, "?"),
            "msg_type": m.msg_type,
            "error": m.error,
            "attempts": m.attempts,
            "created_at": m.created_at,
            "documents": [v.document_id for v in m.versions],
        }  # fmt: skip
        for m in session.scalars(stmt)
    ]
