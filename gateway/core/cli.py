"""`customs-gateway` — the command line (click)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from gateway.core import config as config_mod
from gateway.core import tables
from gateway.core.config import Config
from gateway.errors import GatewayError, InvalidMessage

log = logging.getLogger("gateway")


def _setup_logging(verbose: bool, json_logs: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    if json_logs:
        from gateway.core.logs import install_json

        install_json(level)
    else:
        logging.basicConfig(
            level=level, format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
        )
    for noisy in ("pika", "alembic", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not verbose:
        # pika logs every failed connection attempt as several ERRORs with a traceback, and a
        # passive declare of a queue not made yet as a WARNING: the gateway's own lines say
        # what failed and what it does about it ("broker not ready; retrying", a one-line
        # error); -v shows pika's too (issue 17, item 6)
        logging.getLogger("pika").setLevel(logging.CRITICAL)


class SystemsGroup(click.Group):
    """The core's commands and the installed business systems' (`BusinessSystem.commands`),
    those of the systems the configuration adds included."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._systems(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._systems(ctx).get(cmd_name)

    def _systems(self, ctx: click.Context) -> dict[str, click.Command]:
        from gateway.core import registry

        extra: tuple[str, ...] = ()
        # No readable config: the shipped systems; the command itself will say why.
        with contextlib.suppress(GatewayError):
            extra = config_mod.load(ctx.params.get("config_path")).systems
        try:
            installed = registry.ensure_installed(extra)
        except Exception as exc:  # noqa: BLE001 - `--help` lists commands outside invoke
            log.debug("installing the business systems failed", exc_info=exc)
            raise click.ClickException(f"business systems: {describe_failure(exc)}") from exc
        return {c.name or "": c for s in installed.systems.values() for c in s.commands}

    def invoke(self, ctx: click.Context) -> Any:
        """Every command's failure as one line naming what to do, never a raw traceback
        (issue 17, item 6); `-v` logs the traceback for a developer."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place every command's errors end
            log.debug("command failed", exc_info=exc)
            raise click.ClickException(describe_failure(exc)) from exc


def describe_failure(exc: BaseException) -> str:
    """One line for an error a command did not handle itself: what failed and what to do."""
    from pika.adapters.utils.connection_workflow import AMQPConnectorException
    from pika.exceptions import AMQPError
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, GatewayError):
        return exc.message
    if isinstance(exc, AMQPError | AMQPConnectorException):
        return (
            f"RabbitMQ: {type(exc).__name__} {exc}: is it running (bash scripts/setup.sh)"
            " and amqp.url right?"
        )
    if isinstance(exc, OperationalError):
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        return (
            f"the database did not answer or is not set up ({reason}): check database.url"
            " and run `customs-gateway db upgrade`"
        )
    if isinstance(exc, DBAPIError):
        return f"the database refused: {str(exc.orig).splitlines()[0]}"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"unexpected {type(exc).__name__}: {text} (run with -v for the traceback)"


@click.group(cls=SystemsGroup)
@click.version_option(package_name="customs-gateway", prog_name="customs-gateway")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="config file (default: $CUSTOMS_GATEWAY_CONFIG or ./config.yaml of the repo)",
)
@click.option("-v", "--verbose", is_flag=True)
@click.option(
    "--json-logs",
    is_flag=True,
    envvar="CUSTOMS_GATEWAY_JSON_LOGS",
    help="one JSON object per log line, with the record ids ($CUSTOMS_GATEWAY_JSON_LOGS=1)",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool, json_logs: bool) -> None:
    """Customs EDI gateway: validate, store, sign and queue declarations; track receipts."""
    _setup_logging(verbose, json_logs)
    ctx.obj = {"config_path": config_path}


def _config(ctx: click.Context) -> Config:
    return config_mod.load(ctx.obj["config_path"])


def _print_violations(name: str, exc: InvalidMessage) -> None:
    click.echo(f"{name}: REFUSED — {len(exc.violations)} violation(s)")
    for v in exc.violations:
        click.echo(f"  {v}")


@main.command()
@click.option("--schema-only", is_flag=True, help="check the XSD alone (R-COM-1)")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def validate(schema_only: bool, files: tuple[str, ...]) -> None:
    """Validate FILES against the XSD (and business rules unless --schema-only)."""
    sys.exit(_check_files(files, schema_only=schema_only))


@main.command()
@click.option(
    "--at",
    "at_time",
    default=None,
    help="evaluate as if submitted at TIME (ISO or YYYYMMDDhhmmss, Beijing time; default now);"
    " rules needing the store (appointments, temporary goods) read the database, rolled back",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def check(ctx: click.Context, at_time: str | None, files: tuple[str, ...]) -> None:
    """XSD and business rules, storing nothing; each violation with its rule id. A kind whose
    rules read the store (appointments, temporary goods) is checked against it as of --at
    (default now): without it, the XSD alone would pass what intake refuses."""
    from gateway.core.dryrun import check_files

    sys.exit(check_files(functools.cache(lambda: _migrated(ctx)), files, at_time or "now"))


def _migrated(ctx: click.Context) -> Config:
    """The configuration, its database brought to the newest schema first (as `serve` does):
    `check --at` works on a fresh clone; it still stores no record."""
    from gateway.core.db import Database
    from gateway.core.migrate import upgrade

    cfg = _config(ctx)
    db = Database(cfg.database_url)
    try:
        upgrade(db)
    finally:
        db.dispose()
    return cfg


def _check_files(files: tuple[str, ...], *, schema_only: bool) -> int:
    from gateway.core.intake import check as check_message

    failed = 0
    for name in files:
        try:
            data = Path(name).read_bytes()
            customs_side = _customs_side_type(data) if schema_only else None
            if customs_side is not None:  # receipts, CEB792: XSD only, never declared
                click.echo(f"{name}: OK ({customs_side}, schema only)")
                continue
            checked = check_message(data, schema_only=schema_only)
        except InvalidMessage as exc:
            _print_violations(name, exc)
            failed += 1
            continue
        click.echo(f"{name}: OK ({checked.kind.message_type}, {len(checked.records)} record(s))")
    return 1 if failed else 0


def _customs_side_type(data: bytes) -> str | None:
    """The type of a message customs sends (a receipt, CEB792, a DxpMsg) after checking it
    against its XSD, or None for a declaration, which goes through intake's check."""
    from gateway import xmlsafe
    from gateway.core import registry
    from schemas import loader as schemas

    root = xmlsafe.parse(data).getroot()
    mtype = schemas.message_type(root)
    if registry.for_message(mtype) is not None or mtype not in schemas.known_message_types():
        return None
    violations = schemas.validate(root, mtype)
    if violations:
        raise InvalidMessage(violations)
    return mtype


