"""Admin tools for tenants: delegations (R-COM-3) and API keys, by command line and HTTP
(admin key), and the throttle that slows down clients that keep failing to authenticate.

GET    /v1/admin/delegations?enterprise=CODE     list
POST   /v1/admin/delegations                     {"enterprise": CODE, "party_code": CODE}
DELETE /v1/admin/delegations/{enterprise}/{party_code}
GET    /v1/admin/keys?enterprise=CODE            list (never a key or its digest)
POST   /v1/admin/keys                            {"enterprise": CODE | null (admin), "label",
                                                 "expires_days"}: the key, shown this once
POST   /v1/admin/keys/{id}/revoke
POST   /v1/admin/keys/{id}/rotate                a new key; the old one is revoked
GET    /v1/ops/audit?limit=&action=&since=       the ops audit log, newest first

Every change is an ops action recorded in the audit log (gateway/core/audit.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import click
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.core import audit, delegations, keys
from gateway.core.config import AuthConfig
from gateway.core.db import Database
from gateway.core.deps import Auth
from gateway.core.enterprises import Caller
from gateway.errors import AccessDenied, GatewayError, NotFound


def admin_of(who: Auth) -> Caller:
    if not who.is_admin:
        raise AccessDenied("admin tools need an admin key")
    return who


AdminCaller = Annotated[Caller, Depends(admin_of)]


@contextmanager
def _session(request: Request) -> Iterator[Session]:
    with request.app.state.gateway.db.session() as session:
        yield session


@contextmanager
def _acting(
    request: Request, who: Caller, action: str, target: str
) -> Iterator[tuple[Session, audit.Action]]:
    """One ops action of an API caller: its own transaction, then its audit entry."""
    db = request.app.state.gateway.db
    with audit.audited(db, audit.actor(who), action, target) as done, db.session() as session:
        yield session, done


class DelegationIn(BaseModel):
    enterprise: str
    party_code: str


def router() -> APIRouter:
    """`/v1/admin/...` (delegations, keys) and `/v1/ops/audit`; every route needs an admin key."""
    both = APIRouter()
    both.include_router(_admin_router())
    both.include_router(_audit_router())
    return both


def _admin_router() -> APIRouter:
    api = APIRouter(prefix="/v1/admin", tags=["admin"])

    @api.get("/delegations")
    def list_delegations(
        request: Request, who: AdminCaller, enterprise: str | None = None
    ) -> list[dict[str, Any]]:
        with _session(request) as session:
            return delegations.listing(session, enterprise)

    @api.post("/delegations", status_code=201)
    def add_delegation(request: Request, who: AdminCaller, body: DelegationIn) -> dict[str, Any]:
        target = f"{body.enterprise}->{body.party_code}"
        with _acting(request, who, "delegation.add", target) as (session, done):
            added = delegations.add(session, body.enterprise, body.party_code, by=audit.actor(who))
            done.detail = {"added": added}
        return {**body.model_dump(), "added": added}

    @api.delete("/delegations/{enterprise}/{party_code}")
    def remove_delegation(
        request: Request, who: AdminCaller, enterprise: str, party_code: str
    ) -> dict[str, Any]:
        target = f"{enterprise}->{party_code}"
        with _acting(request, who, "delegation.remove", target) as (session, _done):
            if not delegations.remove(session, enterprise, party_code):
                raise NotFound(f"{enterprise} has no delegation for {party_code}")
        return {"enterprise": enterprise, "party_code": party_code, "removed": True}

    _key_routes(api)
    return api


def _audit_router() -> APIRouter:
    api = APIRouter(prefix="/v1/ops", tags=["ops"])

    @api.get("/audit")
    def audit_log(
        request: Request,
        who: AdminCaller,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        with _session(request) as session:
            return audit.listing(session, limit=limit, action=action, since=since)

    return api


class KeyIn(BaseModel):
    enterprise: str | None = None  # None: an admin key
    label: str = ""
    expires_days: int | None = None  # None: keys.DEFAULT_LIFETIME; 0: never


class RotateIn(BaseModel):
    expires_days: int | None = None


def _issued_detail(issued: keys.Issued) -> dict[str, Any]:
    """What the audit keeps of a new key: never the key."""
    expires = issued.expires_at.isoformat() if issued.expires_at else None
    return {"new_key_id": issued.id, "expires_at": expires}


def lifetime(days: int | None) -> timedelta | None:
    if days is None:
        return keys.DEFAULT_LIFETIME
    return timedelta(days=days) if days > 0 else None


def _key_routes(api: APIRouter) -> None:
    @api.get("/keys")
    def list_keys(
        request: Request, who: AdminCaller, enterprise: str | None = None
    ) -> list[dict[str, Any]]:
        with _session(request) as session:
            return keys.listing(session, enterprise)

    @api.post("/keys", status_code=201)
    def create_key(request: Request, who: AdminCaller, body: KeyIn) -> dict[str, Any]:
        target = f"enterprise:{body.enterprise}" if body.enterprise else "admin"
        with _acting(request, who, "key.create", target) as (session, done):
            issued = keys.create(
                session, enterprise=body.enterprise, by=audit.actor(who), label=body.label,
                lifetime=lifetime(body.expires_days),
            )  # fmt: skip
            done.detail = _issued_detail(issued)
        return issued.as_dict()

    @api.post("/keys/{key_id}/revoke")
    def revoke_key(request: Request, who: AdminCaller, key_id: int) -> dict[str, Any]:
        with _acting(request, who, "key.revoke", f"key:{key_id}") as (session, done):
            changed = keys.revoke(session, key_id)
            done.detail = {"changed": changed}
        request.app.state.gateway.key_cache.forget_all()  # refused here at once (key_cache.py)
        return {"id": key_id, "revoked": True, "changed": changed}

    @api.post("/keys/{key_id}/rotate", status_code=201)
    def rotate_key(
        request: Request, who: AdminCaller, key_id: int, body: RotateIn | None = None
    ) -> dict[str, Any]:
        days = body.expires_days if body else None
        with _acting(request, who, "key.rotate", f"key:{key_id}") as (session, done):
            issued = keys.rotate(session, key_id, by=audit.actor(who), lifetime=lifetime(days))
            done.detail = _issued_detail(issued)
        request.app.state.gateway.key_cache.forget_all()
        return {**issued.as_dict(), "replaces": key_id}


# --- slowing down clients that keep failing --------------------------------------------------


class _Throttled:
    """ASGI middleware: a client address over its failure budget gets 429 and Retry-After
    before anything else runs (no key is looked at, so a guess learns nothing)."""

    def __init__(self, app: ASGIApp, throttle: keys.FailureThrottle) -> None:
        self.app, self.throttle = app, throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self.throttle.retry_after(client_of(scope)) if scope["type"] == "http" else 0
        if not wait:
            await self.app(scope, receive, send)
            return
        body = {"error": "TooManyFailures", "message": "too many failed authentications from "
                "this address: try again later", "retryable": True}  # fmt: skip
        response = JSONResponse(body, status_code=429, headers={"retry-after": str(wait)})
        await response(scope, receive, send)


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def install_throttle(app: FastAPI, auth: AuthConfig) -> keys.FailureThrottle:
    """Count refused credentials per client address; answer 429 past the limit."""
    throttle = keys.FailureThrottle(auth.failure_limit, auth.failure_window)
    app.add_middleware(_Throttled, throttle=throttle)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> JSONResponse:
        if getattr(exc, "bad_credentials", False):
            throttle.failed(client_of(request.scope))
        return JSONResponse(exc.as_dict(), status_code=401)

    return throttle


# --- command line ----------------------------------------------------------------------------


@contextmanager
def _cli_db(ctx: click.Context) -> Iterator[Database]:
    from gateway.core import config as config_mod
    from gateway.core.migrate import upgrade

    cfg = config_mod.load((ctx.find_root().obj or {}).get("config_path"))
    db = Database(cfg.database_url)
    upgrade(db)
    try:
        yield db
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()


@contextmanager
def _cli_session(ctx: click.Context) -> Iterator[Session]:
    with _cli_db(ctx) as db, db.session() as session:
        yield session


@contextmanager
def cli_acting(
    ctx: click.Context, action: str, target: str
) -> Iterator[tuple[Session, audit.Action]]:
    """One ops action of an operator: its own transaction, then its audit entry."""
    who = audit.cli_actor()
    with (
        _cli_db(ctx) as db,
        audit.audited(db, who, action, target) as done,
        db.session() as session,
    ):
        yield session, done


@click.group("delegations")
def delegations_cli() -> None:
    """Party codes an enterprise is registered to declare for (R-COM-3)."""


@delegations_cli.command("add")
@click.argument("enterprise")
@click.argument("party_code")
@click.pass_context
def delegations_add(ctx: click.Context, enterprise: str, party_code: str) -> None:
    """Let ENTERPRISE name PARTY_CODE in its records (a platform's merchant, a principal)."""
    with cli_acting(ctx, "delegation.add", f"{enterprise}->{party_code}") as (session, done):
        added = delegations.add(session, enterprise, party_code, by=audit.cli_actor())
        done.detail = {"added": added}
    click.echo(f"{enterprise} declares for {party_code}" + ("" if added else " (already)"))


@delegations_cli.command("remove")
@click.argument("enterprise")
@click.argument("party_code")
@click.pass_context
def delegations_remove(ctx: click.Context, enterprise: str, party_code: str) -> None:
    """Withdraw a delegation."""
    target = f"{enterprise}->{party_code}"
    with cli_acting(ctx, "delegation.remove", target) as (session, _done):
        if not delegations.remove(session, enterprise, party_code):
            raise NotFound(f"{enterprise} has no delegation for {party_code}")
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


@click.group("keys")
def keys_cli() -> None:
    """API keys: create (shown once), list, revoke, rotate."""


def _install(ctx: click.Context, session: Session) -> None:
    from gateway.core import config as config_mod

    cfg = config_mod.load((ctx.find_root().obj or {}).get("config_path"))
    keys.install(session, cfg.state_dir)


def _expires(days: int | None) -> timedelta | None:
    return lifetime(days)


@keys_cli.command("create")
@click.option("--enterprise", default=None, help="the enterprise the key submits for")
@click.option("--admin", "is_admin", is_flag=True, help="an admin key (ops, keys, all records)")
@click.option("--label", default="", help="what the key is for (shown in lists)")
@click.option("--expires-days", type=int, default=None, help="default 90; 0: never")
@click.pass_context
def keys_create(
    ctx: click.Context, enterprise: str | None, is_admin: bool, label: str, expires_days: int | None
) -> None:
    """Make a key and print it once: it is kept nowhere but in what you copy now."""
    if is_admin == bool(enterprise):
        raise click.UsageError("give --enterprise CODE or --admin (one of them)")
    target = f"enterprise:{enterprise}" if enterprise else "admin"
    with cli_acting(ctx, "key.create", target) as (session, done):
        _install(ctx, session)
        issued = keys.create(
            session, enterprise=enterprise, by=audit.cli_actor(), label=label,
            lifetime=_expires(expires_days),
        )  # fmt: skip
        done.detail = _issued_detail(issued)
    click.echo(json.dumps(issued.as_dict(), ensure_ascii=False))


@keys_cli.command("list")
@click.option("--enterprise", default=None)
@click.pass_context
def keys_list(ctx: click.Context, enterprise: str | None) -> None:
    """Every key: id, holder, prefix, label, dates, state (never the key)."""
    with _cli_session(ctx) as session:
        rows = keys.listing(session, enterprise)
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))
    click.echo(f"{len(rows)} key(s)")


