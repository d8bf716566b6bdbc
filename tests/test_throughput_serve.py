"""`serve` as several processes (issue 15): HTTP processes sharing one port and worker
processes, started as users start them, take concurrent declarations to customs with nothing
lost or doubled (README "Several workers"); the listening address is the first log line.

Real processes, real RabbitMQ, real PostgreSQL and SQLite; waits are polls with generous
deadlines (the machine is shared)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
import yaml
from sqlalchemy import create_engine, func, select, text

from gateway.core import config as config_mod
from gateway.core import doorbell
from gateway.core.config import Config, topology_for
from gateway.core.customs_sim import run as sim_run
from gateway.core.models import DOCUMENTS
from gateway.ecx import samples
from tests.stack import EBC_KEY, PLATFORM, ensure_broker_users, raw_config
from tests.transport_fixtures import AMQP_URL, delete_topology, unique_prefix

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"gateway listening on (http://[\d.]+:\d+)")


class Served:
    """A `serve` with the given options as its own process tree, and customs beside it."""

    def __init__(self, base: Path, keys: Path, db_url: str, *serve_args: str) -> None:
        ensure_broker_users()
        raw = raw_config(base, keys, prefix=unique_prefix(), db_url=db_url)
        raw["intake"]["folder"] = None
        self.path = base / "config.yaml"
        self.path.write_text(yaml.safe_dump(raw, allow_unicode=True))
        self.config: Config = config_mod.load(self.path)
        self.log = base / "serve.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "--config", str(self.path), "serve",
             "--port", "0", *serve_args],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def first_line(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = self.log.read_text().splitlines()
            if lines:
                return lines[0]
            time.sleep(0.1)
        raise AssertionError("serve logged nothing in 60 s")

    def url(self) -> str:
        found = LISTENING.search(self.first_line())
        assert found, self.log.read_text()
        url = found.group(1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("serve did not answer in 120 s:\n" + self.log.read_text())

    def start_customs(self) -> None:
        _sim, self.threads = sim_run.start(self.config, self.stop)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            codes = [e.code for e in self.config.enterprises]
            delete_topology(connection.channel(), topology_for(self.config), codes)
        finally:
            connection.close()


@pytest.fixture
def served(tmp_path: Path, keys_dir: Path, broker: None) -> Iterator[Any]:
    made: list[Served] = []

    def make(db_url: str, *args: str) -> Served:
        base = tmp_path / f"s{len(made)}"
        base.mkdir()
        made.append(Served(base, keys_dir, db_url, *args))
        return made[-1]

    yield make
    for one in made:
        one.close()


def push_and_check(s: Served, prefix: str, n: int = 48) -> None:
    url = s.url()
    s.start_customs()
    ent = s.config.enterprises[0]
    ebc = samples.Party(ent.code, ent.name, ent.dxp_id)
    bodies = [samples.order_message(ebc, PLATFORM, [f"{prefix}{i:06d}"], seed=i) for i in range(n)]
    headers = {"X-API-Key": EBC_KEY, "Content-Type": "application/xml"}

    def post(body: bytes) -> tuple[int, list[int]]:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            answer = http.post("/v1/messages", content=body)
        ids = [d["id"] for d in answer.json().get("documents", [])] if answer.is_success else []
        return answer.status_code, ids

    with ThreadPoolExecutor(8) as pool:  # every message, a sixth of them twice
        answers = list(pool.map(post, [*bodies, *bodies[::6]]))
    assert all(code in (200, 201) for code, _ids in answers), answers
    assert sum(code == 201 for code, _ids in answers) == n  # the repeats answered 200
    ids = {i for _code, got in answers for i in got}
    assert len(ids) == n

    engine = create_engine(s.config.database_url)
    stored = select(func.count()).select_from(DOCUMENTS).where(DOCUMENTS.c.status == "stored")
    deadline = time.monotonic() + 180
    with engine.connect() as conn:
        while int(conn.scalar(stored) or 0) < n and time.monotonic() < deadline:
            conn.rollback()
            time.sleep(0.2)
        assert int(conn.scalar(stored) or 0) == n, s.log.read_text()[-3000:]
        assert int(conn.scalar(select(func.count()).select_from(DOCUMENTS)) or 0) == n
    engine.dispose()
    sim = create_engine(s.config.sim.database_url)
    with sim.connect() as conn:
        assert conn.scalar(text("SELECT COUNT(*) FROM sim_declarations")) == n
        assert conn.scalar(text("SELECT COUNT(*) FROM sim_declarations WHERE versions > 1")) == 0
    sim.dispose()


def test_http_and_worker_processes_on_postgresql(served: Any, pg_url: str) -> None:
    s = served(pg_url, "--workers", "2", "--pipelines", "2")
    assert "2 HTTP processes, 2 worker processes" in s.first_line()
    push_and_check(s, "EOTPPG")


def test_http_processes_on_sqlite(served: Any, tmp_path: Path) -> None:
    s = served(f"sqlite:///{tmp_path / 'gw.db'}", "--workers", "2")
    push_and_check(s, "EOTPSQ")


def test_one_process_says_where_it_listens_first(served: Any, tmp_path: Path) -> None:
    s = served(f"sqlite:///{tmp_path / 'one.db'}")
    assert LISTENING.search(s.first_line()), s.first_line()
    assert httpx.get(f"{s.url()}/healthz", timeout=30).json() == {"status": "ok"}


def test_several_worker_processes_are_refused_on_sqlite(served: Any, tmp_path: Path) -> None:
    s = served(f"sqlite:///{tmp_path / 'refused.db'}", "--pipelines", "2")
    assert s.proc.wait(120) != 0
    assert "need PostgreSQL" in s.log.read_text()


def test_worker_processes_are_woken_by_the_http_processes_not_by_polling(
    served: Any, pg_url: str
) -> None:
    """With a 300 s poll only the doorbells (gateway/core/doorbell.py) can tell the worker
    processes that a declaration was stored: every one still reaches customs."""
    s = served(pg_url, "--workers", "2", "--pipelines", "2", "--poll", "300")
    push_and_check(s, "EOPDOORBELL", n=16)


def test_a_doorbell_rings_without_ever_blocking_or_failing() -> None:
    reader, writer = doorbell.pair()
    stop = threading.Event()
    woken = threading.Event()
    try:
        bell = doorbell.Bell([os.dup(writer.fileno())])
        for _ in range(100_000):  # far past the socket's buffer: extra rings are dropped
            bell.ring()
        doorbell.listen(os.dup(reader.fileno()), woken.set, stop)
        assert woken.wait(60)
        woken.clear()
        bell.ring()  # drained: the next ring wakes again
        assert woken.wait(60)
    finally:
        stop.set()
        reader.close()
        writer.close()
