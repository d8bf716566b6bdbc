"""HTTP requests and the database pool (issue 11 findings 1 and 13), against a real uvicorn.

A request holds a pooled connection only while its own queries run: clients trickling their
bodies hold none, so an admin's read still gets one; a pool that stays saturated answers 503
with Retry-After instead of a 30-s stall or a 500; integers past the database's range are a
422 naming the parameter. Each test runs on SQLite and, where the pool matters, PostgreSQL.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
import uvicorn
from sqlalchemy import Connection

from gateway.core import config as config_mod
from gateway.core.api import create_app
from gateway.core.httpserver import uvicorn_options
from gateway.core.models import Document
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from tests.stack import (
    EBC_KEY,
    PLATFORM,
    Stack,
    ensure_broker_users,
    erp_url,
    publish_as,
    raw_config,
)
from tests.transport_fixtures import unique_prefix

ADMIN = {"X-API-Key": "test-admin-key"}
#: more slow clients than the old fixed pools had connections (SQLite 15, PostgreSQL 20)
SLOW_CLIENTS = 24
#: the configured pool: database.pool_size, max_overflow 0
POOL_SIZE = 2


class Settled:
    """ASGI wrapper counting submissions that asked for their body or were answered.

    The API reads a body only after authenticating, so once every slow client is counted
    here each one has passed authentication, whatever the code holds while it waits."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0  # changed on the event loop's thread only

    async def __call__(
        self, scope: Any, receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/messages":
            await self.app(scope, receive, send)
            return
        settled = False

        def settle() -> None:
            nonlocal settled
            if not settled:
                settled = True
                self.count += 1

        async def counted_receive() -> Any:
            settle()
            return await receive()

        async def counted_send(message: Any) -> None:
            settle()
            await send(message)

        await self.app(scope, counted_receive, counted_send)


@dataclass
class Served:
    port: int
    gateway: Gateway
    settled: Settled
    held: list[Connection] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold_every_connection(self) -> None:
        """Check out the whole pool from the test, as a burst of slow work would."""
        for _ in range(POOL_SIZE):
            conn = self.gateway.db.engine.connect()
            conn.exec_driver_sql("SELECT 1")
            self.held.append(conn)

    def release(self) -> None:
        for conn in self.held:
            conn.close()
        self.held.clear()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None  # raw_config's SQLite file under tmp_path
    return str(request.getfixturevalue("pg_url"))


def _serve(
    tmp_path: Path,
    keys_dir: Path,
    db_url: str | None,
    pool_timeout: float,
    workers: bool = False,
) -> Iterator[Served]:
    if workers:
        ensure_broker_users()
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix(), db_url=db_url)
    raw["database"].update(pool_size=POOL_SIZE, max_overflow=0, pool_timeout=pool_timeout)
    port = _free_port()
    # Slow clients must outlast the whole test: the body deadline is not what is tested.
    raw["http"] = {"port": port, "body_seconds": 600.0}
    cfg = config_mod.from_dict(raw, tmp_path)
    gw = Gateway(cfg)
    gw.prepare(broker=workers)
    stack = Stack(cfg, gw).start(sim=False) if workers else None
    settled = Settled(create_app(gw))
    srv = uvicorn.Server(uvicorn.Config(settled, **uvicorn_options(gw.config)))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    served = Served(port, gw, settled)
    yield served
    served.release()
    srv.should_exit = True
    thread.join(timeout=30)
    if stack is not None:
        stack.close()  # the workers, the broker topology, the pool
    else:
        gw.db.dispose()


@pytest.fixture
def server(tmp_path: Path, keys_dir: Path, db_url: str | None) -> Iterator[Served]:
    """The API on 127.0.0.1 over a pool of 2 connections, 5 s to wait for one."""
    yield from _serve(tmp_path, keys_dir, db_url, pool_timeout=5.0)


@pytest.fixture
def tight_server(tmp_path: Path, keys_dir: Path, db_url: str | None) -> Iterator[Served]:
    """The same with a 0.5-s pool timeout: a saturated pool is refused quickly."""
    yield from _serve(tmp_path, keys_dir, db_url, pool_timeout=0.5)


@pytest.fixture
def server_with_workers(
    tmp_path: Path, keys_dir: Path, db_url: str | None, broker: None
) -> Iterator[Served]:
    """`server` with the gateway's workers running (the inbound queue among them)."""
    yield from _serve(tmp_path, keys_dir, db_url, pool_timeout=5.0, workers=True)


def _order(gw: Gateway, order_no: str) -> bytes:
    e = gw.config.enterprises[0]
    return samples.order_message(samples.Party(e.code, e.name, e.dxp_id), PLATFORM, [order_no])


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _records_exist(gw: Gateway, answers: list[dict[str, Any]]) -> bool:
    ids = [d["id"] for a in answers for d in a["documents"]]
    with gw.db.session() as session:
        return len(ids) == len(answers) and all(session.get(Document, i) for i in ids)


# --- finding 1: slow bodies hold no connection -----------------------------------------------


