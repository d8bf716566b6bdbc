"""HTTP routes of the export set's batch work and queries, included by `gateway.api`.

POST /v1/batches/declare                  {"ids": [...]}: declare saved records (R-ECX-3, R-COM-2)
POST /v1/batches/delete                   {"ids": [...]}: delete records (appType 3, R-COM-5)
POST /v1/parcels/{kind}                   {"head": {...}, "parcels": [...]}: kind arrival,
                                          departure or waybill_total, split and submitted
GET  /v1/export/{list}                    list inventories, b2b_lists, revokes, returns, tallies,
                                          summaries, arrivals, departures, waybill_totals,
                                          orders, waybills by group, status (one business
                                          state of the group, 业务状态, R-COM-7; outside
                                          it: 422 naming status), entry_from/entry_to
                                          (≤ 1 calendar month, R-COM-7; a missing entry_to
                                          is now, a missing entry_from a month before the
                                          end; longer: 422 naming the parameter), copNo,
                                          coElNo, orderNo, logisticsNo, invtNo, tradeMode,
                                          statisticsFlag, customsCode, summaryState, ebcCode,
                                          logisticsCode; paged
GET  /v1/export/records/{id}/print        any export record's declaration data as a PDF
                                          (打印, Alt+P)

Batch answers are 200 with one result per id, done or refused with the rule: one refused
record is not an error of the request.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.core.deps import Auth, Db, gateway_of, page_param, read_limited, submitter
from gateway.core.models import utcnow
from gateway.core.runtime import Gateway
from gateway.ecx import batches, parcels, printing
from gateway.ecx import queries as export_queries
from gateway.errors import InvalidMessage, Violation

Gw = Annotated[Gateway, Depends(gateway_of)]
Ids = Annotated[list[int], Body(embed=True, max_length=10_000)]
FILTERS = (
    "copNo", "coElNo", "orderNo", "logisticsNo", "invtNo", "tradeMode", "statisticsFlag",
    "customsCode", "summaryState", "ebcCode", "logisticsCode",
)  # fmt: skip


def router() -> APIRouter:
    api = APIRouter(tags=["export"])

    @api.post("/v1/batches/{action}")
    async def batch(action: str, ids: Ids, who: Auth, gw: Gw) -> dict[str, Any]:
        report = await run_in_threadpool(batches.run, gw.intake, who, action, ids)
        return report.as_dict()

    @api.post("/v1/parcels/{kind}", status_code=201)
    async def split_parcels(
        kind: str, request: Request, who: Auth, gw: Gw, enterprise: str | None = None
    ) -> JSONResponse:
        head, items = _parcels_body(await _body(request))
        per = gw.config.intake.parcels_per_message
        code = submitter(who, enterprise)
        result = await run_in_threadpool(
            lambda: parcels.submit(gw.intake, code, kind, head, items, per_message=per)
        )
        status = 201 if all(p.error is None for p in result.parts) else 207
        return JSONResponse(result.as_dict(), status_code=status)

    @api.get("/v1/export/records/{doc_id}/print", response_class=Response)
    def print_record(doc_id: int, who: Auth, s: Db) -> Response:
        pdf = printing.render(s, who, doc_id, utcnow())
        headers = {"Content-Disposition": f'inline; filename="export-{doc_id}.pdf"'}
        return Response(pdf, media_type="application/pdf", headers=headers)

    @api.get("/v1/export/{name}")
    def export_list(
        name: str,
        request: Request,
        who: Auth,
        s: Db,
        group: str = export_queries.ALL,
        status: str | None = None,
        entry_from: datetime | None = None,
        entry_to: datetime | None = None,
        page: Annotated[int, page_param(export_queries.MAX_PAGE_SIZE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=export_queries.MAX_PAGE_SIZE)] = 50,
    ) -> dict[str, Any]:
        match = {k: v for k in FILTERS if (v := request.query_params.get(k))}
        flt = export_queries.ExportFilter(
            group, entry_from, entry_to, match, page, page_size, status or None
        )
        return export_queries.search(s, who, name, flt)

    return api


async def _body(request: Request) -> Any:
    data = await read_limited(request, gateway_of(request).config.http.max_body_bytes)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidMessage([Violation("R-COM-1", "(body)", f"not JSON: {exc}")]) from None


def _parcels_body(body: Any) -> tuple[dict[str, Any], list[Any]]:
    head = body.get("head") if isinstance(body, dict) else None
    items = body.get("parcels") if isinstance(body, dict) else None
    problems = []
    if not isinstance(head, dict):
        problems.append(Violation("R-COM-1", "head", "an object of head fields is required"))
    if not isinstance(items, list):
        problems.append(Violation("R-COM-1", "parcels", "a list of parcels is required"))
    if problems:
        raise InvalidMessage(problems)
    assert isinstance(head, dict) and isinstance(items, list)
    return head, items
