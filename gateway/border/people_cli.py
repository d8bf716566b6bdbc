"""Commands of the people side of border trade (`customs-gateway brd-…`):

- `brd-registry-load FILE`       load residents, groups, cooperatives and places (R-BDR-2)
                                 from a JSON, CSV (residents) or XML (BRD201Message) file
- `brd-residents`                the registry query (边民备案查询): the officer page's filters,
                                 ID numbers masked, one JSON object a line
- `brd-resident-delete ID`       remove a resident with their templates and sessions
- `brd-terminal-add ID --place --reader`  register (or re-key) a terminal; its key shown once
- `brd-terminal-disable ID`, `brd-terminals`
- `brd-officer-add NO --name --district --reader R`  register an officer with the IC card in
                                 reader R (its number and certificate; no PIN needed)
- `brd-vault-key-add KEY_ID`     a new newest key in the template vault's key file (0600)
- `brd-vault-rotate`             re-seal every template under the newest key; then the old
                                 key may leave the file

Each change is an audited ops action (`customs-gateway audit`).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from gateway.border.identity import mask_id


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: YYYY-MM-DD") from None


@click.command("brd-registry-load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def registry_load(ctx: click.Context, file: Path) -> None:
    """Load the border registry from FILE (.json, .csv or .xml); all of it or nothing."""
    from gateway.border import registry
    from gateway.core.admin import cli_acting
    from gateway.errors import InvalidMessage

    try:
        sections = registry.read_file(file)
        with cli_acting(ctx, "brd.registry.load", file.name) as (session, done):
            counts = registry.load(session, sections, from_customs=False)
            done.detail = counts.as_dict()
    except InvalidMessage as exc:
        for v in exc.violations:
            click.echo(f"{file.name}: {v}", err=True)
        raise click.ClickException(f"{len(exc.violations)} violation(s); nothing loaded") from None
    click.echo(json.dumps(counts.as_dict()))


@click.command("brd-residents")
@click.option("--synced/--not-synced", default=None, help="同步状态")
@click.option("--district", default=None, help="关区代码")
@click.option("--name", default=None, help="姓名 (part of it)")
@click.option("--sex", type=click.Choice(["1", "2"]), default=None, help="1 男, 2 女")
@click.option("--biometrics", type=click.Choice(["0", "1", "2", "3"]), default=None,
              help="0 都没有, 1 有人脸没有指纹, 2 没有人脸有指纹, 3 人脸指纹都有")  # fmt: skip
@click.option("--enabled/--disabled", default=None, help="启用状态")
@click.option("--from", "operated_from", default=None, callback=_day, help="最近操作日期 from")
@click.option("--to", "operated_to", default=None, callback=_day, help="最近操作日期 to")
@click.option("--page", default=1, show_default=True)
@click.option("--size", default=20, show_default=True)
@click.pass_context
def residents(
    ctx: click.Context, synced: bool | None, district: str | None, name: str | None,
    sex: str | None, biometrics: str | None, enabled: bool | None,
    operated_from: date | None, operated_to: date | None, page: int, size: int,
) -> None:  # fmt: skip
    """边民备案查询: the registry, ID numbers masked, one JSON object a line."""
    from gateway.border import registry_query
    from gateway.border.people_codes import BiometricFlag, Sex
    from gateway.core.admin import cli_acting

    flt = registry_query.Filter(
        synced, district, name, Sex(sex) if sex else None,
        BiometricFlag(biometrics) if biometrics else None, enabled, operated_from, operated_to,
        page, size,
    )  # fmt: skip
    with cli_acting(ctx, "brd.registry.query", flt.describe()) as (session, done):
        found = registry_query.search(session, flt)
        done.detail = {"total": found["total"]}
    for row in found["rows"]:
        click.echo(json.dumps(row, ensure_ascii=False))
    click.echo(f"{len(found['rows'])} of {found['total']} resident(s), page {page}")


@click.command("brd-resident-delete")
@click.argument("id_number")
@click.pass_context
def resident_delete(ctx: click.Context, id_number: str) -> None:
    """Remove a resident, their biometric templates and sessions (R-BDR-3)."""
    from gateway.border import registry
    from gateway.core.admin import cli_acting

    with cli_acting(ctx, "brd.resident.delete", mask_id(id_number)) as (session, _done):
        registry.delete_resident(session, id_number.strip().upper())
    click.echo(f"{mask_id(id_number)} removed with their templates")


@click.command("brd-terminal-add")
@click.argument("terminal_id")
@click.option("--place", required=True, help="监管场所编号 of the terminal's place")
@click.option("--reader", required=True, help="the PC/SC reader its ID cards are read in")
@click.pass_context
def terminal_add(ctx: click.Context, terminal_id: str, place: str, reader: str) -> None:
    """Register (or re-key) a terminal: its key is printed this once, keep it on the kiosk."""
    from gateway.border import terminals
    from gateway.core.admin import _install, cli_acting

    with cli_acting(ctx, "brd.terminal.add", terminal_id) as (session, _done):
        _install(ctx, session)
        key = terminals.register(session, terminal_id, place, reader)
    click.echo(json.dumps({"terminal_id": terminal_id, "key": key}))


@click.command("brd-terminal-disable")
@click.argument("terminal_id")
@click.pass_context
def terminal_disable(ctx: click.Context, terminal_id: str) -> None:
    """Disable a terminal at once (its key no longer opens anything)."""
    from gateway.border import terminals
    from gateway.core.admin import cli_acting

    with cli_acting(ctx, "brd.terminal.disable", terminal_id) as (session, _done):
        terminals.disable(session, terminal_id)
    click.echo(f"terminal {terminal_id} disabled")


@click.command("brd-terminals")
@click.pass_context
def terminal_list(ctx: click.Context) -> None:
    """Every terminal, one JSON object a line (never a key)."""
    from gateway.border import terminals
    from gateway.core.admin import _cli_session

    with _cli_session(ctx) as session:
        rows = terminals.listing(session)
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))


@click.command("brd-officer-add")
@click.argument("officer_no")
@click.option("--name", required=True)
@click.option("--district", required=True, help="关区代码")
@click.option("--reader", required=True, help="the reader holding the officer's IC card")
@click.pass_context
def officer_add(ctx: click.Context, officer_no: str, name: str, district: str, reader: str) -> None:
    """Register an officer with the IC card in READER (its number and certificate)."""
    from gateway.border import officers
    from gateway.core.admin import cli_acting
    from gateway.errors import CardError
    from signers.card import CardKey

    try:
        card = CardKey(reader=reader, pin="")  # the certificate needs no PIN
    except CardError as exc:
        raise click.ClickException(exc.message) from None
    number, cert = card.card_number or "", card.certificate
    card.close()
    with cli_acting(ctx, "brd.officer.add", officer_no) as (session, _done):
        officers.register(session, officer_no, name, district, number, cert)
    click.echo(f"officer {officer_no} logs in with card {number}")


def _key_file(ctx: click.Context) -> Path:
    from gateway.border.people_settings import from_environment
    from gateway.core import config as config_mod

    cfg = config_mod.load((ctx.find_root().obj or {}).get("config_path"))
    return from_environment().key_file(cfg.state_dir)


@click.command("brd-vault-key-add")
@click.argument("key_id")
@click.pass_context
def vault_key_add(ctx: click.Context, key_id: str) -> None:
    """Add a random 256-bit key, the newest from now on, to the template vault's key file."""
    from gateway.border.biometrics import add_key
    from gateway.errors import GatewayError

    path = _key_file(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        add_key(path, key_id)
    except GatewayError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"key {key_id} added to {path}: run brd-vault-rotate to re-seal the templates")


@click.command("brd-vault-rotate")
@click.pass_context
def vault_rotate(ctx: click.Context) -> None:
    """Re-seal every stored template under the vault's newest key (R-BDR-3)."""
    from gateway.border import biokit, enrolment
    from gateway.core.admin import cli_acting
    from gateway.errors import GatewayError

    try:
        vault = biokit.vault_from(_key_file(ctx))
    except GatewayError as exc:
        raise click.ClickException(exc.message) from None
    with cli_acting(ctx, "brd.vault.rotate", vault.keys.newest) as (session, done):
        count = enrolment.rotate(session, vault)
        done.detail = {"resealed": count}
    click.echo(f"{count} template(s) re-sealed under key {vault.keys.newest}")


COMMANDS = (
    registry_load,
    residents,
    resident_delete,
    terminal_add,
    terminal_disable,
    terminal_list,
    officer_add,
    vault_key_add,
    vault_rotate,
)
