"""Admin tools for tenants: delegations (R-COM-3), by command line and HTTP (admin key).

GET    /v1/admin/delegations?enterprise=CODE     list
POST   /v1/admin/delegations                     {"enterprise": CODE, "party_code": CODE}
DELETE /v1/admin/delegations/{enterprise}/{party_code}
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import click
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from gateway.core import delegations
from gateway.core.deps import Auth
from gateway.core.enterprises import Caller
from gateway.errors import AccessDenied, GatewayError, NotFound


def admin_of(who: Auth) -> Caller:
    if not who.is_admin:
        raise AccessDenied("admin tools need an admin key")
    return who


AdminCaller = Annotated[Caller, Depends(admin_of)]


def actor_of(who: Caller) -> str:
    """Who did it, as the audit log and `created_by` name it (never the key itself)."""
    return f"key:{who.key_id}" if who.key_id is not None else "admin"


@contextmanager
def _session(request: Request) -> Iterator[Session]:
    with request.app.state.gateway.db.session() as session:
        yield session


class DelegationIn(BaseModel):
    enterprise: str
    party_code: str


def router() -> APIRouter:
    api = APIRouter(prefix="/v1/admin", tags=["admin"])

    @api.get("/delegations")
    def list_delegations(
        request: Request, who: AdminCaller, enterprise: str | None = None
    ) -> list[dict[str, Any]]:
        with _session(request) as session:
            return delegations.listing(session, enterprise)

    @api.post("/delegations", status_code=201)
    def add_delegation(request: Request, who: AdminCaller, body: DelegationIn) -> dict[str, Any]:
        with _session(request) as session:
            added = delegations.add(session, body.enterprise, body.party_code, by=actor_of(who))
        return {**body.model_dump(), "added": added}

    @api.delete("/delegations/{enterprise}/{party_code}")
    def remove_delegation(
        request: Request, who: AdminCaller, enterprise: str, party_code: str
    ) -> dict[str, Any]:
        with _session(request) as session:
            if not delegations.remove(session, enterprise, party_code):
                raise NotFound(f"{enterprise} has no delegation for {party_code}")
        return {"enterprise": enterprise, "party_code": party_code, "removed": True}

    return api


# --- command line ----------------------------------------------------------------------------


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def _cli_session(ctx: click.Context) -> Iterator[Session]:
    from gateway.core import config as config_mod
    from gateway.core.db import Database
    from gateway.core.migrate import upgrade

    cfg = config_mod.load((ctx.find_root().obj or {}).get("config_path"))
    db = Database(cfg.database_url)
    upgrade(db)
    try:
        with db.session() as session:
            yield session
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()


@click.group("delegations")
def delegations_cli() -> None:
    """Party codes an enterprise is registered to declare for (R-COM-3)."""


@delegations_cli.command("add")
@click.argument("enterprise")
@click.argument("party_code")
@click.pass_context
def delegations_add(ctx: click.Context, enterprise: str, party_code: str) -> None:
    """Let ENTERPRISE name PARTY_CODE in its records (a platform's merchant, a principal)."""
    with _cli_session(ctx) as session:
        added = delegations.add(session, enterprise, party_code, by=cli_actor())
    click.echo(f"{enterprise} declares for {party_code}" + ("" if added else " (already)"))


@delegations_cli.command("remove")
@click.argument("enterprise")
@click.argument("party_code")
@click.pass_context
def delegations_remove(ctx: click.Context, enterprise: str, party_code: str) -> None:
    """Withdraw a delegation."""
    with _cli_session(ctx) as session:
        removed = delegations.remove(session, enterprise, party_code)
    if not removed:
        raise click.ClickException(f"{enterprise} has no delegation for {party_code}")
    click.echo(f"{enterprise} no longer declares for {party_code}")


@delegations_cli.command("list")
@click.option("--enterprise", default=None)
@click.pass_context
def delegations_list(ctx: click.Context, enterprise: str | None) -> None:
    """Every delegation (of one enterprise), one JSON object a line."""
    with _cli_session(ctx) as session:
        rows = delegations.listing(session, enterprise)
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))
    click.echo(f"{len(rows)} delegation(s)")


COMMANDS = (delegations_cli,)
