"""Temporary-goods commands of `customs-gateway`: `tmp-exhibitions` (the registration query)
and `tmp-samples` (example messages to start from).

Saving and declaring are `customs-gateway submit FILE` (a TMP101/103/105 message), checking
one without storing it `customs-gateway check FILE` / `validate FILE`: the core's commands.
"""

from __future__ import annotations

import json
from datetime import date

import click


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return (
            date.fromisoformat(value)
            if "-" in value
            else date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        )
    except ValueError:
        raise click.BadParameter(f"{value!r}: YYYYMMDD or YYYY-MM-DD") from None


@click.command("tmp-exhibitions")
@click.option("--enterprise", default=None, help="its registrations only (default: all)")
@click.option("--customs", default=None, help="主管海关, 4 digits")
@click.option("--status", default=None, help="a status value (saved, approved, …)")
@click.option("--from", "filled_from", default=None, callback=_day, help="填报日期 from")
@click.option("--to", "filled_to", default=None, callback=_day, help="填报日期 to")
@click.option("--page", default=1, show_default=True)
@click.option("--size", default=20, show_default=True)
@click.option("--id", "doc_id", default=None, type=int, help="one registration in full")
@click.pass_context
def tmp_exhibitions(
    ctx: click.Context, enterprise: str | None, customs: str | None, status: str | None,
    filled_from: date | None, filled_to: date | None, page: int, size: int, doc_id: int | None,
) -> None:  # fmt: skip
    """Exhibition registrations (展览会备案查询), as JSON: no condition lists them all."""
    from sqlalchemy import select

    from gateway.core import config as config_mod
    from gateway.core.db import Database
    from gateway.core.enterprises import Caller
    from gateway.core.models import Enterprise
    from gateway.errors import GatewayError
    from gateway.temporary import queries

    db = Database(config_mod.load(ctx.obj["config_path"]).database_url)
    try:
        with db.session() as session:
            who = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
            if enterprise:
                ent = session.scalar(select(Enterprise).where(Enterprise.code == enterprise))
                if ent is None:
                    raise click.ClickException(f"no enterprise {enterprise}")
                who = Caller(enterprise_id=ent.id, enterprise_code=ent.code)
            if doc_id is not None:
                out = queries.detail(session, who, doc_id)
            else:
                cond = queries.Conditions(customs, status, filled_from, filled_to, page, size)
                out = queries.search(session, who, cond)
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@click.command("tmp-samples")
@click.option("--enterprise", default=None, help="enterprise code (default: config's default)")
@click.option("--cop-no", default="EXPO-0001", show_default=True, help="the registration's copNo")
@click.option("--exhibition-no", default="", help="its customs number, for the applications")
@click.argument("folder", type=click.Path(file_okay=False))
@click.pass_context
def tmp_samples(
    ctx: click.Context, enterprise: str | None, cop_no: str, exhibition_no: str, folder: str
) -> None:
    """Write example TMP messages of an enterprise into FOLDER: a saved draft, its declare,
    a change and a deletion application (submit them in that order, the last two once
    customs approved the registration and gave its number)."""
    from pathlib import Path

    from gateway.core import config as config_mod
    from gateway.core.parties import Party
    from gateway.temporary import samples

    ent = config_mod.load(ctx.obj["config_path"]).enterprise(enterprise)
    sender = Party(ent.code, ent.name, ent.dxp_id)
    keep = frozenset(f.name for f in samples.form.FORM) - {"customsCode"}
    files = {
        "1-save-TMP101.xml": samples.registration_message(
            sender, [samples.Registration(cop_no, app_status="1", omit=keep)]
        ),
        "2-declare-TMP101.xml": samples.registration_message(
            sender, [samples.Registration(cop_no)]
        ),
        "3-change-TMP103.xml": samples.change_message(
            sender, [samples.Change(cop_no, exhibition_no=exhibition_no)]
        ),
        "4-deletion-TMP105.xml": samples.deletion_message(
            sender, [samples.Deletion(cop_no, exhibition_no)]
        ),
    }
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
        click.echo(str(out / name))


COMMANDS = (tmp_exhibitions, tmp_samples)
