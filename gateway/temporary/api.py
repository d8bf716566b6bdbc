"""HTTP routes of temporary goods, included by the core's app (seed 002 §1.2).

GET /v1/exhibitions             the exhibition registration query: customs, status,
                                filled_from / filled_to (YYYY-MM-DD, Beijing dates), page, size;
                                no condition lists all of the caller's registrations
GET /v1/exhibitions/{doc_id}    one registration: its form, history and customs receipts

Saving, declaring, changing and applying for deletion are messages (TMP101/103/105), sent
through the core's intake like every declaration (POST /v1/messages, the queue, the folder).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.core.deps import Auth, Db
from gateway.temporary import queries


def router() -> APIRouter:
    api = APIRouter(tags=["temporary goods"])

    @api.get("/v1/exhibitions")
    def search(
        who: Auth,
        s: Db,
        customs: Annotated[str | None, Query(max_length=4)] = None,
        status: Annotated[str | None, Query(max_length=30)] = None,
        filled_from: date | None = None,
        filled_to: date | None = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=queries.MAX_SIZE)] = 20,
    ) -> dict[str, Any]:
        cond = queries.Conditions(customs, status, filled_from, filled_to, page, size)
        return queries.search(s, who, cond)

    @api.get("/v1/exhibitions/{doc_id}")
    def detail(doc_id: int, who: Auth, s: Db) -> dict[str, Any]:
        return queries.detail(s, who, doc_id)

    return api
