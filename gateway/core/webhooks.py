"""Webhooks: every status change posted to the enterprise's `webhook` URL, signed, through an
outbox of its own (issue 17, item 2; docs/webhooks.md).

- **Never lost, never invented.** The delivery row is written by the notifier
  (`history.Notifier.flush`) in the transaction that changes the status (R-COM-4): a crash
  before the commit leaves neither, after it the row waits in `webhook_deliveries`.
- **At least once.** The worker claims due rows (pushing their next attempt past the claim
  time, so another process does not take them), posts, and records the outcome. A crash
  between the post and the record posts again, with the same `X-Gateway-Delivery` id, which
  receivers use to drop the repeat.
- **Bounded.** A failed post is retried after an exponential back-off with jitter; after
  `webhooks.max_attempts` tries the row is dead, listed by `ops webhooks dead`, and posted
  again only when ops replay it (`ops webhooks replay ID`, audited).
- **Signed.** `X-Gateway-Signature: sha256=<hex>` is the HMAC-SHA256, under the enterprise's
  webhook secret, of `<X-Gateway-Timestamp>.<body>` (the exact bytes sent): a receiver checks
  the body and refuses an old timestamp, so a captured request cannot be replayed later.
- **Trusting nothing.** Only http(s) URLs; redirects are not followed (a 3xx is a failure);
  a time-out per request; the receiver's response body is never read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
import httpx
from prometheus_client import Counter
from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Row,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.core import audit
from gateway.core.models import Base, Id, UTCDateTime, utcnow
from gateway.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from gateway.core.config import Config, WebhooksConfig
    from gateway.core.db import Database

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Gateway-Signature"
TIMESTAMP_HEADER = "X-Gateway-Timestamp"
DELIVERY_HEADER = "X-Gateway-Delivery"
EVENT_HEADER = "X-Gateway-Event"
#: `target` of the ops webhook's rows (alerts); an enterprise's is `enterprise:<code>`
OPS_TARGET = "ops"

DELIVERIES = Counter(
    "gateway_webhook_deliveries",
    "Webhook posts by target kind (enterprise, ops) and outcome (delivered, failed, dead)",
    ["target", "outcome"],
)


class State(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class Event(StrEnum):
    STATUS_CHANGED = "status.changed"
    ALERT_RAISED = "alert.raised"
    ALERT_CLEARED = "alert.cleared"


class WebhookDelivery(Base):
    """One POST to make (migration 0007): the body is fixed when the row is written, so a
    retry or a replay sends the very bytes the first attempt sent."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: the receivers' idempotency key (`X-Gateway-Delivery`), the same on every attempt
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    #: `enterprise:<code>` or `ops`: whose secret signs it
    target: Mapped[str] = mapped_column(String(40))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    event: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(500))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_webhook_due", WebhookDelivery.state, WebhookDelivery.next_attempt_at)
TABLE: Table = WebhookDelivery.__table__  # type: ignore[assignment]


# --- signing ---------------------------------------------------------------------------------


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: bytes, timestamp: str, body: bytes, given: str, *, now: float, tolerance: float = 300
) -> bool:
    """What a receiver does: the signature over these bytes, and a timestamp within
    `tolerance` seconds of its own clock (an old request replayed is refused)."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), given)


def check_url(url: str, where: str) -> str:
    """An absolute http(s) URL with a host, or a ConfigError naming `where`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {url!r} is not an http(s) URL with a host")
    return url


# --- queueing (inside the status change's transaction) --------------------------------------


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: bytes = b""


class WebhookOutbox:
    """Who gets which webhook, and the rows that queue them. The notifier calls `queue` for
    every enterprise's changes just before the commit (`history.Notifier.flush`)."""

    def __init__(self, config: Config) -> None:
        self.enterprises = {
            e.code: Endpoint(e.webhook, (e.webhook_secret or "").encode())
            for e in config.enterprises
            if e.webhook
        }
        alerts = config.alerts
        self.ops = (
            Endpoint(alerts.webhook, (alerts.webhook_secret or "").encode())
            if (alerts.webhook)
            else None
        )

    def secret_for(self, target: str) -> bytes | None:
        if target == OPS_TARGET:
            return self.ops.secret if self.ops else None
        endpoint = self.enterprises.get(target.removeprefix("enterprise:"))
        return endpoint.secret if endpoint else None

    def queue(
        self, session: Session, enterprise_id: int, code: str, changes: Sequence[dict[str, Any]]
    ) -> None:
        """The status changes of one enterprise in this transaction: one POST."""
        endpoint = self.enterprises.get(code)
        if endpoint is None:
            return
        body = {"enterprise": code, "changes": list(changes)}
        _insert(
            session, f"enterprise:{code}", enterprise_id, Event.STATUS_CHANGED, endpoint.url, body
        )

    def queue_ops(self, session: Session, event: Event, body: dict[str, Any]) -> bool:
        """An alert's raise or clear for the ops webhook; False when none is configured."""
        if self.ops is None:
            return False
        _insert(session, OPS_TARGET, None, event, self.ops.url, body)
        return True