@main.command()
@click.option("--enterprise", default=None, help="enterprise code (default: config's default)")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def sign(ctx: click.Context, enterprise: str | None, file: str) -> None:
    """Print FILE signed with the enterprise's key (nothing is stored or sent)."""
    from gateway import xmlsafe
    from gateway.core.runtime import ensure_test_keys
    from gateway.core.signing import load_key_config
    from signers import sign as xml_sign

    cfg = _config(ctx)
    ensure_test_keys(cfg)
    key, suite = load_key_config(cfg.enterprise(enterprise).key, cfg.sign_algorithms)
    root = xmlsafe.parse(Path(file).read_bytes()).getroot()
    sys.stdout.buffer.write(xml_sign(root, key, suite))


@main.command()
@click.option("--enterprise", default=None, help="enterprise code (default: config's default)")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def submit(ctx: click.Context, enterprise: str | None, files: tuple[str, ...]) -> None:
    """Submit FILES into the gateway's store; a running `serve` signs and sends them."""
    from gateway.core.runtime import Gateway

    cfg = _config(ctx)
    code = cfg.enterprise(enterprise).code
    gw = Gateway(cfg)
    gw.prepare(broker=False)
    failed = 0
    for name in files:
        try:
            result = gw.intake.submit(code, Path(name).read_bytes(), "cli")
        except InvalidMessage as exc:
            _print_violations(name, exc)
            failed += 1
            continue
        click.echo(f"{name}: " + json.dumps(result.as_dict(), ensure_ascii=False))
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("doc_id", type=int)
@click.option("--last", default=20, show_default=True, help="the newest history entries shown")
@click.option("--json", "as_json", is_flag=True, help="the record as JSON (times in UTC, zoned)")
@click.pass_context
def status(ctx: click.Context, doc_id: int, last: int, as_json: bool) -> None:
    """Show document DOC_ID with the newest entries of its status history."""
    from gateway.core import queries
    from gateway.core.db import Database
    from gateway.core.enterprises import Caller

    db = Database(_config(ctx).database_url)
    admin = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
    try:
        with db.session() as session:
            view = queries.document_view(session, admin, doc_id, history_last=last)
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        tables.echo_json(view)
        return
    _print_document(view)


