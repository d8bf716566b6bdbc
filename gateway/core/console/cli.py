"""`customs-gateway console-user`: the people who may log in to the ops console.

    console-user add NAME [--password-file FILE]     prompted twice when no file is given
    console-user passwd NAME [--password-file FILE]  a new password; open sessions end
    console-user disable NAME | enable NAME
    console-user list

A password file holds the password on its first line (mode 0600 advised; it is read, never
copied). Each change is an ops action in the audit log (gateway/core/audit.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.core.admin import _cli_session, cli_acting
from gateway.core.console import users


def _password(password_file: str | None) -> str:
    if password_file is not None:
        lines = Path(password_file).read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        return users.check_password(password)
    except users.InvalidInput as exc:
        raise click.ClickException(exc.message) from exc


_FILE = click.option(
    "--password-file", type=click.Path(exists=True, dir_okay=False), default=None,
    help="read the password from the first line of this file instead of prompting",
)  # fmt: skip


@click.group("console-user")
def console_user() -> None:
    """Users of the ops console (/console): add, passwd, disable, enable, list."""


@console_user.command("add")
@click.argument("name")
@_FILE
@click.pass_context
def add(ctx: click.Context, name: str, password_file: str | None) -> None:
    """A new console user NAME (an admin: the console shows every enterprise)."""
    password = _password(password_file)
    with cli_acting(ctx, "console_user.add", f"console:{name}") as (session, _done):
        users.add(session, name, password)
    click.echo(f"console user {name} added")


@console_user.command("passwd")
@click.argument("name")
@_FILE
@click.pass_context
def passwd(ctx: click.Context, name: str, password_file: str | None) -> None:
    """A new password for NAME; the user's open sessions end."""
    password = _password(password_file)
    with cli_acting(ctx, "console_user.passwd", f"console:{name}") as (session, _done):
        users.set_password(session, name, password)
    click.echo(f"password of console user {name} changed")


def _toggle(ctx: click.Context, name: str, disabled: bool) -> None:
    action = "console_user.disable" if disabled else "console_user.enable"
    with cli_acting(ctx, action, f"console:{name}") as (session, done):
        changed = users.set_disabled(session, name, disabled)
        done.detail = {"changed": changed}
    state = "disabled" if disabled else "enabled"
    click.echo(f"console user {name} {state}" + ("" if changed else " (already)"))


@console_user.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """NAME may no longer log in; open sessions end at their next request."""
    _toggle(ctx, name, True)


@console_user.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """NAME may log in again."""
    _toggle(ctx, name, False)


@console_user.command("list")
@click.pass_context
def listing(ctx: click.Context) -> None:
    """Every console user, one JSON object a line (never a password or its hash)."""
    with _cli_session(ctx) as session:
        rows = users.listing(session)
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))
    click.echo(f"{len(rows)} console user(s)")
