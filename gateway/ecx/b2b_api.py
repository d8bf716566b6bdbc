"""HTTP routes of B2B报关单查询 (manual 004 §6.1, R-ECX-9), mounted before the export lists'
`/v1/export/{list}` so that `b2b` names the customs declarations, not a list kind:

GET /v1/export/b2b                 declarations by entry_from/entry_to (入库时间, ≤ 1 calendar
                                   month, R-COM-7; default the month up to now),
                                   statisticsFlag (业务类型), entryStatus (业务状态),
                                   summaryState (汇总状态), tradeMode (贸易方式), seqNo,
                                   entryId, invtNo, customsCode; paged
GET /v1/export/b2b/{seqNo}         报关单详情: head, lines, the customs message's receipt id

The inventory lists with trade mode 9710/9810 stay listed as `/v1/export/b2b_lists`.

The router's lifespan keeps the customs code tables of an HTTP-only process fresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from gateway.core.deps import Auth, Db, page_param
from gateway.core.queries import MAX_PAGE_SIZE
from gateway.ecx import b2b, codetables

log = logging.getLogger(__name__)


@asynccontextmanager
async def _code_tables(app: FastAPI) -> AsyncIterator[None]:
    """A process serving HTTP checks intake against the customs code tables too: it keeps
    them in step with the database while it serves (gateway/ecx/codetables.py)."""
    db, stop = app.state.gateway.db, threading.Event()
    await run_in_threadpool(_first_read, db)
    thread = threading.Thread(target=codetables.run_refresher, args=(db, stop),
                              name="ecx-codes", daemon=True)  # fmt: skip
    thread.start()
    yield
    stop.set()


def _first_read(db: Any) -> None:
    try:
        with db.session() as session:
            codetables.refresh(session)
    except SQLAlchemyError as exc:  # not migrated yet, or restarting: the refresher retries
        log.warning("code tables not read at start: %s", type(exc).__name__)


def router() -> APIRouter:
    api = APIRouter(tags=["export"], lifespan=_code_tables)

    @api.get("/v1/export/b2b")
    def b2b_declarations(
        request: Request,
        who: Auth,
        s: Db,
        entry_from: datetime | None = None,
        entry_to: datetime | None = None,
        page: Annotated[int, page_param(MAX_PAGE_SIZE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> dict[str, Any]:
        match = {k: v for k in b2b.FILTERS if (v := request.query_params.get(k))}
        flt = b2b.B2BFilter(entry_from, entry_to, match, page, page_size)
        return b2b.search(s, who, flt)

    @api.get("/v1/export/b2b/{seq_no}")
    def b2b_declaration(seq_no: str, who: Auth, s: Db) -> dict[str, Any]:
        return b2b.detail(s, who, seq_no)

    return api