def _print_document(view: dict[str, Any]) -> None:
    click.echo(
        f"document {view['id']}  {view['kind']}  {view['business_key']}  "
        f"pre-entry {view['pre_no']}  status {view['status'].upper()}"
    )
    if view["customs_numbers"]:
        click.echo(f"customs numbers: {view['customs_numbers']}")
    total, shown = view.get("history_total", 0), len(view["history"])
    rows = [
        (
            tables.beijing(h["at"]),
            h["source"],
            h["from"] or "(new)",
            h["to"],
            h["return_status"] or "",
            (h["info"] or "") + ("" if h["applied"] else " (not applied)"),
        )
        for h in view["history"]
    ]
    tables.table(("at (Beijing)", "source", "from", "to", "code", "info"), rows)
    if total > shown:
        click.echo(f"{shown} of {total} history entries shown (status --last N for more)")


@main.command()
@click.argument("message_id", type=int)
@click.pass_context
def retry(ctx: click.Context, message_id: int) -> None:
    """Put a message that failed to sign back in the signing queue."""
    from gateway.core import audit
    from gateway.core.runtime import Gateway

    gw = Gateway(_config(ctx))
    target = f"message:{message_id}"
    with audit.audited(gw.db, audit.cli_actor(), "message.retry", target) as done:
        done.requeued(gw.signer.retry(message_id))
    requeued = done.outcome == audit.OK
    click.echo(f"message {message_id}: {'requeued' if requeued else 'not in signing_failed'}")


@main.command()
@click.option(
    "--outcome",
    default="unmatched",
    # future: stamped too far ahead; untrusted: not from customs (docs/security-broker.md)
    type=click.Choice(
        ["unmatched", "partly_matched", "unreadable", "matched", "future", "untrusted"]
    ),
)
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line, parsed receipt too")
@click.pass_context
def receipts(ctx: click.Context, outcome: str, as_json: bool) -> None:
    """List receipts kept for ops: those that matched no record, could not be read, were
    stamped too far in the future, or did not come from customs."""
    from gateway.core import queries
    from gateway.core.db import Database

    db = Database(_config(ctx).database_url)
    with db.session() as session:
        rows = queries.receipts_by_outcome(session, outcome)
    if as_json:
        tables.echo_json(rows, lines=True)
        return
    shown = [
        (r["id"], tables.beijing(r["received_at"]), r["msg_type"], r["cop_msg_id"], r["error"])
        for r in rows
    ]
    tables.table(("id", "received (Beijing)", "type", "CopMsgId", "reason"), shown, right=("id",))
    click.echo(f"{len(rows)} receipt(s) {outcome}")


