"""The ops console over HTTP (FastAPI's test client against a real gateway, broker and
database): who may log in and how (scrypt hashes, signed session cookie, CSRF on every POST,
throttled login), the pages, the actions going through the ops functions and the audit log,
and the `console-user` command. The browser tests are in tests/test_console_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gateway.core import audit
from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.console import auth, i18n, users
from gateway.core.models import Document
from gateway.core.status import Status
from gateway.ecx import samples
from tests.stack import PLATFORM, Stack, raw_config

PASSWORD = "correct horse battery"  # noqa: S105 - a test user's
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _user(stack: Stack, name: str = "ops-admin", password: str = PASSWORD) -> None:
    with stack.gateway.db.session() as s:
        users.add(s, name, password)


def _token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, html[:500]
    return found.group(1)


def _login(client: TestClient, name: str = "ops-admin", password: str = PASSWORD) -> str:
    """Log in through the form; the session's CSRF token (from the dashboard's forms)."""
    form = client.get("/console/login")
    assert form.status_code == 200
    answer = client.post(
        "/console/login",
        data={"user": name, "password": password, "csrf_token": _token(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:300]
    page = client.get("/console")
    assert page.status_code == 200
    return _token(page.text)


@pytest.fixture
def idle(make_stack) -> Stack:
    return make_stack("idle")  # workers not started: queues only fill


# --- passwords -------------------------------------------------------------------------------


def test_passwords_are_scrypt_hashes_checked_in_constant_form() -> None:
    stored = users.hash_password(PASSWORD)
    assert stored.startswith("scrypt$32768$8$1$") and PASSWORD not in stored
    assert users.verify_password(PASSWORD, stored)
    assert not users.verify_password(PASSWORD + "x", stored)
    assert users.hash_password(PASSWORD) != stored  # a salt of its own each time
    assert not users.verify_password(PASSWORD, "plain-text")  # never taken for a hash
    with pytest.raises(users.InvalidInput, match="at least 12"):
        users.check_password("short")
    with pytest.raises(users.InvalidInput, match="console user name"):
        users.check_name("bad name/")


def test_both_languages_have_every_word() -> None:
    assert all(len(pair) == 2 and all(pair) for pair in i18n.WORDS.values())
    assert i18n.translator("zh")("dashboard") == "仪表盘"
    assert i18n.translator("en")("dashboard") == "Dashboard"
    assert i18n.language("fr") == "zh"


# --- login, session, CSRF --------------------------------------------------------------------


def test_pages_need_a_login_and_the_session_cookie_is_strict(idle: Stack) -> None:
    _user(idle)
    with TestClient(create_app(idle.gateway)) as client:
        for path in ("/console", "/console/returned", "/console/records/1", "/console/audit"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"].startswith(
                "/console/login?next="
            ), path
        htmx = client.get("/console/dashboard/body", headers={"HX-Request": "true"})
        assert htmx.headers["hx-redirect"].startswith("/console/login")
        _login(client)
        cookie = next(
            c for c in client.cookies.jar if c.name == auth.COOKIE
        )  # signed, not readable by scripts, never sent cross-site
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/console"
        assert cookie.get_nonstandard_attr("SameSite").lower() == "strict"
        assert "ops-admin" not in cookie.value.split(".")[-1]
        page = client.get("/console")
        assert "仪表盘" in page.text and "北京时间 (UTC+8)" in page.text
        assert '<script src="/console/static/htmx.min.js">' in page.text
        assert "http://" not in page.text and "https://" not in page.text  # nothing from outside
        assert client.get("/console/static/htmx.min.js").status_code == 200
        # a forged cookie is no session
        client.cookies.set(auth.COOKIE, cookie.value[:-2] + "xx", path="/console")
        assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(idle: Stack) -> None:
    _user(idle)
    with TestClient(create_app(idle.gateway)) as client:
        for n in range(auth.LOGIN_FAILURES):
            form = client.get("/console/login")
            answer = client.post(
                "/console/login",
                data={
                    "user": "ops-admin",
                    "password": f"guess-{n}-pw",
                    "csrf_token": _token(form.text),
                },
            )
            assert answer.status_code == 401 and "用户名或密码错误" in answer.text
        form = client.get("/console/login")
        answer = client.post(  # the right password, but too late: the address is throttled
            "/console/login",
            data={"user": "ops-admin", "password": PASSWORD, "csrf_token": _token(form.text)},
        )
        assert answer.status_code == 429 and "秒后再试" in answer.text
    with idle.gateway.db.session() as s:
        entries = audit.listing(s, action="console.login")
    assert [e["outcome"] for e in entries] == ["refused"] * auth.LOGIN_FAILURES
    assert all(PASSWORD not in str(e) and "guess-" not in str(e) for e in entries)


def test_the_login_form_and_every_post_need_the_csrf_token(idle: Stack) -> None:
    _user(idle)
    with TestClient(create_app(idle.gateway)) as client:
        client.get("/console/login")
        no_token = client.post("/console/login", data={"user": "ops-admin", "password": PASSWORD})
        assert no_token.status_code == 403
        token = _login(client)
        for path, data in [
            ("/console/logout", {}),
            ("/console/messages/1/retry", {}),
            ("/console/dead-letters/gateway.inbound/discard", {"all": "1"}),
        ]:
            assert client.post(path, data=data).status_code == 403, path
            assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
        # with it, logging out works and ends the session
        out = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303
        assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_new_password_or_a_disabled_user_ends_open_sessions(idle: Stack) -> None:
    _user(idle)
    with TestClient(create_app(idle.gateway)) as client:
        _login(client)
        with idle.gateway.db.session() as s:
            users.set_password(s, "ops-admin", "another long password")
        assert client.get("/console", follow_redirects=False).status_code == 303
        _login(client, password="another long password")
        with idle.gateway.db.session() as s:
            users.set_disabled(s, "ops-admin", True)
        assert client.get("/console", follow_redirects=False).status_code == 303
        form = client.get("/console/login")
        answer = client.post(
            "/console/login",
            data={"user": "ops-admin", "password": "another long password",
                  "csrf_token": _token(form.text)},
        )  # fmt: skip
        assert answer.status_code == 401


def test_login_never_redirects_to_another_site(idle: Stack) -> None:
    _user(idle)
    with TestClient(create_app(idle.gateway)) as client:
        form = client.get("/console/login")
        answer = client.post(
            "/console/login",
            data={"user": "ops-admin", "password": PASSWORD, "csrf_token": _token(form.text),
                  "next": "https://evil.example/"},
            follow_redirects=False,
        )  # fmt: skip
        assert answer.headers["location"] == "/console"


# --- pages and actions -----------------------------------------------------------------------


def test_work_lists_record_page_and_retry_through_the_ops_functions(idle: Stack) -> None:
    _user(idle)
    sub = idle.submit(samples.order_message(idle.ebc, PLATFORM, ["EO2026120400001"]))
    doc_id = sub.documents[0].id
    with idle.gateway.db.session() as s:  # customs returned it, with a reason
        doc = s.get(Document, doc_id)
        assert doc is not None
        doc.status, doc.status_info = Status.RETURNED.value, "[Code:1310;订单金额不符]"
    with TestClient(create_app(idle.gateway)) as client:
        token = _login(client)
        dash = client.get("/console/dashboard/body").text
        assert 'id="wl-returned" class="warn">1<' in dash
        returned = client.get("/console/returned").text
        assert "EO2026120400001" in returned and "订单金额不符" in returned
        page = client.get(f"/console/records/{doc_id}").text
        assert "EO2026120400001" in page and "&lt;" in page  # the XML, escaped and shown
        msg_id = sub.message_id
        original = client.get(f"/console/messages/{msg_id}/original")
        assert original.status_code == 200 and b"EO2026120400001" in original.content
        assert "attachment" in original.headers["content-disposition"]
        assert client.get("/console/records/999999").status_code == 404
        english = client.get("/console/lang/en?next=/console/returned")
        assert 'lang="en"' in english.text and "Customs&#39; reason" in english.text
        # A retry of a message not in signing_failed: the signing worker's own answer, audited.
        answer = client.post(f"/console/messages/{msg_id}/retry", data={"csrf_token": token})
        assert answer.status_code == 200 and "unchanged" in answer.text
    with idle.gateway.db.session() as s:
        (entry,) = audit.listing(s, action="message.retry")
    assert (entry["actor"], entry["target"], entry["outcome"]) == (
        "console:ops-admin",
        f"message:{msg_id}",
        "unchanged",
    )


# --- the command ---------------------------------------------------------------------------


def test_console_user_command(idle: Stack, tmp_path: Path, keys_dir: Path) -> None:
    raw = raw_config(idle.config.state_dir, keys_dir, prefix=idle.gateway.topology.prefix)
    config = tmp_path / "console.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), "console-user", *args],
                                    input=stdin)  # fmt: skip
        assert result.exit_code == code, result.output
        return result.output

    assert "added" in run("add", "alice", "--password-file", str(secret))
    assert "exists" in run("add", "alice", "--password-file", str(secret), code=1)
    assert "added" in run("add", "bob", stdin="another long password\nanother long password\n")
    short = tmp_path / "short"
    short.write_text("short\n")
    assert "at least 12" in run("add", "carol", "--password-file", str(short), code=1)
    listed = run("list")
    assert '"name": "alice"' in listed and "scrypt" not in listed and PASSWORD not in listed
    assert "disabled" in run("disable", "alice")
    with idle.gateway.db.session() as s:
        stored = s.scalar(users.select(users.ConsoleUser.password_hash).where(
            users.ConsoleUser.name == "bob"))  # fmt: skip
        actions = [e["action"] for e in audit.listing(s)]
    assert stored is not None and stored.startswith("scrypt$") and "long" not in stored
    assert actions.count("console_user.add") == 3 and "console_user.disable" in actions


# --- the business systems' panels ------------------------------------------------------------


def test_systems_panels_are_shown_and_one_failing_stays_in_its_panel(idle: Stack) -> None:
    from gateway.core import registry
    from gateway.core.system import BusinessSystem, ConsolePanel

    def rows(gateway, session, now):
        assert gateway is idle.gateway and now.tzinfo is not None
        return [{"what": "展会 A", "left": 2, "alert": True}, {"what": "展会 B", "left": 40}]

    def broken(_gateway, _session, _now):
        raise RuntimeError("this system's table is missing")

    columns = (("what", "事项", "What"), ("left", "剩余天数", "Days left"))
    registry.install(
        BusinessSystem(
            name="console-test", title="console test", kinds=(),
            console_panels=(
                ConsolePanel("deadlines", "测试期限", "Test deadlines", columns, rows),
                ConsolePanel("broken", "坏面板", "Broken panel", columns, broken),
            ),
        )
    )  # fmt: skip
    _user(idle)
    with TestClient(create_app(idle.gateway)) as client:
        _login(client)
        body = client.get("/console/dashboard/body").text
    assert "测试期限" in body and re.search(r'<tr class="alert">\s*<td>\s*展会 A', body)
    assert re.search(r'<tr class="">\s*<td>\s*展会 B', body)
    assert "坏面板" in body and "无法读取：RuntimeError" in body
    # the shipped systems' panels (summary due, appointment and re-export deadlines) answer
    for title in ("汇总申报到期", "预约通关反馈期限", "暂时进出境复运期限"):
        assert title in body
    assert body.count("无法读取") == 1


def test_console_users_on_postgresql(pg_url: str) -> None:
    """The console's Alembic branch upgrades with the core's on PostgreSQL too."""
    from gateway.core.db import Database
    from gateway.core.migrate import upgrade

    db = Database(pg_url)
    try:
        upgrade(db)
        upgrade(db)  # at every start: nothing left to do
        with db.session() as s:
            users.add(s, "pg-admin", PASSWORD)
        with db.session() as s:
            who = users.authenticate(s, "pg-admin", PASSWORD)
            assert users.current(s, who.name, who.tag) is not None
    finally:
        db.dispose()


def test_a_signing_failure_is_retried_from_its_work_list(idle: Stack) -> None:
    from gateway.core.models import Message

    _user(idle)
    sub = idle.submit(samples.order_message(idle.ebc, PLATFORM, ["EO2026120400009"]))
    doc_id, msg_id = sub.documents[0].id, sub.message_id
    with idle.gateway.db.session() as s:  # the card was pulled mid-signature
        msg, doc = s.get(Message, msg_id), s.get(Document, doc_id)
        assert msg is not None and doc is not None
        msg.state, msg.error = Status.SIGNING_FAILED.value, "CardRemoved: the card was pulled"
        doc.status = Status.SIGNING_FAILED.value
    with TestClient(create_app(idle.gateway)) as client:
        token = _login(client)
        listed = client.get("/console/signing").text
        assert "CardRemoved: the card was pulled" in listed
        assert f'action="/console/messages/{msg_id}/retry"' in listed
        assert f'id="retry-{msg_id}"' in client.get(f"/console/records/{doc_id}").text
        answer = client.post(f"/console/messages/{msg_id}/retry", data={"csrf_token": token})
        assert answer.status_code == 200 and f"报文 {msg_id} 已重新排队加签" in answer.text
    assert idle.status(doc_id) == Status.PENDING_SIGN.value  # the signing worker's own retry
    with idle.gateway.db.session() as s:
        (entry,) = audit.listing(s, action="message.retry")
    assert (entry["actor"], entry["outcome"]) == ("console:ops-admin", "ok")


def test_overdue_summary_cycles_show_on_the_dashboard(idle: Stack) -> None:
    from tests.summary_fixtures import JANUARY, add_list, enterprise_id

    _user(idle)
    add_list(idle.gateway.db, enterprise_id(idle.gateway.db), JANUARY)  # closed, undeclared
    with TestClient(create_app(idle.gateway)) as client:
        _login(client)
        body = client.get("/console/dashboard/body").text
    row = re.search(r'<tr class="alert">(.*?)</tr>', body.split("汇总申报到期")[1], re.S)
    assert row, body
    cells = re.findall(r"<td>\s*(.*?)\s*</td>", row.group(1), re.S)
    assert cells[:4] == ["3301960Z01", "2026-01", "2026-02-16", "1"] and cells[4] == "overdue"
