"""The console's webhook pages: deliveries that failed every try (dead), replayed behind a
confirmation through `webhooks.replay` — what `ops webhooks replay ID…` calls, audited as
`webhooks.replay` with the console user (docs/webhooks.md).

GET  /console/webhooks                    dead deliveries
GET  /console/webhooks/confirm?id=…       the confirmation
POST /console/webhooks/replay             the replay
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from gateway.core import webhooks
from gateway.core.console.routes import Posted, Who, actor, gateway_of, render
from gateway.errors import InvalidInput

LIMIT = 200


def router() -> APIRouter:
    api = APIRouter(prefix="/console/webhooks", include_in_schema=False)

    @api.get("")
    def dead(request: Request, who: Who) -> HTMLResponse:
        with gateway_of(request).db.session() as s:
            rows = webhooks.listing(s, webhooks.State.DEAD, LIMIT)
            counts = webhooks.counts(s)
        return render(request, "webhooks.html", rows=rows, counts=counts)

    @api.get("/confirm")
    def confirm(
        request: Request,
        who: Who,
        id: Annotated[list[int] | None, Query()] = None,  # noqa: A002
    ) -> HTMLResponse:
        chosen = sorted(set(id or []))
        with gateway_of(request).db.session() as s:
            dead = webhooks.listing(s, webhooks.State.DEAD, 10_000)
        rows = [r for r in dead if r["id"] in chosen]
        return render(request, "webhooks_confirm.html", ids=chosen, rows=rows)

    @api.post("/replay")
    def replay(request: Request, who: Who, form: Posted) -> HTMLResponse:
        try:
            ids = [int(str(v)) for v in form.getlist("id")]
        except ValueError:
            raise InvalidInput("id: webhook delivery ids are numbers") from None
        result = webhooks.replay(gateway_of(request).db, ids, actor(who.user))
        return render(request, "webhooks_done.html", result=result)

    return api
