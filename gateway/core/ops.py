"""Tools for ops when things fail: queue depths, dead letters, stuck records (CLI and API).

Queue depths and consumer counts come from a passive `queue_declare`, which answers both
without touching the queue. Dead letters wait in `<queue>.dead` (see transports/topology.py)
with the broker's `x-death` header saying why (`rejected`: a handler refused the message;
`delivery_limit`: it failed on every delivery; `expired`) and where the message was first
published. They are read with `basic_get` and left unacknowledged, so listing changes
nothing: the ones not acted on go back to the queue when the channel closes. A replay
re-publishes the original body and properties straight to the queue the letter died in (the
default exchange, routing key = that queue), as the broker's own `x-death` record names it,
waits for the broker's confirm, and only then acks the dead letter — a crash in between
replays it twice, which receivers absorb (CopMsgId / message_id deduplication), and never
loses it. Never where the message's own headers say: anyone who can publish can write those
(a forged `x-gateway-original-exchange: ceb.receipts` turned a replay into a receipt).

Every API route here needs an admin key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import click
import pika
from fastapi import APIRouter, Depends, Query, Request
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker, NackError, UnroutableError
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core import audit, enterprises, queries, registry, tables
from gateway.core.api_key import ApiKey
from gateway.core.config import Config
from gateway.core.models import Document, Outbox, utcnow
from gateway.core.status import Status, status_of
from gateway.errors import AccessDenied, GatewayError, NotFound, TransportError
from transports.consumer import (
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    RETRY_HEADER,
    republished,
)
from transports.publisher import close_quietly, connection_parameters
from transports.topology import Topology

if TYPE_CHECKING:
    from gateway.core.db import Database

NOT_FOUND = 404
#: how long an ops tool waits for the broker's handshake
HANDSHAKE_SECONDS = 60.0
#: headers the broker or the retry path added; a replay starts the message's life afresh
_DEATH_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue",
                  "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
                  "x-last-death-reason", "x-delivery-count", RETRY_HEADER,
                  ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER)  # fmt: skip
#: states in which the gateway or customs, not the enterprise, must move a record on
IN_FLIGHT = (
    Status.PENDING_SIGN, Status.SIGNING_FAILED, Status.SIGNED, Status.SENT, Status.SEND_FAILED,
    Status.EPORT_SAVED, Status.DECLARING, Status.SENT_TO_CUSTOMS,
)  # fmt: skip


# --- queues ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStats:
    queue: str
    messages: int | None  # None: the queue does not exist
    consumers: int | None
    dead_letters: int | None


def watched_queues(config: Config, topology: Topology) -> list[str]:
    """The consuming queues of this deployment (their `.dead` queues go with them)."""
    queues = [b.queue for b in topology.bindings]
    return queues + [topology.notify_queue(e.code) for e in config.enterprises]


@contextmanager
def _channel(config: Config, name: str = "gateway-ops") -> Iterator[_Channels]:
    """One broker connection; a broker that does not answer, or a queue that does not exist
    yet, is a one-line error naming it, never pika's traceback (issue 17, item 6)."""
    params = connection_parameters(config.amqp.url, name)
    # pika's 15 s for the whole handshake failed an ops tool on a busy machine; a broker that
    # is down still refuses at once
    params.stack_timeout = HANDSHAKE_SECONDS
    try:
        connection = pika.BlockingConnection(params)
    except (AMQPConnectionError, AMQPConnectorException) as exc:
        raise TransportError(
            f"RabbitMQ at {params.host}:{params.port} did not answer ({type(exc).__name__}):"
            " start it (bash scripts/setup.sh) or check amqp.url"
        ) from exc
    try:
        yield _Channels(connection)
    except ChannelClosedByBroker as exc:
        if exc.reply_code != NOT_FOUND:
            raise TransportError(f"the broker refused: {exc.reply_text}") from exc
        raise NotFound(_missing_queue(exc.reply_text)) from exc
    finally:
        close_quietly(connection)


def _missing_queue(reply: str) -> str:
    """The broker's 404 text ("NOT_FOUND - no queue 'x' in vhost '/'") as advice."""
    name = reply.split("'")[1] if reply.count("'") >= 2 else reply
    return (
        f"queue {name} does not exist yet: start `customs-gateway serve` once"
        " (it declares the queues)"
    )


