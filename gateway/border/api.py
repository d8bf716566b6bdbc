"""HTTP routes of the border declarations, included by the core's app (R-BDR-4..10).

The terminal's routes need the terminal's headers and a live session with a role picked
(`people_deps.TerminalDeclarant`): the declarant is the session's, never named by the body.
`{form}` is `entry` (进境申报单) or `import` (进口申报单).

POST   /v1/border/{form}/declarations            申报: body {head, goods, vehicles?, attachments?};
                                                 the biometric check runs when the rule says so
PUT    /v1/border/{form}/declarations/{id}       修改 then 申报 (暂存, 退单, 发往海关失败,
                                                 海关入库失败, 认证超时)
DELETE /v1/border/{form}/declarations/{id}       删除 (the same states)
POST   /v1/border/{form}/declarations/{id}/copy  复制: the form, numbers/times/status cleared
POST   /v1/border/{form}/declarations/{id}/change  变更: body {reason, head?, goods?, ...}
POST   /v1/border/{form}/declarations/{id}/revoke  撤销: body {reason}
GET    /v1/border/{form}/records                 申请记录查询 (district, pre_entry_no, decl_no,
                                                 decl_type, status, business_mode, from_time,
                                                 to_time, quick=today|week, page, size=10)
GET    /v1/border/{form}/documents               单据查询 (the same without pre_entry_no and
                                                 decl_type)
GET    /v1/border/declarations/{id}              详情, with delegates (masked) and history
POST   /v1/border/attachments?file_name=…&doc_type=…
                                                 随附单证: the body is the PDF (≤ 4 MB); the
                                                 answer is the form's `Attachment` line
GET    /v1/border/attachments/{sha256}           the declarant's PDF back
PUT    /v1/border/places/{place_code}            admin: a supervised place, its operator and
                                                 its biometric method
PUT    /v1/border/catalogue                      admin: the goods catalogue (商品分类表)

The biometric gate is `app.state.border_gate` (the people side's `verification` puts its gate
there; a deployment without one refuses to declare with a ConfigError, never skips a check).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gateway.border import attachments, declarations, queries, store
from gateway.border.codes import Form
from gateway.border.identity import BiometricGate, BiometricMethod, Declarant
from gateway.border.people_deps import TerminalDeclarant
from gateway.core.deps import Auth, Db, gateway_of, read_limited
from gateway.errors import AccessDenied, BodyTooLarge, ConfigError

FormName = Literal["entry", "import"]
_FORMS = {"entry": Form.ENTRY, "import": Form.IMPORT}
Value = str | int | float


class FormIn(BaseModel):
    head: dict[str, Value] = Field(default_factory=dict)
    goods: list[dict[str, Value]] = Field(default_factory=list)
    vehicles: list[dict[str, Value]] = Field(default_factory=list)
    attachments: list[dict[str, Value]] = Field(default_factory=list)

    def values(self) -> dict[str, Any]:
        text = lambda d: {k: str(v) for k, v in d.items()}  # noqa: E731
        return {
            "head": text(self.head),
            "goods": [text(g) for g in self.goods],
            "vehicles": [text(v) for v in self.vehicles],
            "attachments": [text(a) for a in self.attachments],
        }


class ChangeIn(FormIn):
    reason: str = Field(min_length=1, max_length=500)


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class PlaceIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    district: str = Field(min_length=4, max_length=4)
    operator_code: str = Field(min_length=1, max_length=18)
    method: BiometricMethod


class CatalogueIn(BaseModel):
    entries: list[dict[str, str]] = Field(min_length=1)


def gate_of(request: Request) -> BiometricGate:
    gate = getattr(request.app.state, "border_gate", None)
    if gate is None:
        raise ConfigError(
            "no biometric gate is configured for the border terminals "
            "(app.state.border_gate): declaring is refused, never unchecked"
        )
    return gate


Gate = Annotated[BiometricGate, Depends(gate_of)]


def _conditions(
    district: Annotated[str | None, Query(max_length=4)] = None,
    pre_entry_no: Annotated[str | None, Query(max_length=18)] = None,
    decl_no: Annotated[str | None, Query(max_length=18)] = None,
    decl_type: Annotated[str | None, Query(max_length=2)] = None,
    status: Annotated[str | None, Query(max_length=30)] = None,
    business_mode: Annotated[str | None, Query(max_length=2)] = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
    quick: Literal["today", "week"] | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=queries.MAX_SIZE)] = queries.PAGE_SIZE,
) -> queries.Conditions:
    return queries.Conditions(
        district,
        pre_entry_no,
        decl_no,
        decl_type,
        status,
        business_mode,
        from_time,
        to_time,
        quick,
        page,
        size,
    )


Cond = Annotated[queries.Conditions, Depends(_conditions)]


def router() -> APIRouter:
    api = APIRouter(tags=["border trade"])
    _declaring(api)
    _attachments(api)
    _pages(api)
    _admin(api)
    return api


def _declaring(api: APIRouter) -> None:
    @api.post("/v1/border/{form}/declarations", status_code=201)
    def declare(
        request: Request, form: FormName, who: TerminalDeclarant, gate: Gate, body: FormIn
    ) -> dict[str, Any]:
        gw = gateway_of(request)
        hours = declarations.auth_hours_configured()
        done = declarations.declare(
            gw.db, gw.intake, who, _FORMS[form], body.values(), gate, auth_hours=hours
        )
        return done.as_dict()

    @api.put("/v1/border/{form}/declarations/{record_id}")
    def modify(
        request: Request,
        form: FormName,
        record_id: int,
        who: TerminalDeclarant,
        gate: Gate,
        body: FormIn,
    ) -> dict[str, Any]:
        gw = gateway_of(request)
        hours = declarations.auth_hours_configured()
        return declarations.declare(
            gw.db,
            gw.intake,
            who,
            _FORMS[form],
            body.values(),
            gate,
            record_id=record_id,
            auth_hours=hours,
        ).as_dict()

    @api.delete("/v1/border/{form}/declarations/{record_id}")
    def delete(
        request: Request, form: FormName, record_id: int, who: TerminalDeclarant
    ) -> dict[str, Any]:
        gw = gateway_of(request)
        return declarations.delete(gw.db, gw.intake, who, record_id).as_dict()

    @api.post("/v1/border/{form}/declarations/{record_id}/copy")
    def copy(
        request: Request, form: FormName, record_id: int, who: TerminalDeclarant
    ) -> dict[str, Any]:
        return declarations.copy(gateway_of(request).db, who, record_id)

    @api.post("/v1/border/{form}/declarations/{record_id}/change", status_code=201)
    def change(
        request: Request,
        form: FormName,
        record_id: int,
        who: TerminalDeclarant,
        gate: Gate,
        body: ChangeIn,
    ) -> dict[str, Any]:
        gw = gateway_of(request)
        values = body.values() if body.goods else None
        hours = declarations.auth_hours_configured()
        return declarations.change(
            gw.db, gw.intake, who, record_id, body.reason, gate, values, auth_hours=hours
        ).as_dict()

    @api.post("/v1/border/{form}/declarations/{record_id}/revoke", status_code=201)
    def revoke(
        request: Request, form: FormName, record_id: int, who: TerminalDeclarant, body: RevokeIn
    ) -> dict[str, Any]:
        gw = gateway_of(request)
        return declarations.revoke(gw.db, gw.intake, who, record_id, body.reason).as_dict()


def _attachments(api: APIRouter) -> None:
    @api.post("/v1/border/attachments", status_code=201)
    async def attach(
        request: Request,
        who: TerminalDeclarant,
        file_name: Annotated[str, Query(min_length=1, max_length=attachments.MAX_NAME)],
        doc_type: Annotated[str, Query(min_length=1, max_length=10)],
    ) -> dict[str, Any]:
        try:  # one byte over is enough to refuse: never more is read
            data = await read_limited(request, attachments.MAX_BYTES)
        except BodyTooLarge:
            raise BodyTooLarge([attachments.too_large()]) from None
        return await run_in_threadpool(_attach, request, who, file_name, doc_type, data)

    @api.get("/v1/border/attachments/{sha256}")
    def download(
        sha256: Annotated[str, Path(max_length=64)], who: TerminalDeclarant, s: Db
    ) -> Response:
        name, data = attachments.download(s, who, sha256)
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"}
        return Response(data, media_type="application/pdf", headers=headers)


def _attach(
    request: Request, who: Declarant, file_name: str, doc_type: str, data: bytes
) -> dict[str, Any]:
    with gateway_of(request).db.session() as session:
        return attachments.upload(session, who, file_name, doc_type, data)


def _pages(api: APIRouter) -> None:
    @api.get("/v1/border/{form}/records")
    def records(form: FormName, who: TerminalDeclarant, s: Db, cond: Cond) -> dict[str, Any]:
        return queries.records(s, who, _FORMS[form], cond)

    @api.get("/v1/border/{form}/documents")
    def documents(form: FormName, who: TerminalDeclarant, s: Db, cond: Cond) -> dict[str, Any]:
        return queries.documents(s, who, _FORMS[form], cond)

    @api.get("/v1/border/declarations/{record_id}")
    def detail(record_id: int, who: TerminalDeclarant, s: Db) -> dict[str, Any]:
        return queries.detail(s, who, record_id)


def _admin(api: APIRouter) -> None:
    @api.put("/v1/border/places/{place_code}")
    def place(place_code: str, who: Auth, s: Db, body: PlaceIn) -> dict[str, Any]:
        _admin_only(who)
        row = store.save_place(
            s, place_code, body.name, body.district, body.operator_code, body.method
        )
        return {
            "placeCode": row.place_code,
            "name": row.name,
            "district": row.district,
            "operatorCode": row.operator_code,
            "method": row.method,
        }

    @api.put("/v1/border/catalogue")
    def catalogue(who: Auth, s: Db, body: CatalogueIn) -> dict[str, Any]:
        _admin_only(who)
        return {"loaded": store.load_catalogue(s, body.entries)}


def _admin_only(who: Any) -> None:
    if not getattr(who, "is_admin", False):
        raise AccessDenied("border places and the goods catalogue are the administrator's")
