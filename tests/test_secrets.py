"""Isolation and secrets: no API key, key file, password or PIN in the logs of a full run;
every API route scoped to the caller's enterprise; slow and oversized requests refused."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from gateway.core import config as config_mod
from gateway.core.api import create_app
from gateway.core.httpserver import uvicorn_options
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from signers.testkeys import ensure_identity, export_pkcs12
from tests.stack import (
    CARRIER_KEY,
    EBC_KEY,
    PLATFORM,
    Stack,
    erp_url,
    make_config,
    publish_as,
    raw_config,
)
from tests.transport_fixtures import unique_prefix

ADMIN_KEY = "test-admin-key"
WRONG_KEY = "cgw_wrong-key-a-client-mistyped-0123456789"
P12_PASSWORD = "p12-Passw0rd-that-must-never-be-logged"


# --- no secrets in the logs of a full run ----------------------------------------------------


@pytest.fixture
def secret_stack(tmp_path: Path, keys_dir: Path, broker: None) -> Iterator[Stack]:
    """The usual stack, but the carrier signs with a password-protected PKCS#12 file."""
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    carrier = raw["enterprises"][1]
    key_pem, cert_pem = ensure_identity(tmp_path / "p12", carrier["code"])
    p12 = export_pkcs12(key_pem, cert_pem, tmp_path / "p12" / "carrier.p12", P12_PASSWORD)
    (tmp_path / "p12" / "password").write_text(P12_PASSWORD + "\n")
    carrier["key"] = {
        "key_file": str(p12),
        "cert_file": str(cert_pem),
        "password_file": str(tmp_path / "p12" / "password"),
        "suite": "rsa-sha256",
    }
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare()
    stack = Stack(gw.config, gw).start()
    yield stack
    stack.close()


def _secrets(stack: Stack) -> dict[str, str]:
    """Every secret the configuration holds, and the lines of every private key file."""
    found = {"admin key": ADMIN_KEY, "wrong key": WRONG_KEY, "p12 password": P12_PASSWORD}
    for ent in stack.config.enterprises:
        for n, key in enumerate(ent.api_keys):
            found[f"{ent.code} api key {n}"] = key
        # Card PINs and key passwords, inline or in files (whatever the key config holds).
        for attr in ("pin", "password"):
            if getattr(ent.key, attr, None):
                found[f"{ent.code} {attr}"] = str(getattr(ent.key, attr))
        for attr in ("pin_file", "password_file"):
            path = getattr(ent.key, attr, None)
            if path is not None and Path(path).exists():
                found[f"{ent.code} {attr}"] = Path(path).read_text().strip()
        key_file = ent.key.key_file
        if key_file is not None and key_file.suffix == ".pem":
            body = [ln for ln in key_file.read_text().splitlines() if "-----" not in ln]
            found.update({f"{key_file.name} line {i}": ln for i, ln in enumerate(body) if ln})
    return found


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for rec in caplog.records:
        parts += [rec.getMessage(), repr(rec.args), str(rec.exc_text or ""), repr(rec.__dict__)]
    return "\n".join(parts)


@pytest.fixture
def every_logger_at_debug() -> Iterator[None]:
    """Undo the levels other code set (the CLI quiets pika, uvicorn…): log everything."""
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    saved = {lg.name: lg.level for lg in loggers}
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
    yield
    for lg in loggers:
        lg.setLevel(saved[lg.name])


def test_a_full_run_logs_no_key_password_or_api_key(
    secret_stack: Stack, caplog: pytest.LogCaptureFixture, every_logger_at_debug: None
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = secret_stack
    order_no, waybill_no = "EO2026112207001", "YT7001000000001"
    with TestClient(create_app(stack.gateway)) as client:
        ebc, admin = {"X-API-Key": EBC_KEY}, {"X-API-Key": ADMIN_KEY}
        order = samples.order_message(stack.ebc, PLATFORM, [order_no])
        waybill = samples.waybill_message(stack.carrier, [(waybill_no, stack.ebc)])
        doc = client.post("/v1/messages", content=order, headers=ebc).json()["documents"][0]
        way = client.post("/v1/messages", content=waybill, headers={"X-API-Key": CARRIER_KEY})
        assert way.status_code == 201, way.text
        assert client.get("/v1/documents", headers={"X-API-Key": WRONG_KEY}).status_code == 401
        assert client.post("/v1/messages", content=b"<x/>", headers=ebc).status_code == 422
        _publish_inbound(stack, b"<not-a-declaration/>")  # refused, dead-lettered
        assert stack.wait_status(doc["id"], "stored") == "stored"
        assert stack.wait_status(way.json()["documents"][0]["id"], "stored") == "stored"
        assert client.get("/v1/receipts", headers=admin).status_code == 200
    logged = _everything_logged(caplog)
    assert len(caplog.records) > 20, "the run logged next to nothing: capture is broken"
    leaks = [name for name, secret in _secrets(stack).items() if secret in logged]
    assert leaks == [], f"secrets in the logs: {leaks}"


def _publish_inbound(stack: Stack, body: bytes) -> None:
    # As the enterprise's own broker user (user_id validated by the broker), as ERPs submit.
    publish_as(
        erp_url(stack.ebc.code),
        stack.gateway.topology.intake_exchange,
        "declaration",
        body,
        message_id="secret-test-1",
    )


# --- every route scoped to the caller's enterprise -------------------------------------------


@pytest.fixture
def api(tmp_path: Path, keys_dir: Path) -> Iterator[tuple[TestClient, Gateway]]:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="api."))
    gw.prepare(broker=False)
    with TestClient(create_app(gw)) as client:
        yield client, gw
    gw.db.dispose()