class _Channels:
    """One connection; a fresh channel after the broker closed one (404 on a passive declare)."""

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self.connection = connection
        self.channel = connection.channel()

    def counts(self, queue: str) -> tuple[int, int] | None:
        try:
            ok = self.channel.queue_declare(queue, passive=True).method
        except ChannelClosedByBroker as exc:
            if exc.reply_code != NOT_FOUND:
                raise
            self.channel = self.connection.channel()
            return None
        return ok.message_count, ok.consumer_count


def queue_stats(config: Config, topology: Topology) -> list[QueueStats]:
    """Ready messages and consumers of every consuming queue, and its dead letters."""
    out = []
    with _channel(config) as ch:
        for queue in watched_queues(config, topology):
            live, dead = ch.counts(queue), ch.counts(topology.dead_queue(queue))
            out.append(
                QueueStats(
                    queue,
                    live[0] if live else None,
                    live[1] if live else None,
                    dead[0] if dead else None,
                )
            )
    return out


def resolve_queue(config: Config, topology: Topology, name: str) -> str:
    """A consuming queue by its full name or its name without the deployment prefix."""
    known = watched_queues(config, topology)
    for queue in known:
        if name in (queue, queue.removeprefix(topology.prefix)):
            return queue
    raise NotFound(f"no consuming queue {name!r} (known: {', '.join(known)})")


# --- dead letters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter: why it died, where it came from, and the original message."""

    id: str  # the message_id, or a digest of the body when the publisher set none
    queue: str  # the queue it died in
    reason: str  # rejected / delivery_limit / expired / maxlen
    exchange: str  # where it was published, as the broker's x-death says (a replay goes to `queue`)
    routing_key: str
    deaths: int  # how many times it died (replayed letters can die again)
    died_at: str | None
    content_type: str | None
    headers: dict[str, Any] = field(default_factory=dict)
    body: str = ""  # UTF-8 text, or base64 when the body is not text
    body_encoding: str = "utf-8"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death") or []
    return dict(deaths[0]) if deaths and isinstance(deaths[0], dict) else {}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _origin(death: dict[str, Any]) -> tuple[str, str]:
    # The broker's record only: the message's own headers come from whoever published it.
    # (A classic queue's retry copy went through the default exchange: "" and the queue.)
    keys = death.get("routing-keys") or [""]
    return _text(death.get("exchange", "")), _text(keys[0])


def _letter(props: pika.BasicProperties, body: bytes) -> DeadLetter:
    headers = dict(props.headers or {})
    death = _death(headers)
    exchange, routing_key = _origin(death)
    try:
        text, encoding = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(body).decode("ascii"), "base64"
    died = death.get("time")
    return DeadLetter(
        id=props.message_id or "sha256:" + hashlib.sha256(body).hexdigest()[:32],
        queue=_text(death.get("queue", "")),
        reason=_text(death.get("reason", "unknown")),
        exchange=exchange,
        routing_key=routing_key,
        deaths=int(death.get("count", 1) or 1),
        died_at=died.isoformat() if isinstance(died, datetime) else None,
        content_type=props.content_type,
        headers={k: _shown(k, v) for k, v in headers.items() if k not in _DEATH_HEADERS},
        body=text,
        body_encoding=encoding,
    )


#: headers that once carried secrets (older AMQP clients sent their API key): letters still in
#: the `.dead` queues may hold one, and ops must never see it (issue 11, finding 7)
SECRET_HEADERS = frozenset({"x-api-key", "authorization"})
REDACTED = "[redacted]"


def _shown(name: str, value: Any) -> Any:
    return REDACTED if name.lower() in SECRET_HEADERS else _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass
class _Held:
    tag: int
    props: pika.BasicProperties
    body: bytes
    letter: DeadLetter


def _hold(channel: BlockingChannel, dead_queue: str, limit: int) -> list[_Held]:
    """Take up to `limit` dead letters without acking them (they return if not acted on)."""
    held: list[_Held] = []
    while len(held) < limit:
        method, props, body = channel.basic_get(dead_queue, auto_ack=False)
        if method is None:
            break
        held.append(_Held(method.delivery_tag, props, body, _letter(props, body)))
    return held


def list_dead_letters(
    config: Config, topology: Topology, queue: str, limit: int = 100
) -> list[DeadLetter]:
    """The dead letters of `queue`, oldest first; nothing is removed."""
    dead = topology.dead_queue(resolve_queue(config, topology, queue))
    with _channel(config) as ch:
        letters = [h.letter for h in _hold(ch.channel, dead, limit)]
        _give_back(ch.channel)
        return letters


def _give_back(channel: BlockingChannel) -> None:
    """Return every letter held and not acted on (closing the channel would too, later)."""
    channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)


