"""Appointment commands of `customs-gateway`: `apt-refdata`, `apt-deadlines`.

(`check FILE --at TIME` evaluates an appointment message against the store as if submitted
at TIME: it is the core's, `gateway.core.dryrun`, for every kind with store rules.)
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.core.dryrun import parse_at


@click.command("apt-refdata")
@click.option("--sample", is_flag=True, help="load the built-in sample set (if no port is known)")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def apt_refdata(ctx: click.Context, sample: bool, file: str | None) -> None:
    """Update appointment reference data from FILE (YAML or JSON): enterprises, ports,
    calendar, tariff, declarations — each a list of rows, upserted by key."""
    import yaml

    from gateway.appointments import refdata
    from gateway.core import config as config_mod
    from gateway.core.db import Database
    from gateway.core.migrate import upgrade

    db = Database(config_mod.load(ctx.obj["config_path"]).database_url)
    upgrade(db)  # its tables, on a fresh clone too (serve does the same)
    with db.session() as session:
        if sample:
            click.echo(json.dumps(refdata.load_sample(session)))
        if file:
            data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
            click.echo(json.dumps(refdata.load(session, data)))


@click.command("apt-deadlines")
@click.option("--at", "at_text", default="now", help="run as if at TIME (default now)")
@click.pass_context
def apt_deadlines(ctx: click.Context, at_text: str) -> None:
    """Run the appointment deadline job once (R-APT-9): reminders and overdue marks."""
    from gateway.appointments.deadlines import run_deadlines
    from gateway.core import config as config_mod
    from gateway.core.runtime import Gateway

    gw = Gateway(config_mod.load(ctx.obj["config_path"]))  # its db notifies at commit
    run = run_deadlines(gw.db, parse_at(at_text), gw.notifier)
    click.echo(json.dumps({"reminded": run.reminded, "overdue": run.overdue}))


COMMANDS = (apt_refdata, apt_deadlines)