def _insert(
    session: Session,
    target: str,
    enterprise_id: int | None,
    event: Event,
    url: str,
    body: dict[str, Any],
) -> None:
    # A Core INSERT, like the notification's: this runs just before the commit.
    delivery_id = str(uuid.uuid4())
    now = utcnow()
    payload = {"delivery": delivery_id, "event": event.value, **body}
    session.execute(
        insert(TABLE).values(
            delivery_id=delivery_id,
            target=target,
            enterprise_id=enterprise_id,
            event=event.value,
            url=url,
            body=json.dumps(payload, ensure_ascii=False, default=str).encode(),
            state=State.PENDING.value,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )


# --- delivering ------------------------------------------------------------------------------


def backoff(attempts: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Seconds before try `attempts + 1`: base·2^(attempts−1), at most `cap`, then a random
    half of it kept ("equal jitter"), so receivers coming back are not hit all at once."""
    full = min(cap, base * 2 ** max(0, attempts - 1))
    return full / 2 + full / 2 * rand()


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None
    error: str | None


class WebhookWorker:
    """Posts due deliveries; one per gateway process (`Gateway.workers`)."""

    def __init__(
        self,
        db: Database,
        outbox: WebhookOutbox,
        settings: WebhooksConfig,
        *,
        now: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.settings = settings
        self.now = now
        self.rand = rand
        self.wake = threading.Event()
        self.client = httpx.Client(
            timeout=settings.timeout_seconds,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment between us and the receiver
            transport=transport,
        )

    def run(self, stop: threading.Event) -> None:
        with ThreadPoolExecutor(self.settings.concurrency, "webhook-post") as pool:
            while not stop.is_set():
                try:
                    done = self.run_once(pool)
                except Exception:  # the worker must outlive a database outage
                    log.exception("webhook delivery failed; retrying")
                    done = 0
                if not done:
                    self.wake.wait(self.settings.poll_seconds)
                    self.wake.clear()
        self.client.close()

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Post the deliveries due now; how many were tried."""
        rows = self._claim()
        if pool is None:
            outcomes = [self._post(r) for r in rows]
        else:
            outcomes = list(pool.map(self._post, rows))
        if rows:
            # One transaction for the batch's outcomes: a commit per post was most of the
            # worker's time (SQLite syncs each commit). A crash before it posts them again.
            with self.db.session() as session:
                for row, outcome in zip(rows, outcomes, strict=True):
                    self._record(session, row, outcome)
        return len(rows)

    def _claim(self) -> list[Row[Any]]:
        now = self.now()
        c = TABLE.c
        with self.db.session() as session:
            stmt = (
                select(c.id, c.delivery_id, c.target, c.event, c.url, c.body, c.attempts)
                .where(c.state == State.PENDING.value, c.next_attempt_at <= now)
                .order_by(c.next_attempt_at, c.id)
                .limit(self.settings.batch)
            )
            rows: list[Row[Any]] = list(session.execute(stmt.with_for_update(skip_locked=True)))
            if rows:
                # Claimed: no other process takes them until the claim runs out (a crash).
                claimed = now + timedelta(seconds=self.settings.claim_seconds)
                ids = [r.id for r in rows]
                session.execute(update(TABLE).where(c.id.in_(ids)).values(next_attempt_at=claimed))
        return rows

    def _post(self, row: Row[Any]) -> Outcome:
        secret = self.outbox.secret_for(row.target)
        if not secret:
            return Outcome(False, None, f"no webhook secret configured for {row.target}")
        stamp = int(self.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "customs-gateway-webhooks/1",
            EVENT_HEADER: row.event,
            DELIVERY_HEADER: row.delivery_id,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: signature(secret, stamp, row.body),
        }
        try:
            check_url(row.url, "webhook url")
            with self.client.stream("POST", row.url, content=row.body, headers=headers) as resp:
                status = resp.status_code  # the body is never read: a receiver may send anything
        except (httpx.HTTPError, ConfigError) as exc:
            return Outcome(False, None, _one_line(exc))
        if 200 <= status < 300:
            return Outcome(True, status, None)
        if 300 <= status < 400:
            return Outcome(False, status, f"HTTP {status}: redirects are not followed")
        return Outcome(False, status, f"HTTP {status}")

    def _record(self, session: Session, row: Row[Any], outcome: Outcome) -> None:
        now = self.now()
        tries = row.attempts + 1
        kind = "ops" if row.target == OPS_TARGET else "enterprise"
        values: dict[str, Any] = {
            "attempts": tries,
            "last_attempt_at": now,
            "last_status": outcome.status,
            "last_error": outcome.error,
        }
        if outcome.delivered:
            values.update(state=State.DELIVERED.value, delivered_at=now)
            DELIVERIES.labels(kind, "delivered").inc()
        elif tries >= self.settings.max_attempts:
            values.update(state=State.DEAD.value, dead_at=now)
            DELIVERIES.labels(kind, "dead").inc()
            log.warning(
                "webhook delivery %s to %s dead after %d tries: %s",
                row.delivery_id, row.target, tries, outcome.error,
            )  # fmt: skip
        else:
            wait = backoff(
                tries, self.settings.backoff_seconds, self.settings.backoff_max_seconds, self.rand
            )
            values.update(next_attempt_at=now + timedelta(seconds=wait))
            DELIVERIES.labels(kind, "failed").inc()
        session.execute(update(TABLE).where(TABLE.c.id == row.id).values(**values))


def _one_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


# --- ops: listing and replay -----------------------------------------------------------------


def listing(
    session: Session, state: State | None = State.DEAD, limit: int = 100
) -> list[dict[str, Any]]:
    """Deliveries in `state` (newest first), without their bodies' secrets (there are none:
    the body is the notification; the signature is made at each post)."""
    c = TABLE.c
    stmt = select(WebhookDelivery).order_by(c.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(c.state == state.value)
    return [_row_dict(r) for r in session.scalars(stmt)]


def _row_dict(row: WebhookDelivery) -> dict[str, Any]:
    at = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "id": row.id,
        "delivery_id": row.delivery_id,
        "target": row.target,
        "event": row.event,
        "url": row.url,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created_at": at(row.created_at),
        "last_attempt_at": at(row.last_attempt_at),
        "dead_at": at(row.dead_at),
        "delivered_at": at(row.delivered_at),
    }


def counts(session: Session) -> dict[str, int]:
    """Deliveries by state (pending, delivered, dead)."""
    rows = session.execute(select(TABLE.c.state, func.count()).group_by(TABLE.c.state))
    found = {state: int(n) for state, n in rows}
    return {s.value: found.get(s.value, 0) for s in State}


def replay(db: Database, ids: Iterable[int], who: str) -> dict[str, list[int]]:
    """Dead deliveries back to pending, due now, their tries counted afresh (audited as
    `webhooks.replay`). Ids that are not dead are listed under `refused`."""
    wanted = sorted(set(ids))
    if not wanted:
        raise InvalidInput("ids: name at least one dead webhook delivery")
    target = ",".join(map(str, wanted))[:300]
    with audit.audited(db, who, "webhooks.replay", target) as action:
        with db.session() as session:
            c = TABLE.c
            dead = set(
                session.scalars(select(c.id).where(c.id.in_(wanted), c.state == State.DEAD.value))
            )
            if dead:
                session.execute(
                    update(TABLE)
                    .where(c.id.in_(dead), c.state == State.DEAD.value)
                    .values(
                        state=State.PENDING.value,
                        attempts=0,
                        next_attempt_at=utcnow(),
                        dead_at=None,
                    )
                )
        result = {"replayed": sorted(dead), "refused": [i for i in wanted if i not in dead]}
        action.detail = result
        if result["refused"]:
            action.outcome = audit.PARTIAL if dead else audit.UNCHANGED
    return result


# --- command line: `customs-gateway ops webhooks …` ------------------------------------------


@click.group("webhooks")
def cli() -> None:
    """Webhook deliveries: dead ones, and replaying them (docs/webhooks.md)."""


def _database(ctx: click.Context) -> Database:
    from gateway.core import config as config_mod
    from gateway.core.db import Database

    cfg = config_mod.load((ctx.find_root().obj or {}).get("config_path"))
    return Database(cfg.database_url, cfg.database)


@cli.command("dead")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per delivery")
@click.pass_context
def dead_command(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Deliveries that failed every try, newest first."""
    db = _database(ctx)
    try:
        with db.session() as session:
            rows = listing(session, State.DEAD, limit)
    finally:
        db.dispose()
    for r in rows:
        if as_json:
            click.echo(json.dumps(r, ensure_ascii=False))
        else:
            click.echo(
                f"{r['id']:>8}  {r['target']:<22} {r['event']:<15} x{r['attempts']}"
                f"  died {(r['dead_at'] or '?')[:19]}  {r['last_error'] or ''}"
            )
    click.echo(f"{len(rows)} dead webhook deliver{'y' if len(rows) == 1 else 'ies'}")


@cli.command("replay")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.pass_context
def replay_command(ctx: click.Context, ids: tuple[int, ...]) -> None:
    """Post dead deliveries IDS again (same body, same delivery id; audited)."""
    db = _database(ctx)
    try:
        result = replay(db, ids, audit.cli_actor())
    finally:
        db.dispose()
    click.echo(json.dumps(result))
    if result["refused"]:
        raise SystemExit(1)