@main.command()
@click.option("--host", default=None, help="address to listen on (default: http.host, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port (default: http.port; 0: any free)")
@click.option("--no-http", is_flag=True, help="run the workers without the HTTP API")
@click.option(
    "--no-workers",
    is_flag=True,
    help="run the HTTP API (intake) alone; `serve --no-http` processes sign and send",
)
@click.option(
    "--workers",
    "http_processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="HTTP processes sharing the port; more than 1 (or --pipelines > 1) makes this "
    "process a supervisor of the others (gateway/core/serving.py)",
)
@click.option(
    "--pipelines",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="processes running the workers (signing, relay, receipts) when supervised",
)
@click.option(
    "--poll",
    type=float,
    default=0.5,
    show_default=True,
    help="seconds between looks for work to sign or send when nothing wakes the workers",
)
@click.option("--http-fd", type=int, default=None, hidden=True)  # a supervised HTTP process
@click.option("--wake-fd", type=int, default=None, hidden=True)  # a supervised worker process
@click.option("--ring-fds", default="", hidden=True)  # its HTTP siblings' doorbells (doorbell.py)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    no_http: bool,
    no_workers: bool,
    http_processes: int,
    pipelines: int,
    poll: float,
    http_fd: int | None,
    wake_fd: int | None,
    ring_fds: str,
) -> None:
    """Run the gateway: HTTP API, signing, outbox relay, receipts, inbound queue, folder;
    in one process, or with --workers/--pipelines in several."""
    from gateway.core import serving

    cfg = _config(ctx)
    layout = serving.Layout(
        host=host or cfg.http.host,
        port=cfg.http.port if port is None else port,
        http=not no_http,
        workers=not no_workers,
        http_processes=http_processes,
        pipelines=pipelines,
        poll=poll,
        http_fd=http_fd,
        wake_fd=wake_fd,
        ring_fds=tuple(int(fd) for fd in ring_fds.split(",") if fd),
        cli_flags=_global_flags(ctx),
    )
    serving.run(cfg, ctx.obj.get("config_path"), layout)


@main.command("customs-sim")
@click.pass_context
def customs_sim(ctx: click.Context) -> None:
    """Run the simulated customs service (a separate process with its own state)."""
    from gateway.core.customs_sim.run import run_forever

    stop = threading.Event()
    _stop_on_signals(stop)
    run_forever(_config(ctx), stop)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the Alembic migrations up to the newest."""
    from gateway.core.db import Database
    from gateway.core.migrate import upgrade

    upgrade(Database(_config(ctx).database_url))
    click.echo("database at head")


def _global_flags(ctx: click.Context) -> tuple[str, ...]:
    params = ctx.find_root().params
    return (
        *(["-v"] if params.get("verbose") else []),
        *(["--json-logs"] if params.get("json_logs") else []),
    )


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _add_ops() -> None:
    from gateway.core.alerts import alerts_command
    from gateway.core.ops import cli as ops_cli  # heavier imports (FastAPI, pika): only here
    from gateway.core.webhooks import cli as webhooks_cli

    ops_cli.add_command(webhooks_cli)  # ops webhooks dead|replay (docs/webhooks.md)
    ops_cli.add_command(alerts_command)  # ops alerts (docs/alerts.md)
    main.add_command(ops_cli)
    main.add_command(config_mod.config_cli)  # config check (docs/configuration.md)


_add_ops()


def _add_admin() -> None:
    from gateway.core.admin import COMMANDS  # delegations, keys, audit

    for command in COMMANDS:
        main.add_command(command)


_add_admin()


# IC cards (gateway/cards.py): customs-gateway cards.
def _add_card_commands() -> None:
    from gateway.core.cards import cards_command

    main.add_command(cards_command)


_add_card_commands()
from gateway.core.console.cli import console_user  # noqa: E402 - the ops console's users

main.add_command(console_user)


if __name__ == "__main__":
    main()
