"""`customs-gateway summary …`: summary declarations for ops (R-ECX-8).

    summary preview [--enterprise CODE] [--cycle YYYY-MM]   dry run: groups, lists, items
    summary run [--cycle YYYY-MM] [--enterprise CODE]       declare now (takes the job lease)
    summary due [--enterprise CODE]                         due dates, overdue cycles flagged
    summary results [SUMNO] [--from T] [--to T]             汇总结果单查询 (≤ 1 month, R-COM-7)
    summary declarations [ENTRYID] [--from T] [--to T]      汇总报关单查询

Without --cycle, preview shows the last closed cycle and run declares it and any older cycle
still holding lists, like the scheduled run. Cycles are Beijing time.
"""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.core import tables
from gateway.core.config import Config
from gateway.ecx.summary import schedule
from gateway.ecx.summary.cycles import Cycle, last_closed, parse_cycle
from gateway.ecx.summary.due import DueCycle
from gateway.ecx.summary.job import CycleRun
from gateway.ecx.summary.preview import Preview, PreviewGroup
from gateway.errors import GatewayError


def _config(ctx: click.Context) -> Config:
    from gateway.core import config as config_mod

    return config_mod.load((ctx.obj or {}).get("config_path"))


def _cycle(cfg: Config, label: str | None) -> Cycle | None:
    try:
        return parse_cycle(label) if label else None
    except GatewayError as exc:
        raise click.BadParameter(exc.message, param_hint="--cycle") from exc


@click.group("summary")
def summary() -> None:
    """Summary declarations (汇总申报, R-ECX-8): preview, run, due dates."""


@summary.command("preview")
@click.option("--enterprise", default=None, help="one enterprise's lists (code)")
@click.option("--cycle", "label", default=None, help="YYYY-MM (weekly YYYY-Www); default: last")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def preview_command(
    ctx: click.Context, enterprise: str | None, label: str | None, as_json: bool
) -> None:
    """Dry run: the groups a run would declare, with list counts and item totals."""
    from gateway.core.db import Database
    from gateway.core.models import utcnow
    from gateway.ecx.summary.preview import preview

    cfg = _config(ctx)
    cycle = _cycle(cfg, label) or last_closed(utcnow(), cfg.summary.cycle)
    db = Database(cfg.database_url)
    try:
        with db.session() as session:
            shown = preview(session, cfg.summary, cycle, enterprise=enterprise)
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(shown.as_dict(), ensure_ascii=False, indent=2))
        return
    print_preview(shown)


def print_preview(shown: Preview) -> None:
    click.echo(
        f"cycle {shown.cycle}, due {shown.due:%Y-%m-%d}: {len(shown.groups)} group(s), "
        f"{shown.lists} list(s) to declare"
    )
    for n, group in enumerate(shown.groups, start=1):
        _print_group(n, group)


def _print_group(n: int, shown: PreviewGroup) -> None:
    key, group = shown.group.key, shown.group
    merge = " ".join(f"{k}={v}" for k, v in key.announcement_fields().items())
    click.echo(
        f"[{n}] enterprise {shown.enterprise}  customsCode {key.customs_code}  "
        f"agentCode {key.agent_code}  tradeMode {key.trade_mode}"
    )
    click.echo(f"    merge key (announcement 2018 No.194): {merge}")
    click.echo(
        f"    {group.lists} list(s) → msgCount {shown.applications}; gross "
        f"{group.gross_weight.normalize():f} kg, net {group.net_weight.normalize():f} kg"
    )
    rows = [
        (item.country, item.gcode, item.currency, item.lines, f"{item.qty1.normalize():f}",
         item.unit1, f"{item.total_price.normalize():f}")
        for item in shown.items
    ]  # fmt: skip
    columns = ("country", "gcode", "currency", "lines", "qty1", "unit1", "totalPrice")
    tables.table(columns, rows, right=("lines", "qty1", "totalPrice"))


@summary.command("run")
@click.option("--cycle", "label", default=None, help="YYYY-MM (weekly YYYY-Www); default: due")
@click.option("--enterprise", default=None, help="one enterprise's lists (code)")
@click.pass_context
def run_command(ctx: click.Context, label: str | None, enterprise: str | None) -> None:
    """Declare now: CEB701 applications through intake, signed and sent by the workers."""
    from gateway.core.runtime import Gateway

    cfg = _config(ctx)
    cycle = _cycle(cfg, label)
    gateway = Gateway(cfg)  # its database notifies at commit; `serve` signs and sends
    try:
        with tables.progress("declaring the summary applications"):
            runs = schedule.job_of(gateway).tick(cycle=cycle, enterprise=enterprise)
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        gateway.db.dispose()
    if runs is None:
        raise click.ClickException("another gateway process is running the summary job now")
    for run in runs:
        print_run(run)
    if any(run.refused for run in runs):
        ctx.exit(1)


