"""The API's own pages (issue 17, item 5): `/docs` and `/redoc` reference only this server
and their assets are served from the package (offline); `X-API-Key` is a security scheme;
`POST /v1/messages` documents its XML body with an example per message type, and an example
taken from the document is accepted as it is (what "Try it out" sends). A real Chromium
renders both pages with every request outside the server refused, and in /docs authorizes
with a key, picks the order example and submits it: 201."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from gateway.core import registry
from gateway.core.api import create_app
from gateway.core.runtime import Gateway
from tests.stack import EBC_KEY, make_config

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    """A gateway over a real SQLite store; no broker needed for the pages."""
    gateway = Gateway(make_config(tmp_path, keys_dir, prefix="apidocs."))
    gateway.prepare(broker=False)
    yield gateway
    gateway.db.dispose()


@pytest.fixture
def client(gw: Gateway) -> Iterator[TestClient]:
    with TestClient(create_app(gw)) as c:
        yield c


def _references(html: str) -> list[str]:
    """Every URL the page loads: script/link sources, and the OpenAPI document it reads."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""", html)
    return found


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_load_only_local_assets_and_those_are_served(
    client: TestClient, page: str
) -> None:
    resp = client.get(page)
    assert resp.status_code == 200 and "text/html" in resp.headers["content-type"]
    urls = _references(resp.text)
    assert urls, resp.text
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "cdn" not in resp.text.lower() and "fonts.googleapis" not in resp.text
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url  # the real bundle, not an empty placeholder


def test_the_api_key_is_a_security_scheme_of_the_routes_that_read_it(
    client: TestClient,
) -> None:
    doc = client.get("/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    for path, method in (
        ("/v1/messages", "post"),
        ("/v1/documents", "get"),
        ("/v1/ops/queues", "get"),
        ("/metrics", "get"),
    ):
        operation = doc["paths"][path][method]
        assert {"ApiKey": []} in operation.get("security", []), (path, operation)
        headers = [p["name"].lower() for p in operation.get("parameters", [])]
        assert "x-api-key" not in headers  # a scheme, not a plain header field


def test_submit_documents_its_xml_body_with_an_example_per_message_type(
    client: TestClient,
) -> None:
    body = client.get("/openapi.json").json()["paths"]["/v1/messages"]["post"]["requestBody"]
    assert body["required"] is True
    examples = body["content"]["application/xml"]["examples"]
    declared = {k.message_type for s in registry.installed().systems.values() for k in s.kinds}
    shown = {e["summary"].split(":", 1)[0] for e in examples.values()}
    assert declared <= shown, sorted(declared - shown)
    assert all(e["value"].lstrip().startswith("<?xml") for e in examples.values())


def test_an_example_from_the_document_is_accepted_as_it_is(client: TestClient) -> None:
    """What "Try it out" sends: the example's XML, as application/xml, with the key."""
    body = client.get("/openapi.json").json()["paths"]["/v1/messages"]["post"]["requestBody"]
    order = body["content"]["application/xml"]["examples"]["CEB303-order"]["value"]
    resp = client.post(
        "/v1/messages",
        content=order.encode("utf-8"),
        headers={"X-API-Key": EBC_KEY, "content-type": "application/xml"},
    )
    assert resp.status_code == 201, resp.text
    assert [d["kind"] for d in resp.json()["documents"]] == ["order", "order"]


# --- a real browser, offline -----------------------------------------------------------------


@pytest.fixture
def served(gw: Gateway) -> Iterator[str]:
    """The API on a real socket (uvicorn in a thread), for the browser."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(gw), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="scripts/setup.sh installs Debian's chromium")
@pytest.mark.parametrize(
    ("page", "rendered"),
    [("/docs", ".swagger-ui .opblock-summary-path"), ("/redoc", "[role=menuitem]")],
)
def test_a_browser_renders_the_page_with_nothing_fetched_from_outside(
    served: str, page: str, rendered: str
) -> None:
    from playwright.sync_api import Route, sync_playwright

    outside: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith(served):
            route.continue_()
        else:  # the network a gateway often has: none
            outside.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            tab.route("**/*", only_local)
            tab.goto(served + page)
            tab.wait_for_selector(rendered, timeout=60_000)
            text = tab.inner_text("body")
        finally:
            browser.close()
    assert "/v1/messages" in text or "messages" in text.lower()
    # ReDoc's footer shows its maker's logo from their site: an image, refused here, and the
    # page works without it; no script, style, font or data comes from outside
    assert [u for u in outside if not u.startswith("image ")] == [], outside


@pytest.mark.skipif(not CHROMIUM.exists(), reason="scripts/setup.sh installs Debian's chromium")
def test_try_it_out_submits_an_example_with_the_authorized_key(served: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            tab.goto(served + "/docs")
            tab.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=60_000)
            tab.click("button.authorize")
            tab.fill(".auth-container input", EBC_KEY)
            tab.click(".auth-btn-wrapper button.authorize")
            tab.click(".auth-btn-wrapper button.btn-done")
            op = tab.locator("#operations-default-submit_v1_messages_post")
            op.locator(".opblock-summary").click()
            op.locator("button.try-out__btn").click()
            body = op.locator("textarea.body-param__text")
            # the default example is the order, as the XML it is (not wrapped nor escaped)
            assert body.input_value().startswith("<?xml") and "CEB303Message" in body.input_value()
            op.locator(".opblock-section-request-body select").nth(1).select_option(
                label="CEB303Message: order (ecx)"
            )
            op.locator("button.execute").click()
            status = op.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=60_000)
            answer = op.locator(".live-responses-table tbody .response-col_description").first
            code, shown = status.inner_text().strip(), answer.inner_text()
        finally:
            browser.close()
    assert code == "201", shown
    assert "pending_sign" in shown
