"""IC cards for ops: `customs-gateway cards` and `GET /v1/cards`.

One row per card of every card-configured enterprise: reader, card number, present,
certificate serial, valid until, days left, and the problem if any (absent, expired, expiring
within `warn_days`, wrong PIN…). The CLI opens the cards itself; the API asks the keys the
running gateway has loaded, so it never competes with the signing worker for a card.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import tables
from gateway.core.config import Config
from gateway.core.models import Enterprise
from gateway.core.signing import Keyring
from gateway.errors import GatewayError

DEFAULT_WARN_DAYS = 30


def _rows_of(code: str, key: Any, warn_days: int) -> list[dict[str, Any]]:
    if hasattr(key, "warn_days"):  # a pool: its own warning horizon, one row per card
        key.warn_days = warn_days
        states = key.health()
    elif hasattr(key, "health"):
        states = [key.health(warn_days)]
    else:
        return []
    return [{"enterprise": code, **state.as_dict()} for state in states]


def _error_row(code: str, exc: GatewayError) -> dict[str, Any]:
    return {"enterprise": code, "present": False, "valid": False, "problem": exc.message}


def config_health(config: Config, warn_days: int = DEFAULT_WARN_DAYS) -> list[dict[str, Any]]:
    """Health of the cards the configuration binds (opens each card once)."""
    from gateway.core.signing import load_key_config

    rows: list[dict[str, Any]] = []
    for ent in config.enterprises:
        if ent.key.backend != "card":
            continue
        try:
            key, _suite = load_key_config(ent.key, config.sign_algorithms)
        except GatewayError as exc:
            rows.append(_error_row(ent.code, exc))
            continue
        rows += _rows_of(ent.code, key, warn_days)
        close = getattr(key, "close", None)
        if close is not None:
            close()
    return rows


def keyring_health(
    session: Session, keyring: Keyring, warn_days: int = DEFAULT_WARN_DAYS
) -> list[dict[str, Any]]:
    """Health of the cards of the running gateway's keyring."""
    rows: list[dict[str, Any]] = []
    for ent in session.scalars(select(Enterprise).order_by(Enterprise.code)):
        if (ent.key_binding or {}).get("backend") != "card":
            continue
        try:
            key, _suite = keyring.for_enterprise(ent)
        except GatewayError as exc:
            rows.append(_error_row(ent.code, exc))
            continue
        rows += _rows_of(ent.code, key, warn_days)
    return rows


@click.command("cards")
@click.option(
    "--warn-days",
    default=DEFAULT_WARN_DAYS,
    show_default=True,
    help="flag certificates that expire within this many days",
)
@click.option("--json", "as_json", is_flag=True, help="one JSON document instead of a table")
@click.pass_context
def cards_command(ctx: click.Context, warn_days: int, as_json: bool) -> None:
    """Health of the enterprises' IC cards; exit 1 when a card needs attention."""
    from gateway.core import config as config_mod
    from gateway.core.emulated_cards import start_emulated_cards
    from gateway.core.runtime import ensure_test_keys

    config = config_mod.load(ctx.obj["config_path"])
    ensure_test_keys(config)
    start_emulated_cards(config)  # only when the config asks for emulated cards (demo)
    rows = config_health(config, warn_days)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _print_table(rows)
    sys.exit(1 if any(r.get("problem") for r in rows) else 0)


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no enterprise signs with a card (key backend: card)")
        return
    shown = [
        (r["enterprise"], r.get("card_number") or "?", r.get("reader") or "-",
         "yes" if r["present"] else "NO", (r.get("not_after") or "")[:10], r.get("days_left"),
         r.get("problem") or "ok")
        for r in rows
    ]  # fmt: skip
    columns = ("enterprise", "card", "reader", "present", "valid until", "days", "problem")
    tables.table(columns, shown, right=("days",))