def print_run(run: CycleRun) -> None:
    click.echo(f"{run.summary()}; due {run.due:%Y-%m-%d}")
    for app in run.applications:
        state = f"REFUSED: {app.refused}" if app.refused else "submitted"
        click.echo(
            f"  {app.enterprise} copNo {app.cop_no}: {app.lists} list(s), msgCount "
            f"{app.msg_count}, message(s) {list(app.message_ids)} — {state}"
        )


@summary.command("due")
@click.option("--enterprise", default=None, help="one enterprise (code)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def due_command(ctx: click.Context, enterprise: str | None, as_json: bool) -> None:
    """Coming due dates per enterprise; cycles past their due date are flagged OVERDUE."""
    from gateway.core.db import Database
    from gateway.ecx.summary.due import due_report

    cfg = _config(ctx)
    db = Database(cfg.database_url)
    try:
        with db.session() as session:
            rows = due_report(session, cfg.summary, enterprise_id=_id(session, enterprise))
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:  # due dates are per enterprise: say why there are none rather than nothing
        click.echo("no enterprise registered in this database yet (serve registers config.yaml's)")
    for row in rows:
        click.echo(_due_line(row))


def _id(session: Any, code: str | None) -> int | None:
    from sqlalchemy import select

    from gateway.core.models import Enterprise

    if code is None:
        return None
    found = session.scalar(select(Enterprise.id).where(Enterprise.code == code))
    if found is None:
        raise click.BadParameter(
            f"no enterprise {code!r} in this gateway", param_hint="--enterprise"
        )
    return int(found)


def _due_line(row: DueCycle) -> str:
    when = {
        "open": f"open, due {row.due} (in {row.days_left} days)",
        "due": f"due {row.due} (in {row.days_left} days)",
        "overdue": f"OVERDUE since {row.due} ({-row.days_left} days)",
    }[row.state]
    return f"{row.enterprise}  cycle {row.cycle}  {when}: {row.pending_lists} list(s) pending"


def _time(value: str | None, hint: str) -> Any:
    from datetime import datetime

    try:
        return datetime.fromisoformat(value) if value else None  # no zone: Beijing time
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or time", param_hint=hint) from None


def _query(ctx: click.Context, enterprise: str | None, ask: Any) -> None:
    """Run a result query as the enterprise (the config's default), seeing its own only."""
    import sys

    from gateway.core.db import Database
    from gateway.core.enterprises import Caller
    from gateway.errors import InvalidMessage

    cfg = _config(ctx)
    code = cfg.enterprise(enterprise).code
    db = Database(cfg.database_url)
    try:
        with db.session() as session:
            caller = Caller(enterprise_id=_id(session, code), enterprise_code=code)
            shown = ask(session, caller)
    except InvalidMessage as exc:
        click.echo(f"REFUSED — {len(exc.violations)} violation(s)", err=True)
        for v in exc.violations:
            click.echo(f"  {v}", err=True)
        sys.exit(1)
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()
    click.echo(json.dumps(shown, ensure_ascii=False, indent=2))


_FROM = click.option("--from", "entry_from", default=None, help="received from (ISO, Beijing)")
_TO = click.option("--to", "entry_to", default=None, help="received to (≤ 1 month; default now)")
_AS = click.option("--enterprise", default=None, help="enterprise code (default: the config's)")


@summary.command("results")
@click.argument("sum_no", metavar="[SUMNO]", required=False)
@_FROM
@_TO
@_AS
@click.pass_context
def results_command(ctx: click.Context, sum_no: str | None, entry_from: str | None,
                    entry_to: str | None, enterprise: str | None) -> None:  # fmt: skip
    """汇总结果单: customs' summary results (CEB792) by receipt time, or one summary's."""
    from gateway.ecx.summary import result_queries as rq

    start, end = _time(entry_from, "--from"), _time(entry_to, "--to")
    if sum_no:
        _query(ctx, enterprise, lambda s, c: rq.result_detail(s, c, sum_no))
    else:
        _query(ctx, enterprise, lambda s, c: rq.search_results(s, c, start, end, page_size=500))


@summary.command("declarations")
@click.argument("entry_id", metavar="[ENTRYID]", required=False)
@_FROM
@_TO
@_AS
@click.pass_context
def declarations_command(ctx: click.Context, entry_id: str | None, entry_from: str | None,
                         entry_to: str | None, enterprise: str | None) -> None:  # fmt: skip
    """汇总报关单: the merged customs declarations, their lists and items, or one of them."""
    from gateway.ecx.summary import result_queries as rq

    start, end = _time(entry_from, "--from"), _time(entry_to, "--to")
    if entry_id:
        _query(ctx, enterprise, lambda s, c: rq.declaration_detail(s, c, entry_id))
    else:
        _query(
            ctx, enterprise, lambda s, c: rq.search_declarations(s, c, start, end, page_size=500)
        )


COMMANDS = (summary,)