@keys_cli.command("revoke")
@click.argument("key_id", type=int)
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: int) -> None:
    """Refuse key KEY_ID from now on."""
    with cli_acting(ctx, "key.revoke", f"key:{key_id}") as (session, done):
        changed = keys.revoke(session, key_id)
        done.detail = {"changed": changed}
    click.echo(f"key {key_id} revoked" + ("" if changed else " (already)"))


@keys_cli.command("rotate")
@click.argument("key_id", type=int)
@click.option("--expires-days", type=int, default=None, help="default 90; 0: never")
@click.pass_context
def keys_rotate(ctx: click.Context, key_id: int, expires_days: int | None) -> None:
    """A new key for KEY_ID's holder, printed once; KEY_ID is revoked."""
    with cli_acting(ctx, "key.rotate", f"key:{key_id}") as (session, done):
        _install(ctx, session)
        issued = keys.rotate(session, key_id, by=audit.cli_actor(), lifetime=_expires(expires_days))
        done.detail = _issued_detail(issued)
    click.echo(json.dumps({**issued.as_dict(), "replaces": key_id}, ensure_ascii=False))


@click.command("audit")
@click.option("--limit", default=100, show_default=True)
@click.option("--action", default=None, help="e.g. dead_letters.replay, key.revoke")
@click.pass_context
def audit_cli(ctx: click.Context, limit: int, action: str | None) -> None:
    """The ops audit log, newest first: when, who, what, target, outcome."""
    with _cli_session(ctx) as session:
        rows = audit.listing(session, limit=limit, action=action)
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))
    click.echo(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")


COMMANDS = (delegations_cli, keys_cli, audit_cli)