@dataclass(frozen=True)
class DeadLetterAction:
    action: str  # replayed / discarded
    queue: str
    done: list[str]
    missing: list[str]  # ids asked for that are not (or no longer) in the dead-letter queue
    #: ids left in the dead-letter queue because the broker's x-death names another queue
    #: than this one (published into `.dead` by hand, not dead-lettered from here)
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recorded(
    db: Database, who: str, action: str, queue: str, act: Callable[[], DeadLetterAction]
) -> DeadLetterAction:
    """A replay or discard, entered in the audit log with what it did (gateway/core/audit.py)."""
    with audit.audited(db, who, action, queue) as done:
        result = act()
        done.detail = {"queue": result.queue, "done": result.done, "missing": result.missing}
        done.outcome = audit.PARTIAL if result.missing else audit.OK
    return result


def replay_dead_letters(
    config: Config, topology: Topology, queue: str, ids: Sequence[str] | None
) -> DeadLetterAction:
    """Re-publish the chosen dead letters (None: all) to the queue they died in."""
    return _act(config, topology, queue, ids, replay=True)


def discard_dead_letters(
    config: Config, topology: Topology, queue: str, ids: Sequence[str] | None
) -> DeadLetterAction:
    """Drop the chosen dead letters (None: all) for good."""
    return _act(config, topology, queue, ids, replay=False)


MAX_BATCH = 10_000


def _act(
    config: Config, topology: Topology, queue: str, ids: Sequence[str] | None, *, replay: bool
) -> DeadLetterAction:
    name = resolve_queue(config, topology, queue)
    wanted = None if ids is None else set(ids)
    done: list[str] = []
    refused: list[str] = []
    with _channel(config) as ch:
        channel = ch.channel
        channel.confirm_delivery()  # a replay is acked only once the broker has the copy
        for held in _hold(channel, topology.dead_queue(name), MAX_BATCH):
            if wanted is not None and held.letter.id not in wanted:
                continue  # not chosen: back to the queue when the channel closes
            if replay and held.letter.queue != name:
                refused.append(held.letter.id)  # stays: it did not die in this queue
                continue
            if replay:
                _republish(channel, held, name, config.amqp.user)
            channel.basic_ack(held.tag)
            done.append(held.letter.id)
        _give_back(channel)
    missing = sorted(wanted - set(done) - set(refused)) if wanted is not None else []
    action = "replayed" if replay else "discarded"
    return DeadLetterAction(action, name, done, missing, refused)


def _republish(channel: BlockingChannel, held: _Held, queue: str, user: str) -> None:
    """Straight into `queue` (the default exchange routes by queue name), nowhere else."""
    # As our own broker user (the broker refuses another's user_id), naming the original one.
    props = republished(held.props, user)
    headers = {k: v for k, v in (props.headers or {}).items() if k not in _DEATH_HEADERS}
    # The consumer shows its handler the origin these headers name: the broker's record.
    headers[ORIGINAL_EXCHANGE_HEADER] = held.letter.exchange
    headers[ORIGINAL_ROUTING_KEY_HEADER] = held.letter.routing_key or queue
    props.headers = headers
    letter = held.letter
    try:
        channel.basic_publish("", queue, held.body, props, mandatory=True)
    except (UnroutableError, NackError) as exc:
        # Nothing is acked: this letter and every one held with it go back to the queue.
        raise TransportError(
            f"replay of {letter.id} to queue {queue!r} refused: "
            f"{type(exc).__name__}; the dead letters stay where they are"
        ) from exc


# --- stuck records ---------------------------------------------------------------------------


