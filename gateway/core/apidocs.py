"""The API's documentation pages, `/docs` (Swagger UI) and `/redoc`, working offline
(issue 17, item 5).

FastAPI's own pages load their scripts from a CDN; a gateway inside a customs broker's network
often reaches none. The Swagger UI and ReDoc assets come from the `fastapi-offline` package
and are served under `/docs-assets/`, so the pages reference only this server.

The OpenAPI document also says what a client needs to try the API from those pages:
`X-API-Key` is a security scheme (`api_key.API_KEY`: the pages' "Authorize" sends it), and
`POST /v1/messages` documents its XML body (`application/xml`) with one example per message
type of the installed systems, read from the repository's `examples/` folder (the same files
`tests/test_examples.py` validates), so "Try it out" can submit one as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs-assets"
#: the example messages (a source checkout; an installed wheel documents the body without them)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUBMIT_PATH = "/v1/messages"
#: the example listed first: "Try it out"'s default body
FIRST = "CEB303-order"


def install(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their assets from the package; document the XML body."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} — API",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} — API reference",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.openapi = _with_xml_body(app.openapi)  # type: ignore[method-assign]


def _with_xml_body(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI builds it once and keeps it (app.openapi_schema)
        post = schema.get("paths", {}).get(SUBMIT_PATH, {}).get("post")
        if post is not None and "requestBody" not in post:
            post["requestBody"] = submit_body()
        return schema

    return openapi


def submit_body() -> dict[str, Any]:
    """`POST /v1/messages`' body: one declaration message as XML (R-COM-1), an example per
    message type."""
    # An XML document is an element: "object" with its element name. Swagger UI then takes a
    # literal string example as it is; with "string" it would wrap and escape it
    # (<notagname>&lt;?xml…), and "Try it out" would send that.
    media: dict[str, Any] = {
        "schema": {
            "type": "object",
            "xml": {"name": "Message"},
            "description": "one declaration message: its root element is the message type",
        }
    }
    examples = message_examples()
    if examples:
        media["examples"] = examples
    return {
        "required": True,
        "description": (
            "One declaration message of an installed business system, UTF-8 XML, as the"
            " standard defines it (signed by the gateway, not by you). Its BaseTransfer must"
            " name the key's enterprise (R-COM-3)."
        ),
        "content": {"application/xml": media, "text/xml": media},
    }


@cache
def message_examples(folder: Path = EXAMPLES) -> dict[str, dict[str, str]]:
    """`examples/<system>/<TYPE>-<what>.xml` of the message types the registry knows."""
    from gateway.core import registry

    found: dict[str, dict[str, str]] = {}
    # the first is "Try it out"'s default body: an order, which an e-commerce enterprise's key
    # submits as it is (the others' rules may need reference data or an earlier record)
    for path in sorted(folder.glob("*/*.xml"), key=lambda p: (p.stem != FIRST, p)):
        message_type = path.name.split("-", 1)[0] + "Message"
        if path.parent.name == "broken" or registry.for_message(message_type) is None:
            continue
        found[path.stem] = {
            "summary": f"{message_type}: {path.stem.split('-', 1)[-1]} ({path.parent.name})",
            "value": path.read_text(encoding="utf-8"),
        }
    return found
