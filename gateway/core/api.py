"""The HTTP API (FastAPI). Authenticated by `X-API-Key`; an enterprise sees only its records.

POST /v1/messages                 submit one XML message (body = the XML bytes)
GET  /v1/documents                list, filtered by kind/status/business_key/time, paged
GET  /v1/documents/{id}           one record with its status history and versions
GET  /v1/messages/{id}/{part}     archived original / signed / envelope bytes
POST /v1/messages/{id}/retry      put a message that failed to sign back in the queue
GET  /v1/receipts?outcome=…       receipts for ops (admin): unmatched, unreadable…
GET  /v1/stats                    document counts by status
GET  /v1/ops/…                    ops tools (admin): queues, dead letters, stuck records (ops.py)
GET  /v1/summaries…               summary declarations (R-ECX-8; summary/api.py)
POST /v1/batches/…, /v1/parcels/…, GET /v1/export/…   export batches and queries (export_api.py)
GET  /metrics                     Prometheus metrics (admin key or bearer token; metrics.py)
GET  /healthz                     liveness
GET  /docs, /redoc                the API's pages, offline (apidocs.py); /openapi.json
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.core import admin, apidocs, audit, console, metrics, ops, queries, registry
from gateway.core.deps import (
    Auth,
    Db,
    gateway_of,
    ints_in_range,
    page_param,
    read_limited,
    submitter,
)
from gateway.core.runtime import Gateway
from gateway.errors import (
    AccessDenied,
    BodyTooLarge,
    BodyTooSlow,
    DuplicateDocument,
    GatewayError,
    InvalidMessage,
    NotFound,
    PoolExhausted,
    StateConflict,
)

STATUS_BY_ERROR: list[tuple[type[GatewayError], int]] = [
    (DuplicateDocument, 409),
    (StateConflict, 409),
    (InvalidMessage, 422),
    (AccessDenied, 401),
    (NotFound, 404),
]


def http_status(exc: GatewayError) -> int:
    for cls, code in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return code
    return 503 if exc.retryable else 400


Gw = Annotated[Gateway, Depends(gateway_of)]


def create_app(gateway: Gateway) -> FastAPI:
    # ints_in_range: an integer parameter past the database's range is a 422, on every route
    app = FastAPI(
        title="Customs EDI gateway",
        version="0.1.0",
        dependencies=[Depends(ints_in_range)],
        docs_url=None,  # served offline by apidocs.install, with the package's assets
        redoc_url=None,
    )
    app.state.gateway = gateway
    apidocs.install(app)
    limit = gateway.config.http.max_body_bytes

    @app.exception_handler(GatewayError)
    async def _gateway_error(_request: Request, exc: GatewayError) -> JSONResponse:
        code = 413 if isinstance(exc, BodyTooLarge) else http_status(exc)
        if isinstance(exc, BodyTooSlow):  # the rest of the body may still trickle in: hang up
            return JSONResponse(exc.as_dict(), status_code=408, headers={"connection": "close"})
        if isinstance(exc, PoolExhausted):  # 503: the client may come back after a pause
            return JSONResponse(
                exc.as_dict(), status_code=code, headers={"retry-after": str(exc.retry_after)}
            )
        return JSONResponse(exc.as_dict(), status_code=code)

    # The submission and health routes first: routes are matched in order, and scanning the
    # included routers before them was a tenth of an HTTP process's time under load (#15).
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/messages", status_code=201)
    async def submit(request: Request, who: Auth, enterprise: str | None = None) -> JSONResponse:
        data = await read_limited(request, limit)
        code = submitter(who, enterprise)
        # Intake is synchronous (lxml, SQLAlchemy): run it off the event loop.
        result = await run_in_threadpool(gateway.intake.submit, code, data, "http")
        return JSONResponse(result.as_dict(), status_code=200 if result.duplicate else 201)

    app.include_router(ops.router())
    app.include_router(admin.router())
    admin.install_throttle(app, gateway.config.auth)  # repeated bad keys: 429 (issue 11)
    app.include_router(metrics.router())
    console.install(app, gateway)  # the ops console at /console (gateway/core/console/)
    for system in registry.installed().systems.values():  # each system's own routes
        for router in system.routers:
            app.include_router(router())

    @app.get("/v1/documents")
    def list_documents(
        who: Auth,
        s: Db,
        kind: str | None = None,
        status: str | None = None,
        business_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: Annotated[int, page_param(queries.MAX_PAGE_SIZE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 50,
    ) -> dict[str, Any]:
        flt = queries.DocumentFilter(kind, status, business_key, since, until, page, page_size)
        return queries.list_documents(s, who, flt)

    @app.get("/v1/documents/{doc_id}")
    def get_document(
        doc_id: int,
        who: Auth,
        s: Db,
        history_page: Annotated[int, Query(ge=1, le=queries.MAX_HISTORY_PAGE)] = 1,
        history_page_size: Annotated[
            int, Query(ge=1, le=queries.MAX_HISTORY_PAGE_SIZE)
        ] = queries.HISTORY_PAGE_SIZE,
    ) -> dict[str, Any]:
        return queries.document_view(s, who, doc_id, history_page, history_page_size)

    @app.get("/v1/messages/{message_id}/{part}")
    def get_part(message_id: int, part: str, who: Auth, s: Db) -> Response:
        data = queries.message_part(s, who, message_id, part)
        return Response(content=data, media_type="application/xml")

    @app.post("/v1/messages/{message_id}/retry")
    def retry(message_id: int, who: Auth) -> dict[str, Any]:
        target = f"message:{message_id}"
        with audit.audited(gateway.db, audit.actor(who), "message.retry", target) as done:
            with gateway.db.session() as s:  # closed before retry() takes a connection of its own
                queries.get_message(s, who, message_id)  # visibility check
            done.requeued(gateway.signer.retry(message_id))
        return {"message_id": message_id, **done.detail}

    @app.get("/v1/receipts")
    def receipts(
        who: Auth,
        s: Db,
        outcome: str = "unmatched",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        if not who.is_admin:
            raise AccessDenied("receipts that matched no record are shown to admins only")
        return queries.receipts_by_outcome(s, outcome, limit)

    @app.get("/v1/stats")
    def stats(who: Auth, s: Db) -> dict[str, int]:
        return queries.status_counts(s, who)

    @app.get("/v1/cards")
    def cards(who: Auth, s: Db, warn_days: Annotated[int, Query(ge=0)] = 30) -> list[Any]:
        from gateway.core.cards import keyring_health

        if not who.is_admin:
            raise AccessDenied("card health is shown to admins only")
        return keyring_health(s, gateway.keyring, warn_days)

    return app
