"""HTTP routes of appointment clearance, included by `gateway.api` (R-APT-10, R-APT-11).

GET  /v1/appointments                    search: type=A|B, consignee, status, applied_from/_to,
                                         start_from/_to (≤ 15 days each, Beijing time; a
                                         missing _to is now, a missing _from is _to − 15 days;
                                         longer: 422 naming the parameter), pre_no
GET  /v1/appointments/{id}/receipts      every customs receipt of one application
POST /v1/appointments/batch-delete       {"ids": [...]}: saved ones only
GET  /v1/port-hours?from=&to=&port=      port working hours, ≤ 15 days
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from gateway.appointments import queries
from gateway.appointments.codes import CHINA_TZ
from gateway.core.deps import Auth, Db


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
