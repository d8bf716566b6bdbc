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
GET  /v1/border/terminal/devices   外接设备状态: the ID-card reader, camera, fingerprint reader

Officer (X-Officer-Session once logged in; every call recorded in the audit log):
POST /v1/border/officer/login      {"reader": …, "pin": …}: the officer's IC card and PIN
POST /v1/border/officer/logout
GET  /v1/border/officer/residents  边民备案查询: synced, district, name, sex, biometrics,
                                   enabled, operated_from / operated_to, page, size
GET  /v1/border/officer/residents/{ref}   详情 (ref: the row's `ref`, never the ID number)
GET  /v1/border/officer/devices    外接设备状态 of the officer's desk

Enrolment (补录, R-BDR-3; officer; the captures come from the officer desk's devices):
POST   /v1/border/officer/residents/{ref}/enrolment            open it: "请按三次指纹"
POST   /v1/border/officer/residents/{ref}/enrolment/finger/{n} n = 1 or 2: three presses
POST   /v1/border/officer/residents/{ref}/enrolment/face       【拍照】
POST   /v1/border/officer/residents/{ref}/enrolment/save       保存: "保存成功", the new flag
DELETE /v1/border/officer/residents/{ref}/enrolment            drop what was captured

Verification (R-BDR-6, R-BDR-7):
POST /v1/border/terminal/verify    the session's declarant checked at the terminal with the
                                   place's method (the gate the declarations side uses)
POST /v1/border/face-auth          a delegating resident's face authentication (API key):
                                   multipart (record_id, id_number, image) or JSON
                                   {record_id, id_number, image_base64}; pass/fail, then the
                                   declaration is told

The router's lifespan puts the terminals' BiometricGate on `app.state.border_gate` (unless
one is there already) and the kit (`biokit.Kit`) is `app.state.border_kit`, built from the
settings on first use when none was put there.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from gateway.border import biokit, enrolment, officers, registry_query, sessions, verification
from gateway.border.biokit import Kit
from gateway.border.identity import BiometricMethod, Declarant, mask_id
from gateway.border.people_codes import BiometricFlag, Sex
from gateway.border.people_deps import (
    AuthOfficer,
    AuthTerminal,
    TerminalDeclarant,
    clock_of,
    settings_of,
)
from gateway.border.people_models import BrdResident
from gateway.border.people_settings import from_environment
from gateway.core.deps import Auth, Db, gateway_of, read_limited
from gateway.errors import InvalidInput, NotFound


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


_KIT_LOCK = threading.Lock()


def kit_of_app(app: Any) -> Kit:
    """The app's kit: the one put on `app.state.border_kit`, else built once from settings."""
    with _KIT_LOCK:
        kit = getattr(app.state, "border_kit", None)
        if kit is None:
            settings = getattr(app.state, "border_settings", None) or from_environment()
            kit = biokit.build(settings, app.state.gateway.config.state_dir)
            app.state.border_kit = kit
        assert isinstance(kit, Kit)
        return kit


def kit_of(request: Request) -> Kit:
    return kit_of_app(request.app)


AppKit = Annotated[Kit, Depends(kit_of)]


@asynccontextmanager
async def _gate(app: FastAPI) -> AsyncIterator[None]:
    """The terminals' BiometricGate for the declarations side (`app.state.border_gate`)."""
    if getattr(app.state, "border_gate", None) is None:
        settings = getattr(app.state, "border_settings", None) or from_environment()
        app.state.border_gate = verification.TerminalGate(
            app.state.gateway.db, lambda: kit_of_app(app), settings.verify_attempts
        )
    yield


def router() -> APIRouter:
    api = APIRouter(prefix="/v1/border", tags=["border trade: people"], lifespan=_gate)
    _terminal_routes(api)
    _officer_routes(api)
    _enrolment_routes(api)
    _verification_routes(api)
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

    @api.get("/terminal/devices")
    def terminal_devices(terminal: AuthTerminal, kit: AppKit) -> dict[str, Any]:
        desk = kit.devices(f"terminal:{terminal.terminal_id}")
        return biokit.status(desk, terminal.reader)

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

    @api.get("/officer/devices")
    def officer_devices(officer: AuthOfficer, kit: AppKit) -> dict[str, Any]:
        return biokit.status(kit.devices(officer.actor))

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


def _enrolment_routes(api: APIRouter) -> None:
    base = "/officer/residents/{ref}/enrolment"

    def step(request: Request, officer: officers.Officer, ref: int, action: str, run: Any) -> Any:
        """One enrolment step in its own transaction, recorded with its outcome."""
        db = gateway_of(request).db
        with db.session() as s:
            target = mask_id(resident_by_ref(s, ref).id_number)
        with officers.recorded(db, officer, action, target) as done, db.session() as s:
            result = run(s, resident_by_ref(s, ref))
            done.detail = {"ok": result.ok, "reason": result.reason}
        return result.as_dict()

    @api.post(base)
    def open_enrolment(request: Request, officer: AuthOfficer, ref: int) -> dict[str, Any]:
        return step(request, officer, ref, "brd.enrol.start", enrolment.start)

    @api.post(base + "/finger/{number}")
    def take_finger(
        request: Request, officer: AuthOfficer, kit: AppKit, ref: int, number: int
    ) -> dict[str, Any]:
        if number not in (1, 2):
            raise InvalidInput("finger: 1 (第一指纹) or 2 (第二指纹)")
        desk = officer.actor

        def run(s: Session, row: BrdResident) -> enrolment.Step:
            return enrolment.finger(s, kit, desk, row, number, officer.actor)

        return step(request, officer, ref, f"brd.enrol.finger{number}", run)

    @api.post(base + "/face")
    def take_face(request: Request, officer: AuthOfficer, kit: AppKit, ref: int) -> dict[str, Any]:
        def run(s: Session, row: BrdResident) -> enrolment.Step:
            return enrolment.face(s, kit, officer.actor, row, officer.actor)

        return step(request, officer, ref, "brd.enrol.face", run)

    @api.post(base + "/save")
    def save(request: Request, officer: AuthOfficer, ref: int) -> dict[str, Any]:
        now = clock_of(request)()

        def run(s: Session, row: BrdResident) -> enrolment.Step:
            return enrolment.save(s, row, officer.actor, now)

        return step(request, officer, ref, "brd.enrol.save", run)

    @api.delete(base)
    def cancel(request: Request, officer: AuthOfficer, ref: int) -> dict[str, Any]:
        def run(s: Session, row: BrdResident) -> enrolment.Step:
            enrolment.cancel(s, row)
            return enrolment.Step(True, "cancelled", "已取消", {})

        return step(request, officer, ref, "brd.enrol.cancel", run)


class FaceAuthIn(BaseModel):
    record_id: int = Field(ge=1)
    id_number: str = Field(min_length=18, max_length=18, repr=False)
    image_base64: str = Field(min_length=1, repr=False)


def _verification_routes(api: APIRouter) -> None:
    @api.post("/terminal/verify")
    def verify(request: Request, who: TerminalDeclarant) -> dict[str, Any]:
        gate = request.app.state.border_gate
        with gateway_of(request).db.session() as s:
            method = BiometricMethod(_place_method(s, who.place_code))
        outcome = gate.verify_declarant(who, method)
        return {"passed": outcome.passed, "method": outcome.method.value,
                "attempts": outcome.attempts, "reason": outcome.reason}  # fmt: skip

    @api.post("/face-auth")
    async def face_auth(request: Request, _who: Auth, kit: AppKit) -> dict[str, Any]:
        record_id, id_number, image = await _face_input(request)
        db = gateway_of(request).db
        outcome, after = await run_in_threadpool(
            verification.authenticate_delegate, db, kit, record_id, id_number, image
        )
        return {"passed": outcome.passed, "reason": outcome.reason,
                "id_number": mask_id(id_number), "declaration": after.as_dict()}  # fmt: skip


def _place_method(session: Session, place_code: str) -> str:
    from gateway.border.models import BrdPlace

    place = session.get(BrdPlace, place_code)
    if place is None:
        raise NotFound(f"no supervised place {place_code!r}")
    return place.method


async def _face_input(request: Request) -> tuple[int, str, bytes]:
    """(record id, ID number, image bytes) from a multipart form or a JSON body."""
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=5)
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise InvalidInput("image: the multipart form needs a file field `image`")
            image = await upload.read(verification.MAX_IMAGE_BYTES + 1)
            fields = {"record_id": form.get("record_id"), "id_number": form.get("id_number"),
                      "image_base64": "-"}  # fmt: skip
            parsed = FaceAuthIn.model_validate(fields)
            return parsed.record_id, parsed.id_number, image
        body = await read_limited(request, verification.MAX_IMAGE_BYTES * 2)
        parsed = FaceAuthIn.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']} (R-BDR-7 face authentication)") from None
    try:
        image = base64.b64decode(parsed.image_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("image_base64: not base64") from None
    return parsed.record_id, parsed.id_number, image
