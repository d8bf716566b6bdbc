"""Alerts: what needs ops before it hurts (issue 17, item 3; docs/alerts.md).

`evaluate(gateway)` looks at the gateway as it is now and returns the alerts that hold:

- `certificate_expiring` (enterprise code): its signing certificate expires within
  `alerts.expiry_days`, or has expired;
- `card_problem` (enterprise/card): an IC card absent, locked, or expiring that soon;
- `dead_letters` (queue): the queue's `.dead` queue holds messages;
- `webhook_dead` (webhook target): deliveries that failed every try (docs/webhooks.md);
- `customs_silent` (`customs`): records sent more than `alerts.customs_silent_minutes` ago
  still wait for their first receipt, and no receipt at all came in that time;
- `job_overdue` (job name): a job named in `alerts.job_overdue_minutes` has had no round
  for that long.

Each is a Prometheus gauge (`gateway_alerts{alert, subject}` = 1 while raised, and
`gateway_alerts_active{alert}` counting them, 0 when none), refreshed at every scrape of
`/metrics` and every round of the watcher; the ops console shows `evaluate`'s list. The watcher
(`AlertWatcher`, one worker per `serve`, one round at a time across processes by the job lease
`alerts`) keeps the raised alerts in `alert_states` and, when `alerts.webhook` is set, posts each
raise and each clear once to it, through the webhook outbox (signed, retried, dead-lettered).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import click
import pika
from cryptography import x509
from pika.exceptions import ChannelClosedByBroker
from prometheus_client import Gauge
from sqlalchemy import String, Table, Text, delete, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.core import jobs, webhooks
from gateway.core.models import Base, Document, Enterprise, Receipt, UTCDateTime, utcnow
from gateway.core.status import Status
from transports.publisher import close_quietly, connection_parameters

log = logging.getLogger(__name__)

#: the lease that lets one process at a time evaluate and tell the ops webhook
JOB = "alerts"
NOT_FOUND = 404
_STARTED = utcnow()


class AlertKind(StrEnum):
    CERTIFICATE_EXPIRING = "certificate_expiring"
    CARD_PROBLEM = "card_problem"
    DEAD_LETTERS = "dead_letters"
    WEBHOOK_DEAD = "webhook_dead"
    CUSTOMS_SILENT = "customs_silent"
    JOB_OVERDUE = "job_overdue"


ACTIVE = Gauge("gateway_alerts", "1 while the alert holds for the subject", ["alert", "subject"])
COUNT = Gauge("gateway_alerts_active", "Alerts raised, by alert", ["alert"])
CERT_DAYS = Gauge(
    "gateway_certificate_days_left", "Days until the signing certificate expires", ["enterprise"]
)
SILENCE = Gauge(
    "gateway_customs_silence_seconds", "Seconds since the last receipt from customs (-1: none)"
)
WEBHOOKS = Gauge("gateway_webhook_outbox", "Webhook deliveries by state", ["state"])
JOB_AGE = Gauge(
    "gateway_job_seconds_since_run", "Seconds since a watched job's last round", ["job"]
)
_shown: set[tuple[str, str]] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class Alert:
    alert: AlertKind
    subject: str
    #: one line for ops: what holds and since when
    message: str
    severity: str = "warning"  # or "critical"

    @property
    def key(self) -> str:
        return f"{self.alert.value}:{self.subject}"[:250]

    def as_dict(self) -> dict[str, str]:
        return {
            "alert": self.alert.value,
            "subject": self.subject,
            "message": self.message,
            "severity": self.severity,
        }


# --- evaluating ------------------------------------------------------------------------------


def evaluate(
    gateway: Any, now: datetime | None = None, *, queues: Sequence[Any] | None = None
) -> list[Alert]:
    """Every alert that holds now. `queues`: queue stats already read (a scrape of /metrics
    reads them once); otherwise they are read from the broker, and a broker that does not
    answer leaves the dead-letter alerts out."""
    return assess(gateway, now, queues=queues)[0]


def assess(
    gateway: Any, now: datetime | None = None, *, queues: Sequence[Any] | None = None
) -> tuple[list[Alert], set[AlertKind]]:
    """`evaluate`, and the kinds that could not be checked this time (kept as they were by
    the watcher, so a broker outage does not clear and raise them again)."""
    when = now or utcnow()
    settings = gateway.config.alerts
    found: list[Alert] = []
    with gateway.db.session() as session:
        found += certificates(session, when, settings.expiry_days)
        found += webhook_dead(session)
        found += customs_silent(session, when, settings.customs_silent_minutes)
        found += jobs_overdue(session, when, settings.job_overdue_minutes)
        found += cards(session, gateway, settings.expiry_days)
    dead = dead_letters(gateway if queues is None else None, queues)
    if dead is None:
        return found, {AlertKind.DEAD_LETTERS}
    return found + dead, set()


def certificates(session: Session, now: datetime, days: int) -> list[Alert]:
    """Signing certificates (file keys, and the certificate registered for a card) of every
    enterprise, read from the registration (`enterprises.certificate_pem`)."""
    out = []
    for code, pem in session.execute(select(Enterprise.code, Enterprise.certificate_pem)):
        if not pem:
            continue
        try:
            until = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
        except ValueError:
            out.append(
                Alert(AlertKind.CERTIFICATE_EXPIRING, code, "certificate unreadable", "critical")
            )
            continue
        left = (until - now).days
        CERT_DAYS.labels(code).set(left)
        if until <= now:
            message = f"signing certificate expired on {until:%Y-%m-%d}"
            out.append(Alert(AlertKind.CERTIFICATE_EXPIRING, code, message, "critical"))
        elif left <= days:
            message = f"signing certificate expires on {until:%Y-%m-%d}, in {left} day(s)"
            out.append(Alert(AlertKind.CERTIFICATE_EXPIRING, code, message))
    return out


def cards(session: Session, gateway: Any, days: int) -> list[Alert]:
    """IC cards of the running gateway's keyring (absent, locked, expiring), as
    `customs-gateway cards` reports them: only where an enterprise signs with a card."""
    keyring = getattr(gateway, "keyring", None)
    if keyring is None:
        return []
    out = []
    for ent in session.scalars(select(Enterprise).order_by(Enterprise.code)):
        if (ent.key_binding or {}).get("backend") != "card":
            continue
        try:
            states = _card_states(keyring.for_enterprise(ent)[0], days)
        except Exception as exc:  # noqa: BLE001 - a card that cannot be opened is the alert
            message = getattr(exc, "message", None) or type(exc).__name__
            out.append(Alert(AlertKind.CARD_PROBLEM, ent.code, message, "critical"))
            continue
        for state in states:
            if state.problem:
                severity = "warning" if state.present and state.valid else "critical"
                subject = f"{ent.code}/{state.card_number or '?'}"
                out.append(Alert(AlertKind.CARD_PROBLEM, subject, state.problem, severity))
    return out


def cards_of(gateway: Any) -> list[Alert]:
    """`cards` alone, in a session of its own (the console's card panel, tests)."""
    with gateway.db.session() as session:
        return cards(session, gateway, gateway.config.alerts.expiry_days)


def _card_states(key: Any, days: int) -> list[Any]:
    if hasattr(key, "warn_days"):  # a pool of cards: one state per card
        key.warn_days = days
        return list(key.health())
    return [key.health(days)] if hasattr(key, "health") else []


def dead_letters(gateway: Any, queues: Sequence[Any] | None) -> list[Alert] | None:
    """None when the broker did not answer."""
    if queues is None:
        try:
            counts = _dead_counts(gateway.config, gateway.topology)
        except Exception as exc:  # noqa: BLE001 - the other alerts still count
            log.warning("dead letters not counted for alerts: %s", type(exc).__name__)
            return None
    else:
        counts = [(q.queue, q.dead_letters) for q in queues]
    return [
        Alert(AlertKind.DEAD_LETTERS, queue, f"{n} dead letter(s) in {queue}.dead")
        for queue, n in counts
        if n
    ]


def _dead_counts(config: Any, topology: Any) -> list[tuple[str, int]]:
    """Messages in each consuming queue's `.dead` queue (a passive declare answers the
    count without touching the queue), the queues `ops queues` watches. Read here rather
    than through gateway.core.ops, which stands above the runtime in the import graph."""
    queues = [b.queue for b in topology.bindings]
    queues += [topology.notify_queue(e.code) for e in config.enterprises]
    connection = pika.BlockingConnection(connection_parameters(config.amqp.url, "gateway-alerts"))
    try:
        channel = connection.channel()
        out = []
        for queue in queues:
            try:
                ok = channel.queue_declare(topology.dead_queue(queue), passive=True).method
            except ChannelClosedByBroker as exc:
                if exc.reply_code != NOT_FOUND:
                    raise
                channel = connection.channel()  # not declared yet: nothing dead in it
                continue
            out.append((queue, int(ok.message_count)))
        return out
    finally:
        close_quietly(connection)


def webhook_dead(session: Session) -> list[Alert]:
    c = webhooks.TABLE.c
    rows = session.execute(
        select(c.target, func.count())
        .where(c.state == webhooks.State.DEAD.value)
        .group_by(c.target)
    )
    for state, n in webhooks.counts(session).items():
        WEBHOOKS.labels(state).set(n)
    return [
        Alert(AlertKind.WEBHOOK_DEAD, target, f"{n} webhook deliver(ies) failed every try")
        for target, n in rows
    ]


def customs_silent(session: Session, now: datetime, minutes: float) -> list[Alert]:
    """Silence only counts while something waits for customs: records `sent` longer than
    the limit, and no receipt (of any kind) in that time."""
    last = session.scalar(select(func.max(Receipt.received_at)))
    SILENCE.set((now - last).total_seconds() if last else -1)
    cutoff = now - timedelta(minutes=minutes)
    if last is not None and last > cutoff:
        return []
    waiting, oldest = session.execute(
        select(func.count(), func.min(Document.updated_at)).where(
            Document.status == Status.SENT.value, Document.updated_at <= cutoff
        )
    ).one()
    if not waiting:
        return []
    heard = f"last receipt {last:%Y-%m-%d %H:%M:%S} UTC" if last else "no receipt yet"
    message = (
        f"{waiting} record(s) sent and unanswered for over {minutes:g} min (oldest since "
        f"{oldest:%Y-%m-%d %H:%M:%S} UTC); {heard}"
    )
    return [Alert(AlertKind.CUSTOMS_SILENT, "customs", message, "critical")]


def jobs_overdue(session: Session, now: datetime, watched: dict[str, float]) -> list[Alert]:
    """A watched job that has not recorded a round for its limit (never: since this process
    started)."""
    if not watched:
        return []
    lease = jobs.JobLease
    stmt = select(lease.name, lease.last_run_at).where(lease.name.in_(list(watched)))
    runs = {name: last for name, last in session.execute(stmt)}
    out = []
    for name, minutes in sorted(watched.items()):
        last = runs.get(name)
        age = now - (last or _STARTED)
        JOB_AGE.labels(name).set(age.total_seconds())
        if age > timedelta(minutes=minutes):
            ran = f"last round {last:%Y-%m-%d %H:%M:%S} UTC" if last else "no round recorded"
            message = f"no round for over {minutes:g} min ({ran})"
            out.append(Alert(AlertKind.JOB_OVERDUE, name, message))
    return out


# --- Prometheus ------------------------------------------------------------------------------


def show(found: Iterable[Alert], keep: set[AlertKind] = frozenset()) -> None:  # type: ignore[assignment]
    """The gauges: one series per raised alert, the cleared ones removed; counts per kind.
    Kinds in `keep` could not be checked: their series stay as they were."""
    kept = {k.value for k in keep}
    now_shown = {(a.alert.value, a.subject) for a in found if a.alert.value not in kept}
    with _lock:
        old = {labels for labels in _shown if labels[0] not in kept}
        for labels in old - now_shown:
            ACTIVE.remove(*labels)
            _shown.discard(labels)
        for labels in now_shown:
            ACTIVE.labels(*labels).set(1)
        _shown.update(now_shown)
    for kind in AlertKind:
        if kind.value not in kept:
            COUNT.labels(kind.value).set(sum(1 for a, _s in now_shown if a == kind.value))


def refresh(gateway: Any, queues: Sequence[Any] | None = None) -> list[Alert]:
    """Evaluate and show (a scrape of /metrics); never raises."""
    try:
        found, unknown = assess(gateway, queues=queues)
    except Exception as exc:  # noqa: BLE001 - a scrape still answers with the rest
        log.warning("alerts not evaluated: %s", type(exc).__name__)
        return []
    show(found, unknown)
    return found


# --- raising and clearing, told once ---------------------------------------------------------


class AlertState(Base):
    """An alert raised and not yet cleared (migration 0007): what the ops webhook was told."""

    __tablename__ = "alert_states"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    alert: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Transitions:
    raised: list[Alert]
    cleared: list[dict[str, Any]]


def record(
    session: Session,
    found: Sequence[Alert],
    outbox: webhooks.WebhookOutbox | None,
    now: datetime,
    unknown: set[AlertKind] = frozenset(),  # type: ignore[assignment]
) -> Transitions:
    """Compare with the alerts last raised; store the change and queue one ops webhook per
    raise and per clear, in this one transaction. Kinds `unknown` this round stay as they
    were."""
    table: Table = AlertState.__table__  # type: ignore[assignment]
    kept = {k.value for k in unknown}
    before = {s.key: s for s in session.scalars(select(AlertState)) if s.alert not in kept}
    current = {a.key: a for a in found}
    raised = [a for k, a in current.items() if k not in before]
    cleared = [before[k] for k in before if k not in current]
    if cleared:
        session.execute(delete(table).where(table.c.key.in_([s.key for s in cleared])))
    for alert in raised:
        session.execute(
            insert(table).values(
                key=alert.key,
                alert=alert.alert.value,
                subject=alert.subject,
                raised_at=now,
                detail=json.dumps(alert.as_dict(), ensure_ascii=False),
            )
        )
    gone = [_cleared(s, now) for s in cleared]
    if outbox is not None:
        for alert in raised:
            body = {"alert": {**alert.as_dict(), "raised_at": now.isoformat()}}
            outbox.queue_ops(session, webhooks.Event.ALERT_RAISED, body)
        for item in gone:
            outbox.queue_ops(session, webhooks.Event.ALERT_CLEARED, {"alert": item})
    return Transitions(raised, gone)


def _cleared(state: AlertState, now: datetime) -> dict[str, Any]:
    detail = json.loads(state.detail or "{}")
    return {
        **detail,
        "alert": state.alert,
        "subject": state.subject,
        "raised_at": state.raised_at.isoformat(),
        "cleared_at": now.isoformat(),
    }


def active(session: Session) -> list[dict[str, Any]]:
    """The alerts raised at the watcher's last round, oldest first (cheap: no broker)."""
    rows = session.scalars(select(AlertState).order_by(AlertState.raised_at, AlertState.key))
    return [{**json.loads(s.detail or "{}"), "raised_at": s.raised_at.isoformat()} for s in rows]


class AlertWatcher:
    """A gateway worker: every `alerts.interval_seconds`, the process holding the lease
    evaluates, shows and records the alerts (telling the ops webhook of transitions)."""

    def __init__(self, gateway: Any, now: Callable[[], datetime] = utcnow) -> None:
        self.gateway = gateway
        self.now = now
        self.owner = jobs.owner_id()

    def round(self) -> Transitions | None:
        """One round; None when another process holds the lease."""
        db = self.gateway.db
        now = self.now()
        interval = self.gateway.config.alerts.interval_seconds
        if not jobs.take_lease(db, self.owner, now, timedelta(seconds=interval * 3), JOB):
            return None
        found, unknown = assess(self.gateway, now)
        show(found, unknown)
        with db.session() as session:
            done = record(session, found, self.gateway.webhooks, now, unknown)
        jobs.record_run(db, JOB, now, f"{len(found)} alert(s) raised")
        for alert in done.raised:
            log.warning("alert raised: %s %s: %s", alert.alert, alert.subject, alert.message)
        for item in done.cleared:
            log.info("alert cleared: %s %s", item["alert"], item["subject"])
        return done

    def run(self, stop: threading.Event) -> None:
        interval = self.gateway.config.alerts.interval_seconds
        while not stop.is_set():
            try:
                self.round()
            except Exception:  # the watcher must outlive a database outage
                log.exception("alert round failed; retrying")
            stop.wait(interval)


# --- command line: `customs-gateway ops alerts` ----------------------------------------------


@click.command("alerts")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per alert")
@click.pass_context
def alerts_command(ctx: click.Context, as_json: bool) -> None:
    """The alerts that hold now (certificates, cards, dead letters, webhooks, customs
    silence, overdue jobs); exit 1 when there is one."""
    from types import SimpleNamespace

    from gateway.core import config as config_mod
    from gateway.core.db import Database

    cfg = config_mod.load((ctx.find_root().obj or {}).get("config_path"))
    db = Database(cfg.database_url, cfg.database)
    # the parts evaluate reads; no keyring: the cards are `customs-gateway cards`' to open
    gateway = SimpleNamespace(config=cfg, db=db, topology=config_mod.topology_for(cfg))
    try:
        found = evaluate(gateway)
    finally:
        db.dispose()
    for alert in found:
        if as_json:
            click.echo(json.dumps(alert.as_dict(), ensure_ascii=False))
        else:
            click.echo(f"{alert.severity:<8} {alert.alert:<21} {alert.subject:<24} {alert.message}")
    click.echo(f"{len(found)} alert(s)")
    if found:
        raise SystemExit(1)
