"""Commands of B2B报关单查询 and of the customs code tables::

customs-gateway b2b-query [--from --to] [--filter FIELD=VALUE…]   R-ECX-9, R-COM-7
customs-gateway b2b-show SEQNO                                    报关单详情
customs-gateway ecx-codes load FILE [--table NAME]                a whole customs table
customs-gateway ecx-codes show                                    the tables in use
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gateway.ecx.cli import _ENTERPRISE, _echo, _fail, _gateway, _time
from gateway.errors import GatewayError


@click.command("b2b-query")
@click.option("--from", "entry_from", default=None, help="入库时间 from (ISO, Beijing)")
@click.option("--to", "entry_to", default=None, help="入库时间 to (≤ 1 calendar month)")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="FIELD=VALUE",
    help="statisticsFlag (A/B), entryStatus (100/120/399/800/899), summaryState "
    "(unsummarised/declared/summarised), tradeMode (9710/9810), seqNo, entryId, invtNo, "
    "customsCode; repeatable",
)
@click.option("--page", default=1, show_default=True)
@click.option("--page-size", default=50, show_default=True)
@_ENTERPRISE
@click.pass_context
def b2b_query(ctx: click.Context, entry_from: str | None, entry_to: str | None,
              filters: tuple[str, ...], page: int, page_size: int,
              enterprise: str | None) -> None:  # fmt: skip
    """B2B报关单查询: the customs declarations customs reported (R-ECX-9)."""
    from gateway.ecx import b2b

    gw, caller = _gateway(ctx, enterprise)
    match = dict(f.split("=", 1) for f in filters if "=" in f)
    flt = b2b.B2BFilter(_time(entry_from), _time(entry_to), match, page, page_size)
    try:
        with gw.db.session() as session:
            _echo(b2b.search(session, caller, flt))
    except GatewayError as exc:
        _fail(exc)


@click.command("b2b-show")
@click.argument("seq_no", metavar="SEQNO")
@_ENTERPRISE
@click.pass_context
def b2b_show(ctx: click.Context, seq_no: str, enterprise: str | None) -> None:
    """报关单详情 of one declaration by its 统一编号."""
    from gateway.ecx import b2b

    gw, caller = _gateway(ctx, enterprise)
    try:
        with gw.db.session() as session:
            _echo(b2b.detail(session, caller, seq_no))
    except GatewayError as exc:
        _fail(exc)


@click.group("ecx-codes")
def ecx_codes() -> None:
    """The customs code tables coded export fields are checked against."""


def _db(ctx: click.Context) -> Any:
    from gateway.core import config as config_mod
    from gateway.core.db import Database
    from gateway.core.migrate import upgrade

    db = Database(config_mod.load(ctx.find_root().obj["config_path"]).database_url)
    upgrade(db)  # its tables, on a fresh clone too (serve does the same)
    return db


@ecx_codes.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--table", default=None, help="traf_mode, country, unit, wrap_type, customs "
              "(default: the file's name, e.g. country.csv)")  # fmt: skip
@click.pass_context
def load(ctx: click.Context, file: str, table: str | None) -> None:
    """Replace a whole table by FILE (CSV with a code,name header), as customs published it.
    Running gateways take it within a minute."""
    from gateway.ecx import codetables

    path = Path(file)
    name = table or path.stem
    try:
        codes = codetables.read_csv(path.read_text(encoding="utf-8-sig"))
        db = _db(ctx)
        with db.session() as session:
            version = codetables.load(session, name, codes, path.name)
            codetables.refresh(session)
    except GatewayError as exc:
        _fail(exc)
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"ERROR: {file}: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps({"table": name, "codes": len(codes), "version": version}))


@ecx_codes.command("show")
@click.pass_context
def show(ctx: click.Context) -> None:
    """Each table: shipped, or loaded (version, when, from which file), and its size."""
    from gateway.ecx import codetables

    db = _db(ctx)
    with db.session() as session:
        _echo(codetables.counts(session))


COMMANDS = (b2b_query, b2b_show, ecx_codes)