def stuck_records(
    session: Session,
    older_than: timedelta,
    statuses: Sequence[str] | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """Records unchanged for longer than `older_than` in a state someone else must move on
    (by default the in-flight states), and outbox rows not yet published for as long."""
    wanted = [_status(s) for s in statuses] if statuses else [s.value for s in IN_FLIGHT]
    before = utcnow() - older_than
    stmt = (
        select(Document)
        .where(Document.status.in_(wanted), Document.updated_at < before)
        .order_by(Document.updated_at)
    )
    rows = [d for d in session.scalars(stmt.limit(limit)) if not _final(d)]
    unsent = select(func.count()).where(Outbox.sent_at.is_(None), Outbox.created_at < before)
    return {
        "older_than_seconds": int(older_than.total_seconds()),
        "statuses": wanted,
        "records": [_stuck(d) for d in rows],
        "outbox_unsent": session.scalar(unsent) or 0,
    }


def _status(name: str) -> str:
    try:
        return Status(name).value
    except ValueError:
        raise NotFound(f"no status {name!r} (known: {', '.join(Status)})") from None


def _final(doc: Document) -> bool:
    kind = registry.kind(doc.kind)
    return kind is not None and kind.is_final(status_of(doc.status))


def _stuck(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "enterprise_id": doc.enterprise_id,
        "kind": doc.kind,
        "business_key": doc.business_key,
        "status": doc.status,
        "since": queries.zoned(doc.updated_at).isoformat(),
        "status_info": doc.status_info,
    }


# --- HTTP API (admin only) -------------------------------------------------------------------


def _admin(request: Request, x_api_key: ApiKey = None) -> Request:
    with request.app.state.gateway.db.session() as session:
        caller = enterprises.authenticate(session, x_api_key)
    if not caller.is_admin:
        raise AccessDenied("ops tools need an admin key")
    request.state.caller = caller  # who acts, for the audit log
    return request


Admin = Annotated[Request, Depends(_admin)]


class Selection(BaseModel):
    """Which dead letters to act on: `ids`, or `all: true`."""

    ids: list[str] = []
    all: bool = False


def _chosen(selection: Selection) -> list[str] | None:
    if selection.all:
        return None
    if not selection.ids:
        raise NotFound("name the dead letters to act on (ids), or set all: true")
    return selection.ids


def router() -> APIRouter:
    """`/v1/ops/...`: queues, dead letters, stuck records. Every route needs an admin key."""
    api = APIRouter(prefix="/v1/ops", tags=["ops"])

    def gw(request: Request) -> Any:
        return request.app.state.gateway

    @api.get("/queues")
    def queues(request: Admin) -> list[dict[str, Any]]:
        g = gw(request)
        return [asdict(s) for s in queue_stats(g.config, g.topology)]

    @api.get("/dead-letters/{queue}")
    def dead_letters(
        request: Admin, queue: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        g = gw(request)
        return [d.as_dict() for d in list_dead_letters(g.config, g.topology, queue, limit)]

    @api.post("/dead-letters/{queue}/replay")
    def replay(request: Admin, queue: str, selection: Selection) -> dict[str, Any]:
        g, who = gw(request), audit.actor(request.state.caller)
        act = partial(replay_dead_letters, g.config, g.topology, queue, _chosen(selection))
        return recorded(g.db, who, "dead_letters.replay", queue, act).as_dict()

    @api.post("/dead-letters/{queue}/discard")
    def discard(request: Admin, queue: str, selection: Selection) -> dict[str, Any]:
        g, who = gw(request), audit.actor(request.state.caller)
        act = partial(discard_dead_letters, g.config, g.topology, queue, _chosen(selection))
        return recorded(g.db, who, "dead_letters.discard", queue, act).as_dict()

    @api.get("/stuck")
    def stuck(
        request: Admin,
        older_than: Annotated[int, Query(ge=0, le=MAX_AGE_SECONDS, description="seconds")] = 600,
        status: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        with gw(request).db.session() as session:
            return stuck_records(session, timedelta(seconds=older_than), status)

    return api


# --- command line ----------------------------------------------------------------------------


@click.group("ops")
def cli() -> None:
    """Ops tools: queue depths, dead letters (list, replay, discard), stuck records."""


def _loaded(ctx: click.Context) -> tuple[Config, Topology]:
    from gateway.core import config as config_mod
    from gateway.core.config import topology_for

    cfg = config_mod.load((ctx.find_root().obj or {}).get("config_path"))
    return cfg, topology_for(cfg)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, default=str))


_JSON = click.option("--json", "as_json", is_flag=True, help="JSON for scripts")


@cli.command("queues")
@_JSON
@click.pass_context
def queues_command(ctx: click.Context, as_json: bool) -> None:
    """Ready messages, consumers and dead letters of every consuming queue ('-': the queue
    does not exist yet; `serve` declares them)."""
    cfg, topo = _loaded(ctx)
    stats = _guarded(lambda: queue_stats(cfg, topo))
    if as_json:
        tables.echo_json([asdict(s) for s in stats])
        return
    rows = [(s.queue, s.messages, s.consumers, s.dead_letters) for s in stats]
    numbers = ("ready", "consumers", "dead")
    tables.table(("queue", *numbers), rows, right=numbers)
    if any(s.messages is None for s in stats):
        click.echo("(-: not declared yet; `customs-gateway serve` declares the queues)")


@cli.command("dead-letters")
@click.argument("queue")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per letter, with body")
@click.pass_context
def dead_letters_command(ctx: click.Context, queue: str, limit: int, as_json: bool) -> None:
    """List the dead letters of QUEUE with the reason; nothing is removed."""
    cfg, topo = _loaded(ctx)
    letters = _guarded(lambda: list_dead_letters(cfg, topo, queue, limit))
    if as_json:  # one object a line on stdout; the count on stderr
        tables.echo_json([d.as_dict() for d in letters], lines=True)
        click.echo(f"{len(letters)} dead letter(s) in {queue}", err=True)
        return
    rows = [
        (d.id, d.reason, d.deaths, f"{d.exchange or '(default)'} / {d.routing_key}",
         tables.beijing(d.died_at), len(d.body))
        for d in letters
    ]  # fmt: skip
    columns = ("id", "reason", "deaths", "from", "died at (Beijing)", "chars")
    tables.table(columns, rows, right=("deaths", "chars"))
    click.echo(f"{len(letters)} dead letter(s) in {queue}")


def _selection(ids: tuple[str, ...], every: bool) -> list[str] | None:
    if every == bool(ids):
        raise click.UsageError("give dead-letter ids, or --all (not both)")
    return None if every else list(ids)


@cli.command("replay")
@click.argument("queue")
@click.argument("ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="every dead letter of QUEUE")
@click.pass_context
def replay_command(ctx: click.Context, queue: str, ids: tuple[str, ...], every: bool) -> None:
    """Re-publish dead letters of QUEUE back into QUEUE (where the broker says they died)."""
    cfg, topo = _loaded(ctx)
    chosen = _selection(ids, every)
    act = partial(replay_dead_letters, cfg, topo, queue, chosen)
    _echo_json(_guarded(lambda: _cli_recorded(cfg, "dead_letters.replay", queue, act)).as_dict())


@cli.command("discard")
@click.argument("queue")
@click.argument("ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="every dead letter of QUEUE")
@click.pass_context
def discard_command(ctx: click.Context, queue: str, ids: tuple[str, ...], every: bool) -> None:
    """Drop dead letters of QUEUE for good."""
    cfg, topo = _loaded(ctx)
    chosen = _selection(ids, every)
    act = partial(discard_dead_letters, cfg, topo, queue, chosen)
    _echo_json(_guarded(lambda: _cli_recorded(cfg, "dead_letters.discard", queue, act)).as_dict())


@cli.command("stuck")
@click.option("--older-than", default="10m", show_default=True, help="e.g. 90s, 10m, 2h, 1d")
@click.option("--status", "statuses", multiple=True, help="states to look at (default: in flight)")
@_JSON
@click.pass_context
def stuck_command(
    ctx: click.Context, older_than: str, statuses: tuple[str, ...], as_json: bool
) -> None:
    """Records unchanged in an in-flight state for longer than --older-than."""
    from gateway.core.db import Database

    cfg, _topo = _loaded(ctx)
    db = Database(cfg.database_url)
    with db.session() as session:
        found = _guarded(lambda: stuck_records(session, parse_age(older_than), statuses or None))
    if as_json:
        tables.echo_json(found)
        return
    rows = [
        (r["id"], r["kind"], r["business_key"], r["status"], tables.beijing(r["since"]))
        for r in found["records"]
    ]
    tables.table(("id", "kind", "business key", "status", "since (Beijing)"), rows, right=("id",))
    click.echo(
        f"{len(found['records'])} record(s) stuck; {found['outbox_unsent']} outbox row(s)"
        " unpublished"
    )


def _cli_recorded(
    cfg: Config, action: str, queue: str, act: Callable[[], DeadLetterAction]
) -> DeadLetterAction:
    from gateway.core.db import Database

    db = Database(cfg.database_url)
    try:
        return recorded(db, audit.cli_actor(), action, queue, act)
    finally:
        db.dispose()


#: the longest age `stuck` takes: ten years, far below what a time span can hold (a larger
#: value gave 500, issue 11 finding 13)
MAX_AGE_SECONDS = 10 * 365 * 86400


def parse_age(text: str) -> timedelta:
    """`90s`, `10m`, `2h`, `1d` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use e.g. 90s, 10m, 2h, 1d") from None
    if not 0 <= seconds <= MAX_AGE_SECONDS:  # nan fails both comparisons
        raise click.BadParameter(f"{text!r}: between 0 and {MAX_AGE_SECONDS // 86400} days")
    return timedelta(seconds=seconds)


T = TypeVar("T")


def _guarded(call: Callable[[], T]) -> T:
    try:
        return call()
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
