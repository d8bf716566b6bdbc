"""The real path, measured (issue 15): C concurrent HTTP clients posting single-declaration
orders to a `serve` started as users start it, on PostgreSQL or SQLite, with the simulated
customs in its own process, until every accepted declaration is stored by customs.

    .venv/bin/python bench/http_pipeline.py [--db postgresql|sqlite|both] [--clients 1,8,32,128]
                                            [--seconds 10] [--serve-args "--workers 2"]
    .venv/bin/python bench/http_pipeline.py --series     # the table of bench/README.md

For each database and client count it starts, on loopback only: a fresh database and broker
prefix; `python -m gateway.cli --config … serve --port P <serve-args>` (default: the layout the
README recommends for production: `--workers 2 --pipelines 2` on PostgreSQL, `--workers 2` on
SQLite); `customs-sim` in two processes of its own sharing its store (`--sim-processes`),
answering at once; and the clients, in a process of their own (asyncio, one
keep-alive connection each, requests sent one after the other on it) so that they never share
the benchmark's or the gateway's interpreter. The clients post for `--seconds`; the benchmark
then waits (bounded) until every accepted declaration is confirmed by the broker and stored by
customs, and prints:

  * the raw single-core signing rate of the same key (cryptography, one thread), measured in
    this run before the load — the yardstick;
  * accepted/s (2xx answers per second of load); own path (accepted declarations ÷ time from
    the first request to the last one confirmed on the broker) and end to end (÷ time to the
    last one stored by customs), both from the timestamps the gateway stores; the ratios
    own ÷ raw signing and end to end ÷ own;
  * p50/p99 per stage: the HTTP answer, stored→signed, signed→confirmed, confirmed→customs
    stored, accepted→customs stored;
  * the count check: records in the gateway (each accepted once, none extra), messages,
    records stored, records customs holds, envelopes customs processed more than once.

Bounded in time: per point, start-up (≤ 120 s) + `--seconds` + draining (≤ `--drain` s).
`--series` runs C = 1, 8, 32, 128 on both databases, 3 runs each (alternating), then the
in-process benchmark `bench/pipeline.py` at 1 and 100 declarations per message on both (the
issue's "before" figures), and prints the markdown tables with medians.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pika
import yaml
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu import CpuWindow, per_declaration, roles_for  # noqa: E402
from bench.throwaway import drop_database, free_port, fresh_database  # noqa: E402
from gateway.core import registry  # noqa: E402
from gateway.core.config import Config, load, topology_for  # noqa: E402
from gateway.core.history import HISTORY  # noqa: E402
from gateway.core.models import DOCUMENTS, MESSAGES, VERSIONS  # noqa: E402
from gateway.ecx import samples  # noqa: E402
from tests.stack import EBC_KEY, PLATFORM, raw_config  # noqa: E402
from tests.transport_fixtures import delete_topology, unique_prefix  # noqa: E402

#: the layouts README "Several workers" recommends for production on a 2-core machine: two
#: HTTP processes; two worker processes on PostgreSQL (SQLite has no row locks: one)
PRODUCTION = {"postgresql": "--workers 2 --pipelines 2", "sqlite": "--workers 2 --pipelines 1"}
REQUEST_SECONDS = 30.0
#: customs-sim processes competing on customs' queue (one store): customs must keep up
SIM_PROCESSES = 2
CLIENT_COUNTS = (1, 8, 32, 128)


# --- the clients (a process of their own) -----------------------------------------------------


GUID = r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"


class Template:
    """One order message whose order number and guids are replaced per request: building each
    with lxml would cost the client process more than the gateway spends reading it."""

    NUMBER = "EOHTTP000000000001"

    def __init__(self, party: samples.Party) -> None:
        body = samples.order_message(party, PLATFORM, [self.NUMBER], seed=1).decode()
        self.guids = re.findall(
            r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", body
        )
        self.body = body

    def make(self, n: int) -> bytes:
        body = self.body.replace(self.NUMBER, f"EOHTTP{n:012d}")
        for guid in self.guids:
            body = body.replace(guid, str(uuid.uuid4()).upper())
        return body.encode()


async def _client(
    port: int, template: Template, numbers: Any, until: float, out: list[Any]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n"
        "Content-Type: application/xml\r\nContent-Length: {n}\r\n\r\n"
    )
    try:
        while time.time() < until:
            n = next(numbers)
            body = template.make(n)
            started = time.time()
            writer.write(head.format(key=EBC_KEY, n=len(body)).encode() + body)
            status, answer = await asyncio.wait_for(_response(reader), REQUEST_SECONDS)
            out.append((status, started, time.time(), answer if status < 300 else b""))
            if status >= 300 and status != 503:
                print(f"answer {status}: {answer[:300]!r}", file=sys.stderr)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        out.append((0, 0.0, 0.0, type(exc).__name__.encode()))
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return int(status_line.split()[1]), body


def clients_process(
    port: int, party: tuple[str, str, str], clients: int, seconds: float, results: Any, go_at: Any
) -> None:
    """Runs in a process of its own: `clients` connections for `seconds` from the moment
    (epoch) the benchmark names once this process is ready (imports take seconds here)."""
    template = Template(samples.Party(*party))
    counter = iter(range(1, 10**9))
    results.put("ready")
    go = float(go_at.get(timeout=600))

    async def main() -> list[Any]:
        out: list[Any] = []
        await asyncio.sleep(max(0.0, go - time.time()))
        until = go + seconds
        await asyncio.gather(
            *(_client(port, template, counter, until, out) for _ in range(clients))
        )
        return out

    results.put(asyncio.run(main()))


# --- one point: a database, a client count ------------------------------------------------------


@dataclass
class Point:
    db: str
    clients: int
    raw: float = 0.0
    load_seconds: float = 0.0
    accepted: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    client_errors: int = 0
    own: float = 0.0
    e2e: float = 0.0
    stages: dict[str, list[float]] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)
    drained: bool = True
    #: CPU seconds by role during the load, and every core's busy seconds (bench/cpu.py)
    cpu: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0

    @property
    def accepted_rate(self) -> float:
        return self.accepted / self.load_seconds if self.load_seconds else 0.0

    @property
    def ok(self) -> bool:
        c = self.checks
        return self.drained and c.get("lost", 1) == 0 and c.get("doubled", 1) == 0


def make_config(base: Path, url: str, port: int) -> Path:
    raw = raw_config(
        base, base / "keys", prefix=unique_prefix(), db_url=url,
        declaring_delay=0.0, result_delay=0.0,
    )  # fmt: skip
    raw["intake"]["folder"] = None
    raw["http"] = {"port": port}
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *argv],
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


def raw_sign_rate(cfg: Config, seconds: float = 2.0) -> float:
    """Signatures per second of the first enterprise's key, one core, SignedInfo-sized data."""
    from gateway.core.signing import load_key_config

    key, suite = load_key_config(cfg.enterprises[0].key, cfg.sign_algorithms)
    data = b"<ds:SignedInfo>" + b"x" * 600 + b"</ds:SignedInfo>"
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        key.sign(data, suite)
        count += 1
    return count / (time.perf_counter() - started)


