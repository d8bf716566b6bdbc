"""Command-line side of the export set's batch work and queries (added by `gateway.cli`).

    customs-gateway batch declare|delete ID…          (R-ECX-3, R-COM-2, R-COM-5)
    customs-gateway parcels KIND FILE.json            head + parcels, split and submitted
    customs-gateway export-query LIST [filters…]      R-COM-7: ≤ 1 calendar month

Each acts for one enterprise (`--enterprise`, default the config's), seeing its records only,
like an API key of that enterprise. A running `serve` signs and sends what is stored.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from gateway.core import tables
from gateway.core.enterprises import Caller
from gateway.errors import GatewayError, InvalidMessage

_ENTERPRISE = click.option(
    "--enterprise", default=None, help="enterprise code (default: the config's default)"
)


def _gateway(ctx: click.Context, enterprise: str | None) -> tuple[Any, Caller]:
    from gateway.core import config as config_mod
    from gateway.core.models import Enterprise
    from gateway.core.runtime import Gateway

    cfg = config_mod.load(ctx.find_root().obj["config_path"])
    code = cfg.enterprise(enterprise).code
    gw = Gateway(cfg)
    gw.prepare(broker=False)
    with gw.db.session() as session:
        ent_id = session.scalar(select(Enterprise.id).where(Enterprise.code == code))
    return gw, Caller(enterprise_id=ent_id, enterprise_code=code)


def _echo(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _fail(exc: GatewayError) -> None:
    if isinstance(exc, InvalidMessage):
        click.echo(f"REFUSED — {len(exc.violations)} violation(s)", err=True)
        for v in exc.violations:
            click.echo(f"  {v}", err=True)
    else:
        click.echo(f"ERROR: {exc.message}", err=True)
    sys.exit(1)


@click.command("batch")
@click.argument("action", type=click.Choice(["declare", "delete"]))
@click.argument("ids", nargs=-1, required=True, type=int)
@_ENTERPRISE
@click.pass_context
def batch(ctx: click.Context, action: str, ids: tuple[int, ...], enterprise: str | None) -> None:
    """Declare (appStatus 2) or delete (appType 3) the records IDS; one result per id."""
    from gateway.ecx import batches

    gw, caller = _gateway(ctx, enterprise)
    try:
        with tables.progress(f"{action} {len(ids)} record(s)"):
            report = batches.run(gw.intake, caller, action, list(ids), channel="cli")
    except GatewayError as exc:
        _fail(exc)
        return
    _echo(report.as_dict())
    sys.exit(0 if all(o.ok for o in report.outcomes) else 1)


@click.command("parcels")
@click.argument("kind", type=click.Choice(["arrival", "departure", "waybill_total"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_ENTERPRISE
@click.pass_context
def parcels_command(ctx: click.Context, kind: str, file: str, enterprise: str | None) -> None:
    """Split FILE ({"head": {...}, "parcels": [...]}) into messages and submit them."""
    from gateway.ecx import parcels

    gw, caller = _gateway(ctx, enterprise)
    try:
        body = json.loads(Path(file).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"{file}: not UTF-8 JSON ({exc})", param_hint="FILE") from exc
    if not isinstance(body, dict):
        raise click.BadParameter(f'{file}: {{"head": {{…}}, "parcels": […]}}', param_hint="FILE")
    per = gw.config.intake.parcels_per_message
    try:
        head, items = body.get("head") or {}, body.get("parcels") or []
        code = caller.enterprise_code or ""
        with tables.progress(f"{kind}: {len(items)} parcel(s) in parts of {per}"):
            result = parcels.submit(
                gw.intake, code, kind, head, items, per_message=per, channel="cli"
            )
    except GatewayError as exc:
        _fail(exc)
        return
    _echo(result.as_dict())
    sys.exit(0 if all(p.error is None for p in result.parts) else 1)


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None  # no zone: Beijing time
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or time") from None


@click.command("export-query")
@click.argument("name", metavar="LIST")
@click.option("--group", default="all", help="status group, e.g. unconcluded, concluded, closed")
@click.option(
    "--status",
    default=None,
    help="one business state (业务状态) of the group, e.g. returned, store_failed, sent",
)
@click.option(
    "--from",
    "entry_from",
    default=None,
    help="entry time from (ISO, Beijing; default: --to − 1 month)",
)
@click.option(
    "--to", "entry_to", default=None, help="entry time to (≤ 1 calendar month; default: now)"
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="FIELD=VALUE",
    help="copNo, coElNo, orderNo, logisticsNo, invtNo, tradeMode, statisticsFlag (A/B), "
    "customsCode, summaryState (unsummarised/declared/summarised), ebcCode, logisticsCode; "
    "repeatable",
)
@click.option("--page", default=1, show_default=True)
@click.option("--page-size", default=50, show_default=True)
@_ENTERPRISE
@click.pass_context
def export_query(
    ctx: click.Context,
    name: str,
    group: str,
    status: str | None,
    entry_from: str | None,
    entry_to: str | None,
    filters: tuple[str, ...],
    page: int,
    page_size: int,
    enterprise: str | None,
) -> None:
    """List an export LIST (inventories, b2b_lists, revokes, returns, tallies, summaries,
    arrivals, departures, waybill_totals, orders, waybills) by status group, business state
    within the group and entry time (R-COM-7)."""
    from gateway.ecx import queries as export_queries

    gw, caller = _gateway(ctx, enterprise)
    match = dict(f.split("=", 1) for f in filters if "=" in f)
    flt = export_queries.ExportFilter(
        group, _time(entry_from), _time(entry_to), match, page, page_size, status
    )
    try:
        with gw.db.session() as session:
            _echo(export_queries.search(session, caller, name, flt))
    except GatewayError as exc:
        _fail(exc)


COMMANDS = (batch, parcels_command, export_query)
