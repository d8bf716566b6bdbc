"""The console's webhook pages and alerts (issue 17: webhook dead letters replayable from the
console): dead deliveries listed, replayed behind a confirmation through `webhooks.replay`
(audited with the console user), and the dashboard showing `alerts.evaluate`'s alerts."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from gateway.core import audit, webhooks
from gateway.core.api import create_app
from gateway.core.models import utcnow
from tests.stack import Stack
from tests.test_console import _login, _token, _user

DEAD_URL = "http://127.0.0.1:9/hook"


def _dead_delivery(stack: Stack, event: str = "status.changed") -> int:
    now = utcnow()
    with stack.gateway.db.session() as s:
        s.execute(
            insert(webhooks.TABLE).values(
                delivery_id="11111111-2222-3333-4444-555555555555", target="enterprise:3301960Z01",
                enterprise_id=None, event=event, url=DEAD_URL, body=b"{}", state="dead",
                attempts=8, created_at=now, next_attempt_at=now, last_status=503,
                last_error="HTTPStatusError: 503", dead_at=now,
            )
        )  # fmt: skip
        return int(s.scalar(select(webhooks.TABLE.c.id)) or 0)


def test_a_dead_webhook_delivery_is_replayed_from_the_console(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack("wh")
    _user(stack)
    row_id = _dead_delivery(stack)
    with TestClient(create_app(stack.gateway)) as client:
        token = _login(client)
        dash = client.get("/console/dashboard/body").text
        assert re.search(r'id="wl-webhooks" class="warn">1<', dash)
        assert 'data-alert="webhook_dead"' in dash  # alerts.evaluate's alert, on the dashboard
        listed = client.get("/console/webhooks").text
        assert DEAD_URL in listed and "HTTP 503" in listed
        confirm = client.get(f"/console/webhooks/confirm?id={row_id}").text
        assert "确认重新投递" in confirm and _token(confirm) == token
        assert client.post("/console/webhooks/replay", data={"id": str(row_id)}).status_code == 403
        done = client.post(
            "/console/webhooks/replay", data={"id": str(row_id), "csrf_token": token}
        )
        assert done.status_code == 200 and "已重放：1" in done.text
        again = client.post(
            "/console/webhooks/replay", data={"id": str(row_id), "csrf_token": token}
        )
        assert "已重放：0" in again.text and "未重放" in again.text  # no longer dead
    with stack.gateway.db.session() as s:
        state = s.scalar(select(webhooks.TABLE.c.state).where(webhooks.TABLE.c.id == row_id))
        entries = audit.listing(s, action="webhooks.replay")
    assert state == "pending"
    assert [(e["actor"], e["outcome"]) for e in entries] == [
        ("console:ops-admin", "unchanged"), ("console:ops-admin", "ok")
    ]  # fmt: skip