def _order(client: TestClient, gw: Gateway, order_no: str) -> dict:  # type: ignore[type-arg]
    e = gw.config.enterprises[0]
    body = samples.order_message(samples.Party(e.code, e.name, e.dxp_id), PLATFORM, [order_no])
    resp = client.post("/v1/messages", content=body, headers={"X-API-Key": EBC_KEY})
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_archived_parts_and_retry_are_scoped(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    msg_id = _order(client, gw, "EO2026112207101")["message_id"]
    other = {"X-API-Key": CARRIER_KEY}
    for part in ("original", "signed", "envelope"):
        resp = client.get(f"/v1/messages/{msg_id}/{part}", headers=other)
        assert resp.status_code == 404 and resp.json()["error"] == "NotFound"
    assert client.post(f"/v1/messages/{msg_id}/retry", headers=other).status_code == 404
    own = client.get(f"/v1/messages/{msg_id}/original", headers={"X-API-Key": EBC_KEY})
    assert own.status_code == 200


def test_stats_count_only_the_callers_records(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    _order(client, gw, "EO2026112207102")
    assert client.get("/v1/stats", headers={"X-API-Key": CARRIER_KEY}).json() == {}
    assert client.get("/v1/stats", headers={"X-API-Key": EBC_KEY}).json() == {"pending_sign": 1}
    assert client.get("/v1/stats", headers={"X-API-Key": ADMIN_KEY}).json() == {"pending_sign": 1}


def test_an_enterprise_key_cannot_submit_for_another(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    e = gw.config.enterprises[0]
    body = samples.order_message(samples.Party(e.code, e.name, e.dxp_id), PLATFORM, ["EO1"])
    carrier = gw.config.enterprises[1].code
    as_other = client.post(
        f"/v1/messages?enterprise={e.code}", content=body, headers={"X-API-Key": CARRIER_KEY}
    )
    assert as_other.status_code == 401
    # Its own enterprise code, but a BaseTransfer naming another: R-COM-3.
    own = client.post("/v1/messages", content=body, headers={"X-API-Key": CARRIER_KEY})
    assert own.status_code == 422 and own.json()["violations"][0]["rule"] == "R-COM-3"
    admin = {"X-API-Key": ADMIN_KEY}
    assert client.post("/v1/messages", content=body, headers=admin).status_code == 401
    named = client.post(f"/v1/messages?enterprise={carrier}", content=body, headers=admin)
    assert named.status_code == 422  # an admin names the enterprise; R-COM-3 still holds


# --- slow and oversized requests against a real uvicorn --------------------------------------


@pytest.fixture
def server(tmp_path: Path, keys_dir: Path) -> Iterator[tuple[int, Gateway]]:
    """The API served by uvicorn on 127.0.0.1 with short deadlines, as `serve` runs it."""
    raw = raw_config(tmp_path, keys_dir, prefix="slow.")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    raw["http"] = {"port": port, "header_seconds": 1.0, "body_seconds": 1.0, "max_body_bytes": 4096}
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare(broker=False)
    srv = uvicorn.Server(uvicorn.Config(create_app(gw), **uvicorn_options(gw.config)))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield port, gw
    srv.should_exit = True
    thread.join(timeout=10)
    gw.db.dispose()


def _trickle(port: int, head: bytes, trickle: bytes, every: float = 0.2) -> tuple[bytes, float]:
    """Send `head`, then `trickle` one byte at a time; return what the server said and when."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        for byte in trickle:
            try:
                sock.send(bytes([byte]))
            except OSError:
                break  # the server closed on us: that is the point
            time.sleep(every)
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                continue
            if answer:
                break
        sock.setblocking(True)
        with contextlib.suppress(OSError):
            answer += sock.recv(65536)
    return answer, time.monotonic() - started


def test_slow_headers_are_cut_off(server) -> None:  # type: ignore[no-untyped-def]
    port, _gw = server
    answer, took = _trickle(port, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 100)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert took < 5


def test_a_slow_body_is_refused_with_408(server) -> None:  # type: ignore[no-untyped-def]
    port, _gw = server
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {EBC_KEY}\r\n"
        "Content-Type: application/xml\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    answer, took = _trickle(port, head, b"<" + b"a" * 999)
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["violations"][0]["field"] == "(body)" and "within" in body["message"]
    assert took < 5


def test_an_oversized_body_is_refused_by_the_real_server(server) -> None:  # type: ignore[no-untyped-def]
    port, _gw = server
    import httpx

    url = f"http://127.0.0.1:{port}"
    resp = httpx.post(f"{url}/v1/messages", content=b"x" * 5000, headers={"X-API-Key": EBC_KEY})
    assert resp.status_code == 413
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}  # a normal request still works
