"""HTTP routes of appointment clearance, included by `gateway.api` (R-APT-10, R-APT-11).

GET  /v1/appointments                    search: type=A|B, consignee, status, applied_from/_to,
                                         start_from/_to (≤ 15 days each, Beijing time; a
                                         missing _to is now, a missing _from is _to − 15 days;
                                         longer: 422 naming the parameter), pre_no
GET  /v1/appointments/{id}/receipts      every customs receipt of one application
POST /v1/appointments/batch-delete       {"ids": [...]}: saved ones only
GET  /v1/appointments/{id}/print         the application as a PDF (打印; after the first save)
POST /v1/appointments/{id}/copy          {"cop_no": "..."}: a new draft saved from it (复制)
GET  /v1/port-hours?from=&to=&port=      port working hours, ≤ 15 days
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gateway.appointments import printing, queries
from gateway.appointments.codes import CHINA_TZ
from gateway.core import records
from gateway.core.deps import Auth, Db, gateway_of, submitter
from gateway.core.models import utcnow


def _bj(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=CHINA_TZ) if at is not None and at.tzinfo is None else at


def router() -> APIRouter:
    api = APIRouter(tags=["appointments"])

    @api.get("/v1/appointments")
    def search(
        who: Auth,
        s: Db,
        type: Annotated[str, Query(pattern="^[AB]$")] = "A",  # noqa: A002 - the manual's name
        consignee: str | None = None,
        status: str | None = None,
        applied_from: datetime | None = None,
        applied_to: datetime | None = None,
        start_from: datetime | None = None,
        start_to: datetime | None = None,
        pre_no: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, Any]]:
        return queries.search(
            s, who, enterprise_type=type, consignee=consignee, status=status,
            applied=queries.Window(_bj(applied_from), _bj(applied_to)),
            appointment=queries.Window(_bj(start_from), _bj(start_to)),
            pre_no=pre_no, limit=limit,
        )  # fmt: skip

    @api.get("/v1/appointments/{doc_id}/receipts")
    def receipts(doc_id: int, who: Auth, s: Db) -> list[dict[str, Any]]:
        return queries.receipts(s, who, doc_id)

    @api.post("/v1/appointments/batch-delete")
    def batch_delete(
        who: Auth, s: Db, ids: Annotated[list[int], Body(embed=True)]
    ) -> dict[str, Any]:
        return {"deleted": queries.batch_delete(s, who, ids)}

    @api.get("/v1/appointments/{doc_id}/print", response_class=Response)
    def print_pdf(doc_id: int, who: Auth, s: Db) -> Response:
        pdf = printing.render(s, who, doc_id, utcnow())
        name = f"appointment-{doc_id}.pdf"
        headers = {"Content-Disposition": f'inline; filename="{name}"'}
        return Response(pdf, media_type="application/pdf", headers=headers)

    @api.post("/v1/appointments/{doc_id}/copy", status_code=201)
    async def copy(
        doc_id: int,
        request: Request,
        who: Auth,
        cop_no: Annotated[str, Body(embed=True)],
        enterprise: str | None = None,
    ) -> JSONResponse:
        gateway = gateway_of(request)
        with gateway.db.session() as s:
            data = records.copy_message(s, who, doc_id, {"copNo": cop_no})
        code = submitter(who, enterprise)
        result = await run_in_threadpool(gateway.intake.submit, code, data, "http")
        return JSONResponse(result.as_dict(), status_code=200 if result.duplicate else 201)

    @api.get("/v1/port-hours")
    def port_hours(
        who: Auth,
        s: Db,
        first: Annotated[date, Query(alias="from")],
        last: Annotated[date, Query(alias="to")],
        port: str | None = None,
    ) -> list[dict[str, Any]]:
        return queries.port_hours(s, first, last, port)

    return api