SPY = str(Path(sys.executable).parent / "py-spy")
#: extra py-spy options (`--profile-gil`: only threads holding the GIL, i.e. Python's CPU)
SPY_MODE: list[str] = []


def _profile(config: Path, seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on every process of this gateway and its customs for the load's seconds
    (one collapsed-stack file per process; `py-spy` must be installed)."""
    out.mkdir(parents=True, exist_ok=True)
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    spies = []
    for line in ps.splitlines():
        pid, _, args = line.strip().partition(" ")
        if str(config) not in args or "py-spy" in args:
            continue
        role = "customs-sim" if "customs-sim" in args else "serve"
        role += "-http" if "--http-fd" in args else "-workers" if "--no-http" in args else ""
        name = out / f"{role}-{pid}.txt"
        spies.append(subprocess.Popen(
            [SPY, "record", "-p", pid, "-d", str(int(seconds) + 3), "-r", "50",
             "-f", "raw", "-o", str(name), "--nonblocking", *SPY_MODE],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    return spies


def run_point(
    db: str,
    clients: int,
    seconds: float,
    serve_args: str | None,
    drain: float,
    profile: Path | None = None,
    sim_processes: int = 1,
) -> Point:
    serve_args = PRODUCTION[db] if serve_args is None else serve_args
    base = Path(tempfile.mkdtemp(prefix="gw-http-pipeline-"))
    url = fresh_database(db, base)
    port = free_port()
    path = make_config(base, url, port)
    cfg = load(path)
    point = Point(db, clients)
    serve = start(
        ["--config", str(path), "serve", "--port", str(port), *shlex.split(serve_args)],
        base / "serve.log",
    )
    sims: list[subprocess.Popen[bytes]] = []
    try:
        wait_healthy(f"http://127.0.0.1:{port}", serve)
        sims = [
            start(["--config", str(path), "customs-sim"], base / f"sim-{i}.log")
            for i in range(sim_processes)
        ]
        warm = _warm_up(cfg, port, drain)
        point.raw = raw_sign_rate(cfg)
        spies = _profile(path, seconds, profile) if profile else []
        _load(point, cfg, port, clients, seconds, str(path))
        for spy in spies:
            spy.wait(60)
        _drain(point, cfg, drain, warm)
        _measure(point, cfg, warm)
    finally:
        for proc in (serve, *sims):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    _cleanup(cfg, url)
    return point


def _load(point: Point, cfg: Config, port: int, clients: int, seconds: float, config: str) -> None:
    ent = cfg.enterprises[0]
    ctx = multiprocessing.get_context("spawn")
    results, go_at = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(
        target=clients_process,
        args=(port, (ent.code, ent.name, ent.dxp_id), clients, seconds, results, go_at),
    )
    proc.start()
    assert results.get(timeout=300) == "ready"
    cpu = CpuWindow(roles_for(config, proc.pid))
    cpu.start()
    go = time.time() + 0.2
    go_at.put(go)
    answers = results.get(timeout=seconds + REQUEST_SECONDS + 120)
    cpu.stop()
    point.cpu, point.machine_busy = cpu.used, cpu.machine_busy
    proc.join(30)
    point.load_seconds = max((a[2] for a in answers if a[0]), default=go) - go
    point.stages["HTTP answer"] = [(a[2] - a[1]) * 1000 for a in answers if 200 <= a[0] < 300]
    point.accepted = sum(1 for a in answers if 200 <= a[0] < 300)
    point.client_errors = sum(1 for a in answers if a[0] == 0)
    for status, *_ in answers:
        if status >= 300:
            point.refused[status] = point.refused.get(status, 0) + 1
    point.stages["_go"] = [go]


#: declarations sent before the load, over as many connections, and waited for until stored
WARM_UP = 8


def _warm_up(cfg: Config, port: int, timeout: float) -> int:
    """Every process started, its schemas compiled and its connections open: a few
    declarations through the whole chain before the clock starts (left out of the figures)."""
    ent = cfg.enterprises[0]
    template = Template(samples.Party(ent.code, ent.name, ent.dxp_id))
    headers = {"X-API-Key": EBC_KEY, "Content-Type": "application/xml"}
    ids = []
    for n in range(WARM_UP):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            answer = http.post("/v1/messages", content=template.make(900_000_000 + n), timeout=120)
            answer.raise_for_status()
            ids.append(answer.json()["message_id"])
    point = Point("", 0, accepted=0)
    _drain(point, cfg, timeout, WARM_UP)
    if not point.drained:
        raise SystemExit("the warm-up declarations were not stored by customs in time")
    return max(ids)


def _engine(cfg: Config) -> Any:
    return create_engine(cfg.database_url)


def _drain(point: Point, cfg: Config, drain: float, warm: int) -> None:
    """Until every accepted declaration is stored by customs (or `drain` seconds)."""
    engine = _engine(cfg)
    deadline = time.monotonic() + drain
    stored = select(func.count()).select_from(DOCUMENTS).where(DOCUMENTS.c.status == "stored")
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if int(conn.scalar(stored) or 0) >= point.accepted + warm:
                break
            conn.rollback()
            time.sleep(0.25)
        else:
            point.drained = False
    engine.dispose()


def _measure(point: Point, cfg: Config, warm_last: int) -> None:
    go = datetime.fromtimestamp(point.stages.pop("_go")[0], UTC).replace(tzinfo=None)
    engine = _engine(cfg)
    with engine.connect() as conn:
        msgs = list(conn.execute(select(
            MESSAGES.c.id, MESSAGES.c.created_at, MESSAGES.c.signed_at, MESSAGES.c.sent_at
        ).where(MESSAGES.c.id > warm_last)))  # fmt: skip
        hc, vc = HISTORY.c, VERSIONS.c
        stored = dict(conn.execute(
            select(vc.message_id, func.min(hc.at))
            .join_from(HISTORY, VERSIONS, vc.document_id == hc.document_id)
            .where(hc.to_status == "stored")
            .group_by(vc.message_id)
        ).all())  # fmt: skip
        docs = int(conn.scalar(select(func.count()).select_from(DOCUMENTS)) or 0)
        n_stored = int(conn.scalar(
            select(func.count()).select_from(DOCUMENTS).where(DOCUMENTS.c.status == "stored")
        ) or 0)  # fmt: skip
    engine.dispose()

    def ms(a: datetime | None, b: datetime | None) -> float | None:
        return (_naive(b) - _naive(a)).total_seconds() * 1000 if a and b else None

    for name, pairs in (
        ("stored→signed", [(m.created_at, m.signed_at) for m in msgs]),
        ("signed→confirmed", [(m.signed_at, m.sent_at) for m in msgs]),
        ("confirmed→customs stored", [(m.sent_at, stored.get(m.id)) for m in msgs]),
        ("accepted→customs stored", [(m.created_at, stored.get(m.id)) for m in msgs]),
    ):
        point.stages[name] = [v for a, b in pairs if (v := ms(a, b)) is not None]
    confirmed = [_naive(m.sent_at) for m in msgs if m.sent_at]
    if confirmed and point.accepted:
        point.own = point.accepted / max(0.001, (max(confirmed) - go).total_seconds())
    if stored and point.accepted:
        last = max(_naive(t) for t in stored.values())
        point.e2e = point.accepted / max(0.001, (last - go).total_seconds())
    point.checks = _counts(cfg, point.accepted, docs - WARM_UP, len(msgs), n_stored - WARM_UP)


def _naive(at: Any) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _counts(cfg: Config, accepted: int, docs: int, msgs: int, stored: int) -> dict[str, int]:
    """Nothing lost, nothing doubled: the gateway's records and what customs holds."""
    sim = create_engine(cfg.sim.database_url)
    with sim.connect() as conn:
        held = int(conn.scalar(text("SELECT COUNT(*) FROM sim_declarations")) or 0) - WARM_UP
        twice = int(conn.scalar(text(
            "SELECT COUNT(*) FROM sim_declarations WHERE versions > 1"
        )) or 0)  # fmt: skip
        repeats = int(conn.scalar(text(
            "SELECT COALESCE(SUM(deliveries - 1), 0) FROM sim_received"
        )) or 0)  # fmt: skip
    sim.dispose()
    return {
        "accepted": accepted,
        "records": docs,
        "messages": msgs,
        "stored": stored,
        "held by customs": held,
        "processed twice by customs": twice,
        "repeats dropped by customs": repeats,
        "lost": max(0, accepted - docs) + max(0, accepted - held),
        "doubled": max(0, docs - accepted) + max(0, held - accepted) + twice,
    }


def _cleanup(cfg: Config, db_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(cfg.amqp.url))
    try:
        delete_topology(connection.channel(), topology_for(cfg), [e.code for e in cfg.enterprises])
    finally:
        connection.close()
    drop_database(db_url)


# --- reporting -----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(p: Point) -> None:
    print(f"\n== {p.db}, {p.clients} clients ==")
    print(f"  raw signing, same key, 1 core   {p.raw:8.0f} signatures/s")
    print(f"  accepted                        {p.accepted_rate:8.1f} decl/s  "
          f"({p.accepted} in {p.load_seconds:.1f} s; refused {p.refused or 0}, "
          f"client errors {p.client_errors})")  # fmt: skip
    print(f"  own path (→ confirmed on broker){p.own:8.1f} decl/s  = {p.own / p.raw:.3f} × raw")
    e2e_own = p.e2e / p.own if p.own else 0.0
    print(f"  end to end (→ customs stored)   {p.e2e:8.1f} decl/s  = {e2e_own:.2f} × own path")
    print(f"  {'stage (ms)':<28}{'p50':>9}{'p99':>9}")
    for name, values in p.stages.items():
        print(f"  {name:<28}{pct(values, 0.5):>9.1f}{pct(values, 0.99):>9.1f}")
    print("  counts  " + ", ".join(f"{k} {v}" for k, v in p.checks.items()))
    _report_cpu(p)
    if not p.drained:
        print("  NOT DRAINED: some accepted declarations were not stored by customs in time")


def _report_cpu(p: Point) -> None:
    """CPU ms per accepted declaration by role, and how busy the machine's cores were."""
    if not p.cpu or not p.accepted:
        return
    window = CpuWindow(lambda _proc: None, used=p.cpu)
    cores = os.cpu_count() or 1
    seconds = p.load_seconds + 0.2
    print(f"  CPU during the load (ms per accepted declaration; {cores} cores, {seconds:.1f} s)")
    for which, ms in per_declaration(window, p.accepted):
        print(f"    {which:<28}{ms:9.2f}")
    counted = sum(p.cpu.values())
    print(
        f"    {'counted roles together':<28}{counted * 1000 / p.accepted:9.2f}"
        f"   = {counted / seconds:.2f} of {cores} cores"
    )
    print(f"    machine busy (every process) {p.machine_busy / seconds:.2f} of {cores} cores")


def table(points: list[Point]) -> str:
    rows = [
        "| database | clients | raw signing (sig/s) | accepted/s | own path (decl/s) | "
        "own ÷ raw (runs) | own ÷ raw | end to end (decl/s) | e2e ÷ own | HTTP p50 / p99 ms | "
        "accepted→stored p50 / p99 ms | lost / doubled |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for db in ("postgresql", "sqlite"):
        for c in CLIENT_COUNTS:
            runs = [p for p in points if p.db == db and p.clients == c]
            if not runs:
                continue
            mid = sorted(runs, key=lambda p: p.own / p.raw)[len(runs) // 2]
            ratios = " / ".join(f"{p.own / p.raw:.2f}" for p in runs)
            http, e2e = mid.stages["HTTP answer"], mid.stages["accepted→customs stored"]
            rows.append(
                f"| {_db_name(db)} | {c} | {med([p.raw for p in runs]):,.0f} "
                f"| {med([p.accepted_rate for p in runs]):,.0f} "
                f"| {med([p.own for p in runs]):,.0f} "
                f"| {ratios} | **{med([p.own / p.raw for p in runs]):.2f}** "
                f"| {med([p.e2e for p in runs]):,.0f} "
                f"| {med([p.e2e / p.own if p.own else 0 for p in runs]):.2f} "
                f"| {pct(http, 0.5):,.0f} / {pct(http, 0.99):,.0f} "
                f"| {pct(e2e, 0.5):,.0f} / {pct(e2e, 0.99):,.0f} "
                f"| {sum(p.checks.get('lost', 0) for p in runs)} / "
                f"{sum(p.checks.get('doubled', 0) for p in runs)} |"
            )
    return "\n".join(rows)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _db_name(db: str) -> str:
    return "PostgreSQL" if db == "postgresql" else "SQLite"


# --- the "before" figures: the in-process benchmark -------------------------------------------


PIPELINE_LINES = {
    "raw": r"raw signing rate.*?([\d.]+) signatures/s",
    "own": r"gateway's own path.*?([\d.]+) decl/s",
    "e2e": r"end to end.*?([\d.]+) decl/s",
    "customs": r"sent→customs stored\s+([\d.]+)",
}


def run_pipeline(db: str, per_message: int, n: int) -> dict[str, float]:
    argv = [sys.executable, str(ROOT / "bench" / "pipeline.py"), "--n", str(n),
            "--per-message", str(per_message), "--db", db]  # fmt: skip
    try:
        out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=900).stdout
    except subprocess.TimeoutExpired:
        out = ""  # shown as nan in the table
    found = {k: re.search(rx, out) for k, rx in PIPELINE_LINES.items()}
    return {k: float(m.group(1)) if m else float("nan") for k, m in found.items()}


def before_table(results: dict[tuple[str, int], list[dict[str, float]]]) -> str:
    rows = [
        "| database | per message | raw signing (sig/s) | own path (decl/s) | × raw signing "
        "| end to end (decl/s) | sent → customs stored p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for (db, per), runs in results.items():
        raw, own = med([r["raw"] for r in runs]), med([r["own"] for r in runs])
        rows.append(
            f"| {_db_name(db)} | {per} | {raw:,.0f} | {own:,.0f} "
            f"| {med([r['own'] / r['raw'] for r in runs]):.2f} "
            f"| {med([r['e2e'] for r in runs]):,.0f} "
            f"| {med([r['customs'] for r in runs]) / 1000:.1f} s |"
        )
    return "\n".join(rows)


def series(args: argparse.Namespace) -> bool:
    started = time.monotonic()
    points: list[Point] = []
    failed = 0
    for run in range(args.runs):
        for db in ("postgresql", "sqlite"):
            for c in CLIENT_COUNTS:
                print(f"-- run {run + 1}/{args.runs}: {db}, {c} clients", flush=True)
                try:
                    p = run_point(
                        db, c, args.seconds, args.serve_args, args.drain, None, args.sim_processes
                    )
                except (Exception, SystemExit) as exc:  # one point failing ends no series
                    print(f"   point failed, left out of the table: {exc!r}", flush=True)
                    failed += 1
                    continue
                report(p)
                points.append(p)
    before: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(args.before_runs):
        for db in ("sqlite", "postgresql"):
            for per, n in ((1, 1000), (100, 2000)):
                print(f"-- bench/pipeline.py {db}, {per} per message, {n}", flush=True)
                before.setdefault((db, per), []).append(run_pipeline(db, per, n))
    minutes = (time.monotonic() - started) / 60
    layout = args.serve_args or "; ".join(
        f"{_db_name(d)} `serve {a}`" for d, a in PRODUCTION.items()
    )
    print(f"\n### HTTP pipeline, {layout}, {args.seconds:g} s of load per run, "
          f"medians of {args.runs} runs ({minutes:.1f} min in all)\n")  # fmt: skip
    print(table(points))
    print(f"\n### In-process (bench/pipeline.py), medians of {args.before_runs} run(s)\n")
    print(before_table(before))
    if failed:
        print(f"\n{failed} point(s) failed and are left out")
    return not failed and all(p.ok for p in points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", default="1,8,32,128", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per point")
    parser.add_argument("--drain", type=float, default=120.0, help="longest wait for customs")
    parser.add_argument(
        "--serve-args", default=None, help="options given to serve (default: per database)"
    )
    parser.add_argument("--series", action="store_true", help="the full table (README)")
    parser.add_argument("--profile", type=Path, help="py-spy every gateway process into DIR")
    parser.add_argument(
        "--profile-gil", action="store_true", help="profile only threads holding the GIL (CPU)"
    )
    parser.add_argument(
        "--sim-processes", type=int, default=SIM_PROCESSES, help="customs-sim processes"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per point in --series")
    parser.add_argument("--before-runs", type=int, default=1, help="bench/pipeline.py runs")
    args = parser.parse_args()
    registry.ensure_installed()
    if args.profile_gil:
        SPY_MODE.append("--gil")
    if args.series:
        sys.exit(0 if series(args) else 1)
    dbs = ("postgresql", "sqlite") if args.db == "both" else (args.db,)
    points = []
    for db in dbs:
        for c in (int(x) for x in args.clients.split(",")):
            profile = args.profile / f"{db}-{c}" if args.profile else None
            points.append(
                run_point(
                    db, c, args.seconds, args.serve_args, args.drain, profile, args.sim_processes
                )
            )
            report(points[-1])
    print()
    print(table(points))
    sys.exit(0 if all(p.ok for p in points) else 1)


if __name__ == "__main__":
    main()
