"""The console's pages (server-rendered with Jinja2; htmx, vendored, refreshes the dashboard).

GET  /console                       dashboard (its body refreshed every REFRESH_SECONDS)
GET  /console/login, POST           log in (CSRF token of the login form; throttled)
POST /console/logout
GET  /console/lang/{zh|en}          the language switch (a cookie)
GET  /console/returned | signing | failures | receipts | audit          work lists
GET  /console/dead-letters[/{queue}]                                   queues, letters
GET  /console/dead-letters/{queue}/confirm?action=&id=…|all=1          the confirmation
POST /console/dead-letters/{queue}/{replay|discard}                    the action
POST /console/messages/{id}/retry                                      signing retry
GET  /console/records?q=&status=&kind=&page=, /console/records/{id}    records
GET  /console/messages/{id}/{original|signed|envelope}                 downloads

Every action calls what the CLI and the API call (`SigningWorker.retry`, `ops.recorded` +
`ops.replay_dead_letters` / `discard_dead_letters`) inside the audit log's `audited`, with
the console user as the actor (`console:<name>`).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from lxml import etree
from starlette.datastructures import FormData

from gateway import xmlsafe
from gateway.codes import CHINA_TZ
from gateway.core import audit, ops, queries
from gateway.core.console import auth, dashboard, i18n, users
from gateway.core.enterprises import Caller
from gateway.core.status import Status
from gateway.errors import AccessDenied, GatewayError, InvalidMessage, NotFound

HERE = Path(__file__).resolve().parent
REFRESH_SECONDS = 5
#: XML larger than this is shown cut (the downloads are whole)
XML_SHOWN = 200_000
ADMIN = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True
    )
)


def beijing(value: datetime | str | None, seconds: bool = True) -> str:
    """A time as Beijing time (the zone is named in each page's header)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def span(seconds: float | None) -> str:
    """A duration, short: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


templates.env.filters["bj"] = beijing
templates.env.filters["span"] = span


def actor(user: str) -> str:
    return f"console:{user}"


# --- who is asking ---------------------------------------------------------------------------


def sessions_of(request: Request) -> auth.Sessions:
    sessions: auth.Sessions = request.app.state.console_sessions
    return sessions


def _logged_in(request: Request) -> auth.Session:
    session = sessions_of(request).read(request)
    if session is None:
        raise auth.LoginRequired
    with request.app.state.gateway.db.session() as s:
        if users.current(s, session.user, session.tag) is None:
            raise auth.LoginRequired
    request.state.console = session
    return session


Who = Annotated[auth.Session, Depends(_logged_in)]


async def _posted(request: Request, who: Who) -> FormData:
    """A POST's form, once its CSRF token is the session's."""
    form = await request.form()
    value = form.get(auth.CSRF_FIELD)
    auth.check_csrf(who, request, value if isinstance(value, str) else None)
    return form


Posted = Annotated[FormData, Depends(_posted)]
Outcome = Annotated[str, Query(pattern="^(unmatched|unreadable|partly_matched|future|untrusted)$")]


def lang_of(request: Request) -> str:
    return i18n.language(request.cookies.get(auth.LANG_COOKIE))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    session: auth.Session | None = getattr(request.state, "console", None)
    context.update(
        request=request, lang=lang, t=i18n.translator(lang),
        status_label=partial(i18n.status_label, lang), user=session.user if session else None,
        csrf=session.csrf if session else context.get("csrf"), refresh=REFRESH_SECONDS,
        path=request.url.path, full_path=str(request.url.path) + (
            "?" + request.url.query if request.url.query else ""),
    )  # fmt: skip
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def gateway_of(request: Request) -> Any:
    return request.app.state.gateway


# --- pages -----------------------------------------------------------------------------------


def router() -> APIRouter:
    api = APIRouter(prefix="/console", include_in_schema=False)
    _login_routes(api)
    _dashboard_routes(api)
    _worklist_routes(api)
    _dead_letter_routes(api)
    _record_routes(api)
    return api


def _safe_next(target: str | None) -> str:
    """Only a console path (never another site: an open redirect)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


def _login_routes(api: APIRouter) -> None:
    @api.get("/login")
    def login_page(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
        return _login_form(request, _safe_next(next), None, 200)

    @api.post("/login")
    async def login(request: Request) -> Response:
        sessions = sessions_of(request)
        form = await request.form()
        name, password = str(form.get("user") or ""), str(form.get("password") or "")
        token = form.get(auth.CSRF_FIELD)
        sessions.check_login_csrf(request, token if isinstance(token, str) else None)
        target = _safe_next(str(form.get("next") or ""))
        client, throttle = auth.client_of(request), sessions.throttle
        wait = max(throttle.retry_after(client), throttle.retry_after("user:" + name[:64]))
        if wait:
            error = i18n.translator(lang_of(request))("login_throttled", seconds=wait)
            return _login_form(request, target, error, 429)
        db = gateway_of(request).db
        try:  # logins are ops actions too: who came in, and refused attempts (no password)
            with (
                audit.audited(db, actor(name[:64]), "console.login", f"client:{client}"),
                db.session() as s,
            ):
                who = users.authenticate(s, name, password)
        except AccessDenied:
            throttle.failed(client)
            throttle.failed("user:" + name[:64])
            error = i18n.translator(lang_of(request))("login_failed")
            return _login_form(request, target, error, 401)
        response = RedirectResponse(target, status_code=303)
        sessions.open(response, request, who.name, who.tag)
        return response

    @api.post("/logout")
    def logout(request: Request, _form: Posted) -> Response:
        response = RedirectResponse("/console/login", status_code=303)
        sessions_of(request).close(response)
        return response

    @api.get("/lang/{lang}")
    def switch_language(request: Request, lang: str, next: str | None = None) -> Response:  # noqa: A002
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            auth.LANG_COOKIE, i18n.language(lang), max_age=365 * 86400, path=auth.PATH,
            samesite="strict", httponly=True,
        )  # fmt: skip
        return response


def _login_form(request: Request, target: str, error: str | None, code: int) -> HTMLResponse:
    """The login page; its form's CSRF token also goes in a signed pre-session cookie."""
    probe = HTMLResponse()
    token = sessions_of(request).pre_session(request, probe)
    page = render(request, "login.html", status_code=code, next=target, csrf=token, error=error)
    for value in probe.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", value)
    return page


def _dashboard_routes(api: APIRouter) -> None:
    @api.get("")
    def home(request: Request, who: Who) -> HTMLResponse:
        return render(request, "dashboard.html", d=_dashboard(request))

    @api.get("/dashboard/body")
    def body(request: Request, who: Who) -> HTMLResponse:
        return render(request, "_dashboard_body.html", d=_dashboard(request))


def _dashboard(request: Request) -> dashboard.Dashboard:
    with gateway_of(request).db.session() as s:
        return dashboard.build(gateway_of(request), s)


def _worklist_routes(api: APIRouter) -> None:
    @api.get("/returned")
    def returned(request: Request, who: Who) -> HTMLResponse:
        with gateway_of(request).db.session() as s:
            rows = dashboard.documents_in(s, [Status.RETURNED.value])
        return render(
            request, "documents.html", title="returned", rows=rows, reason="customs_reason"
        )

    @api.get("/failures")
    def failures(request: Request, who: Who) -> HTMLResponse:
        with gateway_of(request).db.session() as s:
            rows = dashboard.documents_in(s, [f.value for f in dashboard.FAILURES])
        return render(request, "documents.html", title="failures", rows=rows, reason="reason")

    @api.get("/signing")
    def signing(request: Request, who: Who, done: str | None = None) -> HTMLResponse:
        with gateway_of(request).db.session() as s:
            rows = dashboard.signing_failures(s)
        return render(request, "signing.html", rows=rows, done=done)

    @api.post("/messages/{message_id}/retry")
    def retry(request: Request, message_id: int, who: Who, _form: Posted) -> Response:
        gw = gateway_of(request)
        target = f"message:{message_id}"
        # What POST /v1/messages/{id}/retry and `customs-gateway retry` do, as this user.
        with audit.audited(gw.db, actor(who.user), "message.retry", target) as done:
            with gw.db.session() as s:
                queries.get_message(s, ADMIN, message_id)
            done.requeued(gw.signer.retry(message_id))
        key = "retried" if done.outcome == audit.OK else "not_retried"
        return RedirectResponse(f"/console/signing?done={key}:{message_id}", status_code=303)

    @api.get("/receipts")
    def receipts(request: Request, who: Who, outcome: Outcome = "unmatched") -> HTMLResponse:
        with gateway_of(request).db.session() as s:
            rows = queries.receipts_by_outcome(s, outcome, dashboard.LIST_LIMIT)
        return render(request, "receipts.html", rows=rows, outcome=outcome)

    @api.get("/audit")
    def audit_log(request: Request, who: Who) -> HTMLResponse:
        with gateway_of(request).db.session() as s:
            rows = audit.listing(s, limit=dashboard.LIST_LIMIT)
        return render(request, "audit.html", rows=rows)


def _dead_letter_routes(api: APIRouter) -> None:
    @api.get("/dead-letters")
    def queues(request: Request, who: Who) -> HTMLResponse:
        gw = gateway_of(request)
        try:
            stats, error = ops.queue_stats(gw.config, gw.topology), None
        except Exception as exc:  # noqa: BLE001 - shown, not a 500
            stats, error = [], type(exc).__name__
        return render(request, "queues.html", queues=stats, error=error)

    @api.get("/dead-letters/{queue}")
    def letters(request: Request, queue: str, who: Who) -> HTMLResponse:
        gw = gateway_of(request)
        found = ops.list_dead_letters(gw.config, gw.topology, queue, 100)
        return render(request, "dead_letters.html", queue=queue, letters=found)

    @api.get("/dead-letters/{queue}/confirm")
    def confirm(
        request: Request, queue: str, who: Who,
        action: Annotated[str, Query(pattern="^(replay|discard)$")],
        id: Annotated[list[str] | None, Query()] = None,  # noqa: A002
        all: bool = False,  # noqa: A002
    ) -> HTMLResponse:  # fmt: skip
        gw = gateway_of(request)
        name = ops.resolve_queue(gw.config, gw.topology, queue)
        chosen = [] if all else (id or [])
        shown = [d for d in ops.list_dead_letters(gw.config, gw.topology, name, 1000)
                 if all or d.id in chosen]  # fmt: skip
        return render(
            request, "confirm.html", queue=queue, action=action, ids=chosen, every=all,
            letters=shown,
        )  # fmt: skip

    @api.post("/dead-letters/{queue}/{action}")
    def act(request: Request, queue: str, action: str, who: Who, form: Posted) -> HTMLResponse:
        if action not in ("replay", "discard"):
            raise NotFound(f"no dead-letter action {action!r}: replay or discard")
        gw = gateway_of(request)
        ids = None if form.get("all") == "1" else [str(v) for v in form.getlist("id")]
        if ids is not None and not ids:
            raise NotFound("name the dead letters to act on, or choose all")
        fn = ops.replay_dead_letters if action == "replay" else ops.discard_dead_letters
        # The same functions, and the same audit entry, as `ops replay` and the API.
        result = ops.recorded(
            gw.db, actor(who.user), f"dead_letters.{action}", queue,
            partial(fn, gw.config, gw.topology, queue, ids),
        )  # fmt: skip
        return render(request, "acted.html", queue=queue, result=result)


def _record_routes(api: APIRouter) -> None:
    @api.get("/records")
    def records(
        request: Request, who: Who, q: str = "", status: str = "", kind: str = "",
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    ) -> Response:  # fmt: skip
        q = q.strip()
        if q.isdigit():
            return RedirectResponse(f"/console/records/{int(q)}", status_code=303)
        flt = queries.DocumentFilter(kind or None, status or None, q or None, page=page,
                                     page_size=50)  # fmt: skip
        with gateway_of(request).db.session() as s:
            found = queries.list_documents(s, ADMIN, flt)
        more = found["total"] > page * found["page_size"]
        base = {"q": q, "status": status, "kind": kind}
        return render(
            request, "records.html", found=found, q=q, status=status, kind=kind,
            prev_url=_page_url(base, page - 1) if page > 1 else None,
            next_url=_page_url(base, page + 1) if more else None,
        )  # fmt: skip

    @api.get("/records/{doc_id}")
    def record(request: Request, doc_id: int, who: Who) -> HTMLResponse:
        with gateway_of(request).db.session() as s:
            last = queries.MAX_HISTORY_PAGE_SIZE
            view = queries.document_view(s, ADMIN, doc_id, history_last=last)
            newest = view["versions"][-1] if view["versions"] else None
            xml = _xml_parts(s, newest)
        return render(request, "record.html", v=view, xml=xml, newest=newest)

    @api.get("/messages/{message_id}/{part}")
    def download(request: Request, message_id: int, part: str, who: Who) -> Response:
        with gateway_of(request).db.session() as s:
            data = queries.message_part(s, ADMIN, message_id, part)
        name = quote(f"message-{message_id}-{part}.xml")
        return Response(
            content=data, media_type="application/xml",
            headers={"content-disposition": f"attachment; filename={name}"},
        )  # fmt: skip


def _xml_parts(session: Any, version: dict[str, Any] | None) -> dict[str, str]:
    """The newest version's archived parts, pretty-printed, by part name."""
    if version is None:
        return {}
    return {
        part: pretty_xml(queries.message_part(session, ADMIN, version["message_id"], part))
        for part in version["archived"]
    }


def _page_url(base: dict[str, str], page: int) -> str:
    return "/console/records?" + urlencode({**{k: v for k, v in base.items() if v}, "page": page})


def pretty_xml(data: bytes) -> str:
    """The XML indented for reading (parsed hardened); as it is when it does not parse."""
    shown = data[:XML_SHOWN]
    try:
        root = xmlsafe.parse(data).getroot()
        etree.indent(root, space="  ")
        text = etree.tostring(root, encoding="unicode")
    except (InvalidMessage, GatewayError, etree.LxmlError, ValueError):
        text = shown.decode("utf-8", "replace")
    return text if len(text) <= XML_SHOWN else text[:XML_SHOWN] + "\n…"
