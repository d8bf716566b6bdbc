"""Pipeline benchmark: N declarations pushed → signed → confirmed on the broker → receipts applied.

    .venv/bin/python bench/pipeline.py [--n 2000] [--per-message 1] [--db sqlite|postgresql]
                                       [--intake-processes K]

Prints, from one run on this machine:
  * the raw single-core signing rate of the enterprise's key (cryptography, same key, same
    suite) — the yardstick;
  * the gateway's own path: intake → stored → signed → confirmed by the broker, as
    declarations per second, with p50/p99 latency of each stage;
  * the end-to-end rate with the simulated customs (a separate process) answering, until
    every declaration is stored.
Stage latencies come from the timestamps the gateway stores (message created/signed/sent,
status history), so the benchmark measures the product, not a copy of it.

Intake runs in the benchmark process next to the workers (one process, as `serve`), or with
`--intake-processes K` in K processes of its own, the messages shared among them, while the
benchmark process runs only the workers (as `serve --no-workers` next to `serve --no-http
--poll 0.05`). Either way each message goes through `Intake.submit`, the call behind the
HTTP API, the folder and the inbound queue.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import drop_database, fresh_database  # noqa: E402
from gateway.core.config import load  # noqa: E402
from gateway.core.models import Document, Message, Outbox, StatusChange  # noqa: E402
from gateway.core.runtime import Gateway  # noqa: E402
from gateway.core.status import Status  # noqa: E402
from gateway.ecx import samples  # noqa: E402
from tests.stack import PLATFORM, raw_config  # noqa: E402
from tests.transport_fixtures import delete_topology, unique_prefix  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raw_sign_rate(gw: Gateway, seconds: float = 2.0) -> float:
    """Signatures per second of the enterprise's key, one core, over SignedInfo-sized data."""
    with gw.db.session() as session:
        from gateway.core.models import Enterprise

        ent = session.scalars(select(Enterprise).order_by(Enterprise.id)).first()
        assert ent is not None
        key, suite = gw.keyring.for_enterprise(ent)
    data = b"<ds:SignedInfo>" + b"x" * 600 + b"</ds:SignedInfo>"
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        key.sign(data, suite)
        count += 1
    return count / (time.perf_counter() - started)


def make_config(base: Path, url: str, prefix: str) -> Path:
    keys = base / "keys"
    raw = raw_config(base, keys, prefix=prefix, db_url=url, declaring_delay=0.0, result_delay=0.0)
    raw["intake"]["folder"] = None
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def messages(gw: Gateway, n: int, per_message: int) -> list[bytes]:
    ent = gw.config.enterprises[0]
    ebc = samples.Party(ent.code, ent.name, ent.dxp_id)
    numbers = samples.order_numbers(n)
    return [
        samples.order_message(ebc, PLATFORM, numbers[i : i + per_message], seed=i)
        for i in range(0, n, per_message)
    ]


