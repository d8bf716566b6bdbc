"""HTTP routes of the people side of border trade (R-BDR-1, R-BDR-2, R-BDR-3), mounted by the
border system.

Terminal (headers X-Terminal-Id + X-Terminal-Key on every call; X-Border-Session once logged in):
POST /v1/border/terminal/login     身份证识别: the gateway reads the ID card on the terminal's
                                   reader; {session, name, id_number (masked), roles} or 401
                                   with the reason (unknown_card, id_expired,
                                   registration_expired, disabled, not_synced, status, no_card)
POST /v1/border/terminal/role      身份选择: {"role": "1"|"2"|"3", "registration_no": …}
GET  /v1/border/terminal/me        who the session stands for
POST /v1/border/terminal/logout    退出

Officer (X-Officer-Session once logged in; every call recorded in the audit log):
POST /v1/border/officer/login      {"reader": …, "pin": …}: the officer's IC card and PIN
POST /v1/border/officer/logout
GET  /v1/border/officer/residents  边民备案查询: synced, district, name, sex, biometrics,
                                   enabled, operated_from / operated_to, page, size
GET  /v1/border/officer/residents/{ref}   详情 (ref: the row's `ref`, never the ID number)

Enrolment and verification routes are added by `enrolment_api` (same prefix).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gateway.border import officers, registry_query, sessions
from gateway.border.identity import Declarant, mask_id
from gateway.border.people_codes import BiometricFlag, Sex
from gateway.border.people_deps import (
    AuthOfficer,
    AuthTerminal,
    TerminalDeclarant,
    clock_of,
    settings_of,
)
from gateway.border.people_models import BrdResident
from gateway.core.deps import Db, gateway_of
from gateway.errors import NotFound


class RoleIn(BaseModel):
    role: str = Field(pattern="^[123]$")
    registration_no: str | None = Field(default=None, max_length=30)


class OfficerLoginIn(BaseModel):
    reader: str = Field(min_length=1, max_length=100)
    pin: str = Field(min_length=4, max_length=16, repr=False)


def declarant_view(who: Declarant) -> dict[str, Any]:
    """A declarant as an answer shows it: masked ID numbers only."""
    org = who.organisation
    return {
        "name": who.name,
        "id_number": who.masked_id,
        "role": who.role.value,
        "label": sessions.ROLE_LABEL[who.role],
        "terminal_id": who.terminal_id,
        "place_code": who.place_code,
        "district": who.district,
        "organisation": {"registration_no": org.registration_no, "name": org.name} if org else None,
        "members": [mask_id(m) for m in who.members],
    }


def _filter(
    synced: bool | None = None,
    district: Annotated[str | None, Query(pattern="^[0-9]{4}$")] = None,
    name: Annotated[str | None, Query(max_length=50)] = None,
    sex: Sex | None = None,
    biometrics: BiometricFlag | None = None,
    enabled: bool | None = None,
    operated_from: date | None = None,
    operated_to: date | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=registry_query.MAX_SIZE)] = 20,
) -> registry_query.Filter:
    return registry_query.Filter(
        synced, district, name, sex, biometrics, enabled, operated_from, operated_to, page, size
    )


def resident_by_ref(session: Session, ref: int) -> BrdResident:
    row = session.get(BrdResident, ref)
    if row is None:
        raise NotFound(f"no resident {ref} in the registry")
    return row


def router() -> APIRouter:
    api = APIRouter(prefix="/v1/border", tags=["border trade: people"])
    _terminal_routes(api)
    _officer_routes(api)
    return api


def _terminal_routes(api: APIRouter) -> None:
    @api.post("/terminal/login")
    def login(request: Request, terminal: AuthTerminal, s: Db) -> dict[str, Any]:
        return sessions.login_by_card(s, terminal, clock_of(request)()).as_dict()

    @api.post("/terminal/role")
    def choose(request: Request, terminal: AuthTerminal, s: Db, body: RoleIn) -> dict[str, Any]:
        token = request.headers.get("x-border-session") or ""
        now, idle = clock_of(request)(), settings_of(request).idle
        who = sessions.choose(s, terminal, token, body.role, body.registration_no, now, idle)
        return declarant_view(who)

    @api.get("/terminal/me")
    def me(who: TerminalDeclarant) -> dict[str, Any]:
        return declarant_view(who)

    @api.post("/terminal/logout")
    def logout(request: Request, terminal: AuthTerminal, s: Db) -> dict[str, Any]:
        token = request.headers.get("x-border-session") or ""
        sessions.logout(s, terminal, token, clock_of(request)())
        return {"logged_out": True}


def _officer_routes(api: APIRouter) -> None:
    @api.post("/officer/login")
    def officer_login(request: Request, s: Db, body: OfficerLoginIn) -> dict[str, Any]:
        token, officer = officers.login(s, body.reader, body.pin, clock_of(request)())
        return {"session": token, "officer_no": officer.officer_no, "name": officer.name}

    @api.post("/officer/logout")
    def officer_logout(request: Request, s: Db, _officer: AuthOfficer) -> dict[str, Any]:
        officers.logout(s, request.headers.get("x-officer-session") or "", clock_of(request)())
        return {"logged_out": True}

    @api.get("/officer/residents")
    def query(
        request: Request,
        officer: AuthOfficer,
        flt: Annotated[registry_query.Filter, Depends(_filter)],
    ) -> dict[str, Any]:
        db = gateway_of(request).db
        with (
            officers.recorded(db, officer, "brd.registry.query", flt.describe()) as done,
            db.session() as s,
        ):
            found = registry_query.search(s, flt)
            done.detail = {"total": found["total"]}
        return found

    @api.get("/officer/residents/{ref}")
    def detail(request: Request, officer: AuthOfficer, ref: int) -> dict[str, Any]:
        db = gateway_of(request).db
        with db.session() as s:
            row = resident_by_ref(s, ref)
            view = registry_query.view(row)
        with officers.recorded(db, officer, "brd.registry.detail", view["id_number"]):
            pass
        return view
