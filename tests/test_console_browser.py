"""The ops console driven in a real headless Chromium (Debian's `chromium` at /usr/bin/chromium,
driven by Playwright; no browser is downloaded) against a real gateway: workers, simulated
customs and RabbitMQ (the `stack` fixture), the HTTP app served by uvicorn.

Log in, see the dashboard update by itself after a declaration is pushed, open the record's
history, replay a dead letter through its confirmation, switch the language, and see Chinese
rendered with a CJK font (fonts-wqy-microhei). The test fails, never skips, when the browser is
missing (scripts/setup.sh installs it). It writes docs/screenshots/console-dashboard.png and
console-record.png.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway.core import audit
from gateway.core.api import create_app
from gateway.core.console import users
from gateway.ecx import samples
from tests.stack import EBC_KEY, PLATFORM, Stack
from tests.transport_fixtures import AMQP_URL, ready_count, wait_for

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
USER, PASSWORD = "ops-admin", "console password 1"
#: how long the browser waits for what the gateway does in the background (a loaded machine)
SLOW = 60_000
#: any page or element: generous, the machine is shared (never a fixed sleep: these poll)
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no browser at {CHROMIUM}: the console's browser tests need Debian's chromium "
            "(apt-get install chromium, as scripts/setup.sh does)"
        )
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def served(stack: Stack) -> Iterator[str]:
    """The gateway's HTTP app (API and console) on a free port; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(stack.gateway), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, timeout=30), "uvicorn did not start"
    with stack.gateway.db.session() as s:
        users.add(s, USER, PASSWORD)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(SLOW)
    yield context.new_page()
    context.close()


def _log_in(page: Page, base: str) -> None:
    page.goto(base + "/console")
    expect(page).to_have_url(f"{base}/console/login?next=%2Fconsole")
    page.fill("#user", USER)
    page.fill("#password", PASSWORD)
    page.click("#login")
    expect(page).to_have_url(base + "/console")


def _dead_letter(stack: Stack) -> str:
    """A declaration the gateway refuses on the inbound queue: dead-lettered with x-death."""
    topo = stack.gateway.topology
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        props = pika.BasicProperties(message_id="console-dead-1")
        channel.basic_publish(topo.intake_exchange, "declaration", b"<not-xml", props)
        dead = topo.dead_queue(topo.inbound_queue)
        assert wait_for(lambda: ready_count(channel, dead) == 1, timeout=60)
    finally:
        connection.close()
    return topo.inbound_queue


def test_the_console_in_a_real_browser(stack: Stack, served: str, page: Page) -> None:
    _log_in(page, served)
    # Chinese by default, drawn with a CJK font the system has (not boxes)
    expect(page.locator("h1")).to_contain_text("仪表盘")
    expect(page.locator("#zone")).to_have_text("北京时间 (UTC+8)")
    assert page.evaluate("document.fonts.check('16px \"WenQuanYi Micro Hei\"', '仪表盘')")
    expect(page.locator("#total-records")).to_have_text("0")

    # A declaration pushed over the API: the dashboard shows it without a reload (htmx).
    order_no = "EO2026120500001"
    answer = httpx.post(
        served + "/v1/messages",
        content=samples.order_message(stack.ebc, PLATFORM, [order_no]),
        headers={"X-API-Key": EBC_KEY},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    doc_id = answer.json()["documents"][0]["id"]
    expect(page.locator("#total-records")).to_have_text("1", timeout=SLOW)
    expect(page.locator('[data-count="ecx:stored"]')).to_have_text("1", timeout=SLOW)
    expect(page.locator("#last-receipt")).not_to_contain_text("从未收到", timeout=SLOW)

    # The record's page: its history from the gateway's steps to customs' 120.
    page.click('a[href="/console/records?status=stored"]')
    page.click(f'a[href="/console/records/{doc_id}"]')
    expect(page.locator("#business-key")).to_contain_text(order_no)
    history = page.locator("#history li")
    expect(history.first).to_contain_text("待加签")
    expect(history.last).to_contain_text("海关入库 (stored)")
    expect(page.locator("#xml-original")).to_contain_text(order_no)
    expect(page.locator('a.dl[data-part="signed"]')).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "console-record.png"), full_page=True)

    # A dead letter, replayed through its confirmation; the audit log names the console user.
    queue = _dead_letter(stack)
    page.goto(f"{served}/console/dead-letters")
    page.click(f'a[href="/console/dead-letters/{queue}"]')
    page.check("#pick-1")
    page.click("#replay-selected")
    expect(page.locator("#question")).to_contain_text(f"重放回队列 {queue}")
    page.click("#confirm")
    expect(page.locator("#result")).to_have_text("已重放：1")
    with stack.gateway.db.session() as s:
        (entry,) = audit.listing(s, action="dead_letters.replay")
    assert (entry["actor"], entry["outcome"]) == (f"console:{USER}", "ok")
    assert entry["detail"]["done"] == ["console-dead-1"]
    page.goto(f"{served}/console/audit")
    expect(page.locator("#audit")).to_contain_text(f"console:{USER}")

    # The replayed letter is refused again, so dead again: the dashboard counts it.
    page.goto(served + "/console")
    expect(page.locator("#wl-dead")).to_have_text("1", timeout=SLOW)
    page.screenshot(path=str(SCREENSHOTS / "console-dashboard.png"), full_page=True)

    # The English switch, kept for the next pages.
    page.click("#lang-switch")
    expect(page.locator("#zone")).to_have_text("Beijing time (UTC+8)")
    page.goto(served + "/console")
    expect(page.locator("h1")).to_contain_text("Dashboard")


def test_the_dashboard_sends_the_user_back_to_log_in_when_the_session_ends(
    stack: Stack, served: str, page: Page
) -> None:
    _log_in(page, served)
    with stack.gateway.db.session() as s:
        users.set_disabled(s, USER, True)
    # the next refresh of the dashboard (htmx) takes the whole page to the login form
    expect(page).to_have_url(f"{served}/console/login?next=%2Fconsole", timeout=SLOW)