def count(gw: Gateway, stmt: object) -> int:
    with gw.db.session() as session:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def wait_until(check: object, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while not check() and time.perf_counter() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    return time.perf_counter()


def _first_time(session: object, status: str) -> dict[int, datetime]:
    stmt = (
        select(StatusChange.document_id, func.min(StatusChange.at))
        .where(StatusChange.to_status == status)
        .group_by(StatusChange.document_id)
    )
    return {doc: at for doc, at in session.execute(stmt).all()}  # type: ignore[attr-defined]


def stage_latencies(gw: Gateway) -> dict[str, list[float]]:
    with gw.db.session() as session:
        msgs = list(session.execute(select(Message.created_at, Message.signed_at, Message.sent_at)))
        stored = _first_time(session, "stored")
        sent = _first_time(session, "sent")

    def ms(a: datetime | None, b: datetime | None) -> float | None:
        return (b - a).total_seconds() * 1000 if a and b else None

    out: dict[str, list[float]] = {
        "stored→signed": [],
        "signed→confirmed": [],
        "stored→confirmed": [],
        "sent→customs stored": [],
    }
    for created, signed, sent_at in msgs:
        for name, value in (
            ("stored→signed", ms(created, signed)),
            ("signed→confirmed", ms(signed, sent_at)),
            ("stored→confirmed", ms(created, sent_at)),
        ):
            if value is not None:
                out[name].append(value)
    out["sent→customs stored"] = [
        v for d, t in stored.items() if (v := ms(sent.get(d), t)) is not None
    ]
    return out


#: how often the workers look for work when intake runs in other processes (nothing wakes them)
WORKER_POLL = 0.05


def push(gw: Gateway, bodies: list[bytes]) -> tuple[float, float, list[float]]:
    """Submit every message from this process: (started, pushed, ms per submission)."""
    code = gw.config.enterprises[0].code
    intake_ms: list[float] = []
    started = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        gw.intake.submit(code, body, "bench")
        intake_ms.append((time.perf_counter() - t) * 1000)
    return started, time.perf_counter(), intake_ms


def push_apart(path: Path, bodies: list[bytes], processes: int) -> tuple[float, float, list[float]]:
    """Submit the messages from `processes` intake processes, each its share, all started
    at once once every one is ready (schemas compiled, database connected)."""
    ctx = multiprocessing.get_context("spawn")  # a fresh process: no inherited connections
    ready, go, results = ctx.Barrier(processes + 1), ctx.Event(), ctx.Queue()
    shares = [bodies[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(target=_intake_process, args=(str(path), share, ready, go, results))
        for share in shares
    ]
    for proc in procs:
        proc.start()
    ready.wait()
    started = time.perf_counter()
    go.set()
    intake_ms = [ms for _ in procs for ms in results.get()]
    pushed = time.perf_counter()
    for proc in procs:
        proc.join()
    return started, pushed, intake_ms


def _intake_process(path: str, bodies: list[bytes], ready: Any, go: Any, results: Any) -> None:
    from gateway.core import intake as intake_mod

    gw = Gateway(load(Path(path)))
    intake_mod.check(bodies[0])  # compile this process's schemas before the clock starts
    with gw.db.session() as session:
        session.execute(select(1))
    ready.wait()
    go.wait()
    _started, _pushed, intake_ms = push(gw, bodies)
    results.put(intake_ms)


def run(n: int, per_message: int, db: str, processes: int = 0) -> None:
    base = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    prefix = unique_prefix()
    url = fresh_database(db, base)
    path = make_config(base, url, prefix)
    cfg = load(path)
    gw = Gateway(cfg)
    gw.prepare()
    raw_rate = raw_sign_rate(gw)
    bodies = messages(gw, n, per_message)
    stop = threading.Event()
    sim = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--config", str(path), "customs-sim"],
        stdout=(base / "sim.log").open("w"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    if processes:
        gw.workers(stop, folder=False, idle=WORKER_POLL)
        started, pushed, intake_ms = push_apart(path, bodies, processes)
    else:
        gw.workers(stop, folder=False)
        started, pushed, intake_ms = push(gw, bodies)
    # Polled through the index on state: `sent_at IS NULL` scanned every message, blobs
    # and all, 50 times a second, in the process under measurement.
    unsent = Message.state.in_([Status.PENDING_SIGN.value, Status.SIGNED.value])
    confirmed = wait_until(
        lambda: count(gw, select(func.count()).select_from(Message).where(unsent)) == 0, 600
    )
    stored = wait_until(
        lambda: (
            count(gw, select(func.count()).select_from(Document).where(Document.status == "stored"))
            >= n
        ),
        600,
    )
    stop.set()
    sim.terminate()
    sim.wait(10)
    report(
        n,
        per_message,
        db,
        processes,
        raw_rate,
        started,
        pushed,
        confirmed,
        stored,
        intake_ms,
        stage_latencies(gw),
    )
    _cleanup(gw)
    gw.db.dispose()
    drop_database(url)


def _cleanup(gw: Gateway) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(gw.config.amqp.url))
    delete_topology(connection.channel(), gw.topology, [e.code for e in gw.config.enterprises])
    connection.close()
    with gw.db.session() as session:
        left = session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None))
        )
    print(f"outbox rows left unsent: {left}")


def report(
    n: int,
    per_message: int,
    db: str,
    processes: int,
    raw_rate: float,
    started: float,
    pushed: float,
    confirmed: float,
    stored: float,
    intake_ms: list[float],
    stages: dict[str, list[float]],
) -> None:
    own = n / (confirmed - started)
    e2e = n / (stored - started)
    where = f"{processes} intake processes" if processes else "intake in the workers' process"
    print(
        f"\npipeline benchmark: {n} declarations, {per_message} per message, "
        f"{n // per_message} messages, database {db}, {where}"
    )
    print(f"raw signing rate of the same key (1 core):   {raw_rate:8.0f} signatures/s")
    print(f"intake only (push loop):                      {n / (pushed - started):8.0f} decl/s")
    print(
        f"gateway's own path (→ confirmed on broker):   {own:8.0f} decl/s   "
        f"= {own / raw_rate:.2f} × raw signing rate"
    )
    print(f"end to end (→ stored by simulated customs):   {e2e:8.0f} decl/s")
    print(f"\n{'stage (ms per message)':<28}{'p50':>10}{'p99':>10}")
    print(
        f"{'intake (parse..commit)':<28}{pct(intake_ms, 0.5):>10.2f}{pct(intake_ms, 0.99):>10.2f}"
    )
    for name, values in stages.items():
        print(f"{name:<28}{pct(values, 0.5):>10.1f}{pct(values, 0.99):>10.1f}")
    print(f"(median intake {statistics.median(intake_ms):.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="declarations")
    parser.add_argument("--per-message", type=int, default=1, help="declarations per message")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--intake-processes",
        type=int,
        default=0,
        help="run intake in this many processes of its own (0: in the workers' process)",
    )
    args = parser.parse_args()
    run(args.n, args.per_message, args.db, args.intake_processes)


if __name__ == "__main__":
    main()
