"""HTTP load: concurrent clients submitting declarations to `serve`, on SQLite and PostgreSQL.

    .venv/bin/python bench/http_load.py [--seconds 20] [--clients 50] [--db sqlite|postgresql|both]
                                        [--pool-size 20] [--pool-timeout 5]

For each database it starts the gateway as users start it (`python -m gateway.cli --config …
serve`, its own process, HTTP API and every worker, loopback only, a fresh database and
broker prefix), then runs `--clients` HTTP clients (one thread and one keep-alive connection
each), every one posting single-order CEB303 messages (`samples.order_message`) with an
enterprise key, one after the other, for `--seconds`. A request gets 30 s, as an ERP's HTTP
client would give it. Then it checks that every 2xx answer's records are in the database and
prints: accepted/s, p50/p99 latency (2xx, and all answers), counts of 2xx/503/500/other and
client errors (time-outs, cut connections), records missing, and the longest wait for a
pooled database connection in the gateway (`gateway_db_pool_wait_max_seconds` on /metrics;
"n/a" on a gateway without it). Exit status 0 only when no 2xx answer lacks its record and
no answer was a 500.

Bounded in time: start-up (≤ 120 s) + `--seconds` + the last requests' 30 s, per database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pika
import yaml
from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import drop_database, free_port, fresh_database  # noqa: E402
from gateway.core import registry  # noqa: E402
from gateway.core.config import Config, load, topology_for  # noqa: E402
from gateway.core.models import Document  # noqa: E402
from gateway.ecx import samples  # noqa: E402
from tests.stack import EBC_KEY, PLATFORM, raw_config  # noqa: E402
from tests.transport_fixtures import delete_topology, unique_prefix  # noqa: E402

ADMIN_KEY = "test-admin-key"
REQUEST_SECONDS = 30.0


@dataclass
class Tally:
    """What the clients saw; appended to from many threads (list.append is atomic)."""

    answers: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)
    failures: list[str] = field(default_factory=list)  # client-side: time-out, reset…
    document_ids: list[int] = field(default_factory=list)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_number(self) -> int:
        with self._lock:
            self._next += 1
            return self._next


def make_config(base: Path, url: str, port: int, pool_size: int, pool_timeout: float) -> Path:
    raw = raw_config(base, base / "keys", prefix=unique_prefix(), db_url=url)
    raw["intake"]["folder"] = None
    raw["http"] = {"port": port}
    raw["database"].update(pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout)
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def start_serve(path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--config", str(path), "serve"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited with {proc.returncode} before answering")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("serve did not answer /healthz within 120 s")


def client(url: str, ebc: samples.Party, until: float, tally: Tally) -> None:
    headers = {"X-API-Key": EBC_KEY, "Content-Type": "application/xml"}
    with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_SECONDS) as http:
        while time.monotonic() < until:
            n = tally.next_number()
            body = samples.order_message(ebc, PLATFORM, [f"EOLOAD{n:012d}"], seed=n)
            started = time.perf_counter()
            try:
                resp = http.post("/v1/messages", content=body)
            except httpx.HTTPError as exc:
                tally.failures.append(type(exc).__name__)
                continue
            tally.answers.append((resp.status_code, time.perf_counter() - started))
            if 200 <= resp.status_code < 300:
                tally.document_ids += [d["id"] for d in resp.json()["documents"]]


def missing_records(db_url: str, ids: list[int]) -> int:
    engine = create_engine(db_url)
    found = 0
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            stmt = select(func.count()).select_from(Document).where(Document.id.in_(chunk))
            found += int(conn.scalar(stmt) or 0)
    engine.dispose()
    return len(ids) - found


def longest_pool_wait(url: str) -> str:
    try:
        text = httpx.get(f"{url}/metrics", headers={"X-API-Key": ADMIN_KEY}, timeout=30).text
    except httpx.HTTPError as exc:
        return f"n/a ({type(exc).__name__})"
    for line in text.splitlines():
        if line.startswith("gateway_db_pool_wait_max_seconds "):
            return f"{float(line.split()[1]):.3f} s"
    return "n/a (not measured by this gateway)"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(db: str, seconds: float, clients: int, pool_size: int, pool_timeout: float) -> bool:
    base = Path(tempfile.mkdtemp(prefix="gw-http-load-"))
    db_url = fresh_database(db, base)
    port = free_port()
    path = make_config(base, db_url, port, pool_size, pool_timeout)
    cfg = load(path)
    url = f"http://127.0.0.1:{port}"
    proc = start_serve(path, base / "serve.log")
    try:
        wait_healthy(url, proc)
        ent = cfg.enterprises[0]
        ebc = samples.Party(ent.code, ent.name, ent.dxp_id)
        tally = Tally()
        until = time.monotonic() + seconds
        threads = [
            threading.Thread(target=client, args=(url, ebc, until, tally), daemon=True)
            for _ in range(clients)
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + REQUEST_SECONDS + 10)
        elapsed = time.monotonic() - started
        wait = longest_pool_wait(url)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    missing = missing_records(db_url, tally.document_ids)
    ok = report(db, clients, pool_size, pool_timeout, elapsed, tally, missing, wait)
    cleanup(cfg, db_url)
    return ok


def report(
    db: str,
    clients: int,
    pool_size: int,
    pool_timeout: float,
    elapsed: float,
    tally: Tally,
    missing: int,
    wait: str,
) -> bool:
    answers = list(tally.answers)
    codes = [s for s, _ in answers]
    ok_lat = [t for s, t in answers if 200 <= s < 300]
    all_lat = [t for _, t in answers]
    n2xx = len(ok_lat)
    n503, n500 = codes.count(503), codes.count(500)
    other = len(codes) - n2xx - n503 - n500
    print(f"\n== {db}: {clients} clients, pool {pool_size}, pool_timeout {pool_timeout:g} s ==")
    print(f"  run                    {elapsed:.1f} s (requests stop at --seconds, last ones end)")
    print(f"  accepted/s             {n2xx / elapsed:.1f}")
    for label, lat in (("2xx", ok_lat), ("all", all_lat)):
        p50, p99 = pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000
        print(f"  latency {label} p50 / p99  {p50:.0f} / {p99:.0f} ms")
    print(f"  answers                2xx {n2xx}  503 {n503}  500 {n500}  other {other}")
    kinds = {k: tally.failures.count(k) for k in sorted(set(tally.failures))}
    print(f"  client errors          {len(tally.failures)} {json.dumps(kinds) if kinds else ''}")
    print(f"  2xx without record     {missing}")
    print(f"  longest pool wait      {wait}")
    return missing == 0 and n500 == 0


def cleanup(cfg: Config, db_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(cfg.amqp.url))
    try:
        codes = [e.code for e in cfg.enterprises]
        delete_topology(connection.channel(), topology_for(cfg), codes)
    finally:
        connection.close()
    drop_database(db_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pool-size", type=int, default=20)
    parser.add_argument("--pool-timeout", type=float, default=5.0)
    args = parser.parse_args()
    registry.ensure_installed()
    dbs = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = [run(db, args.seconds, args.clients, args.pool_size, args.pool_timeout) for db in dbs]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
