"""The ops console: server-rendered pages at `/console` for the gateway's operators
(docs/console.md).

FastAPI + Jinja2 templates, htmx (vendored in `static/`, nothing loaded from the internet, no
JavaScript build) for the dashboard's refresh; behind a login of console users
(`customs-gateway console-user add NAME`), a signed session cookie and a CSRF token on every
POST (`auth.py`); Chinese with an English switch (`i18n.py`); times in Beijing time. Every
action goes through the functions the CLI and the API use and is entered in the audit log
with the console user's name. The business systems' own dashboard tables come through
`BusinessSystem.console_panels`: the console names no system.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.core.console import auth, routes, webhook_pages
from gateway.errors import GatewayError, MisuseError, NotFound

STATIC = routes.HERE / "static"


def install(app: FastAPI, gateway: Any) -> None:
    """Mount the console on the gateway's HTTP app."""
    app.state.console_sessions = auth.Sessions(gateway.config.state_dir)
    app.include_router(routes.router())
    app.include_router(webhook_pages.router())
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    previous = app.exception_handlers.get(GatewayError)

    @app.exception_handler(auth.LoginRequired)
    async def _login(request: Request, _exc: auth.LoginRequired) -> Response:
        target = "/console/login?next=" + routes.quote(_current(request), safe="")
        if request.headers.get("hx-request"):  # htmx: reload the whole page at the login
            return Response(status_code=200, headers={"hx-redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(auth.CsrfRefused)
    async def _csrf(request: Request, _exc: auth.CsrfRefused) -> Response:
        return routes.render(request, "error.html", status_code=403, message_key="csrf")

    @app.exception_handler(GatewayError)
    async def _error(request: Request, exc: GatewayError) -> Response:
        if not request.url.path.startswith("/console"):
            if previous is not None:
                answer = previous(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
            return JSONResponse(exc.as_dict(), status_code=400)
        code = 404 if isinstance(exc, NotFound) else 400 if isinstance(exc, MisuseError) else 503
        return routes.render(request, "error.html", status_code=code, message=exc.message)


def _current(request: Request) -> str:
    path = request.url.path
    if path.startswith("/console/dashboard/") or request.method != "GET":
        return "/console"
    return path + ("?" + request.url.query if request.url.query else "")