def _start_slow(server: Served, bodies: list[bytes]) -> list[socket.socket]:
    """Clients that send their headers and half their body, then stop; returned once every
    one has been authenticated (or answered)."""
    socks = []
    for body in bodies:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=120)
        head = (
            f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {EBC_KEY}\r\n"
            f"Content-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[: len(body) // 2])
        socks.append(sock)
    _wait_for(lambda: server.settled.count >= len(bodies), "the slow clients to authenticate")
    return socks


def _finish_slow(socks: list[socket.socket], bodies: list[bytes]) -> list[tuple[int, bytes]]:
    answers = []
    for sock, body in zip(socks, bodies, strict=True):
        sock.sendall(body[len(body) // 2 :])
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        answers.append((resp.status, resp.read()))
        sock.close()
    return answers


def _slow_bodies(gw: Gateway, first: int) -> list[bytes]:
    return [_order(gw, f"EO2026120400{n:03d}") for n in range(first, first + SLOW_CLIENTS)]


def test_slow_bodies_with_an_enterprise_key_do_not_stall_an_admin(server: Served) -> None:
    bodies = _slow_bodies(server.gateway, 0)
    socks = _start_slow(server, bodies)

    stats = httpx.get(f"{server.url}/v1/stats", headers=ADMIN, timeout=120)
    assert stats.status_code == 200, stats.text
    assert stats.json() == {}  # nothing stored yet: every slow body is still coming

    answers = _finish_slow(socks, bodies)  # now they finish: all are stored
    assert [status for status, _ in answers] == [201] * SLOW_CLIENTS, answers[:3]
    assert _records_exist(server.gateway, [json.loads(text) for _, text in answers])


def test_slow_bodies_do_not_stall_a_declaration_on_the_inbound_queue(
    server_with_workers: Served,
) -> None:
    server = server_with_workers
    bodies = _slow_bodies(server.gateway, 100)
    socks = _start_slow(server, bodies)

    topo, code = server.gateway.topology, server.gateway.config.enterprises[0].code
    publish_as(erp_url(code), topo.intake_exchange, "declaration",
               _order(server.gateway, "EO2026120400900"), message_id=str(uuid.uuid4()),
               reply_to=topo.reply_queue(code))  # fmt: skip
    answer = _answer(erp_url(code), topo.reply_queue(code))
    assert answer is not None and answer["ok"] is True, answer
    assert _records_exist(server.gateway, [answer])

    answers = _finish_slow(socks, bodies)
    assert [status for status, _ in answers] == [201] * SLOW_CLIENTS, answers[:3]


def _answer(url: str, queue: str) -> dict[str, Any] | None:
    """The first answer on `queue`, read as the broker user of `url` (generous deadline)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for _m, _p, body in channel.consume(queue, auto_ack=True, inactivity_timeout=90):
            return None if body is None else dict(json.loads(body))
        return None
    finally:
        connection.close()


# --- finding 1: a saturated pool answers 503 + Retry-After ----------------------------------


def test_a_saturated_pool_answers_503_with_retry_after(tight_server: Served) -> None:
    srv = tight_server
    body = _order(srv.gateway, "EO2026120401001")
    srv.hold_every_connection()
    try:
        stats = httpx.get(f"{srv.url}/v1/stats", headers=ADMIN, timeout=120)
        post = httpx.post(
            f"{srv.url}/v1/messages", content=body, headers={"X-API-Key": EBC_KEY}, timeout=120
        )
    finally:
        srv.release()
    for resp in (stats, post):
        assert resp.status_code == 503, resp.text
        assert resp.headers["retry-after"] == "1"  # ceil(pool_timeout)
        error = resp.json()
        assert error["error"] == "PoolExhausted" and error["retryable"] is True
    # Once connections are free again, the same submission is stored.
    again = httpx.post(
        f"{srv.url}/v1/messages", content=body, headers={"X-API-Key": EBC_KEY}, timeout=120
    )
    assert again.status_code == 201, again.text
    assert _records_exist(srv.gateway, [again.json()])


# --- finding 13: integers past the database's range ------------------------------------------

HUGE = "99999999999999999999"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("path", "where", "name"),
    [
        (f"/v1/documents/{HUGE}", "path", "doc_id"),
        (f"/v1/documents/-{HUGE}", "path", "doc_id"),
        ("/v1/documents?page=1" + "0" * 30, "query", "page"),
        ("/v1/documents?page=9223372036854775807", "query", "page"),  # its offset overflows
        (f"/v1/messages/{HUGE}/original", "path", "message_id"),
        (f"/v1/export/inventories?page={HUGE}", "query", "page"),
        ("/v1/export/inventories?page=9223372036854775807", "query", "page"),
        (f"/v1/appointments/{HUGE}/receipts", "path", "doc_id"),
        (f"/v1/documents/{'9' * 5000}", "path", "doc_id"),
        ("/v1/ops/stuck?older_than=9223372036854775807", "query", "older_than"),  # a span
    ],
)
def test_huge_integers_are_refused_with_422_naming_the_parameter(
    server: Served, path: str, where: str, name: str
) -> None:
    resp = httpx.get(f"{server.url}{path}", headers=ADMIN, timeout=60)
    assert resp.status_code == 422, resp.text
    assert [where, name] in [d["loc"] for d in resp.json()["detail"]]
    retry = httpx.post(f"{server.url}/v1/messages/{HUGE}/retry", headers=ADMIN, timeout=60)
    assert retry.status_code == 422 and retry.json()["detail"][0]["loc"] == ["path", "message_id"]
