"""Chaos test: declarations through several gateway processes while they are killed.

    .venv/bin/python bench/chaos.py                      # full: 5,000 declarations
    .venv/bin/python bench/chaos.py --short              # the CI version (tests/test_chaos.py)

Runs on a throwaway RabbitMQ node and a throwaway PostgreSQL cluster (own ports, own data
folders, loopback only), so restarting them touches nothing else. It starts the simulated
customs and N gateway processes (`customs-gateway serve`, HTTP API and all workers), pushes
the declarations over HTTP to whichever process answers (a refused or cut request is sent
again, as an ERP would: intake is idempotent), and meanwhile `kill -9`s a random gateway
process every few seconds and restarts it, restarts the RabbitMQ node once and PostgreSQL
once. Then it waits for every accepted declaration to reach its final status and prints:
accepted, final, processed more than once by customs, lost. Exit status 0 only when lost =
0, duplicates at customs = 0 and all are final. Bounded in time and traffic.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import PostgresCluster, RabbitNode, free_port  # noqa: E402
from gateway.core.config import load  # noqa: E402
from gateway.core.customs_sim.state import Declaration, Received  # noqa: E402
from gateway.core.db import Database  # noqa: E402
from gateway.core.models import Document  # noqa: E402
from gateway.core.runtime import Gateway  # noqa: E402
from gateway.ecx import samples  # noqa: E402
from tests.stack import EBC_KEY, PLATFORM, raw_config  # noqa: E402
from transports import permissions  # noqa: E402

FINAL = ("stored", "returned", "store_failed", "format_failed", "security_failed")


@dataclass
class GatewayProcess:
    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0

    def start(self) -> None:
        env = {**os.environ, "CUSTOMS_GATEWAY_HTTP_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "--config", str(self.config), "serve"],
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Tally:
    accepted: set[str] = field(default_factory=set)  # business keys
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_config(base: Path, rabbit: RabbitNode, pg: PostgresCluster) -> Path:
    raw = raw_config(
        base, base / "keys", prefix="chaos.", db_url=pg.url, declaring_delay=0.05, result_delay=0.2
    )
    # The gateway and the simulated customs as their own broker users, as deployed.
    gateway_url, customs_url = rabbit.url_as("gateway", "chaos"), rabbit.url_as("customs", "chaos")
    rabbit.add_users([
        permissions.gateway_grant("gateway", "chaos"),
        permissions.customs_grant("customs", "chaos"),
    ])  # fmt: skip
    raw["amqp"].update(url=gateway_url, customs_url=customs_url, delivery_limit=50)
    raw["intake"]["folder"] = None
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def messages(n: int, per_message: int) -> list[tuple[list[str], bytes]]:
    ebc = samples.Party("3301960Z01", "杭州云锦跨境电子商务有限公司", "DXPENT0000458763")
    numbers = samples.order_numbers(n)
    out = []
    for i in range(0, n, per_message):
        chunk = numbers[i : i + per_message]
        out.append((chunk, samples.order_message(ebc, PLATFORM, chunk, seed=i)))
    return out


def push(
    batch: list[tuple[list[str], bytes]], procs: list[GatewayProcess], tally: Tally, deadline: float
) -> None:
    with httpx.Client(timeout=10) as client:
        for numbers, body in batch:
            while time.monotonic() < deadline:
                proc = random.choice(procs)
                try:
                    resp = client.post(
                        f"http://127.0.0.1:{proc.port}/v1/messages",
                        content=body,
                        headers={"X-API-Key": EBC_KEY},
                    )
                except httpx.TransportError:
                    resp = None
                if resp is not None and resp.status_code in (200, 201):
                    with tally.lock:
                        tally.accepted.update(f"3301960Z01|{no}" for no in numbers)
                    break
                with tally.lock:
                    tally.retries += 1
                time.sleep(0.05)


def chaos(
    procs: list[GatewayProcess],
    rabbit: RabbitNode,
    pg: PostgresCluster,
    progress: Callable[[], float],
    stop: threading.Event,
    every: float,
    min_kills: int,
) -> list[str]:
    """Kill gateways until the push is over, and at least `min_kills` times; restart the
    broker a third of the way through and PostgreSQL two thirds of the way (or at the end)."""
    events: list[str] = []
    kills = 0
    restarted = {"rabbit": False, "pg": False}
    while not (stop.is_set() and kills >= min_kills and all(restarted.values())):
        time.sleep(every)
        events += revive(procs)
        victim = random.choice(procs)
        victim.kill()
        kills += 1
        events.append(f"{time.strftime('%H:%M:%S')} kill -9 gateway on port {victim.port}")
        time.sleep(0.5)
        victim.start()
        done = 1.0 if stop.is_set() else progress()
        if done > 1 / 3 and not restarted["rabbit"]:
            events.append(f"{time.strftime('%H:%M:%S')} restart RabbitMQ node")
            rabbit.restart()
            restarted["rabbit"] = True
        elif done > 2 / 3 and not restarted["pg"]:
            events.append(f"{time.strftime('%H:%M:%S')} restart PostgreSQL")
            pg.restart()
            restarted["pg"] = True
    return events


def revive(procs: list[GatewayProcess]) -> list[str]:
    """Restart a gateway process that exited by itself (as a process supervisor would)."""
    events = []
    for proc in procs:
        if proc.process is not None and proc.process.poll() is not None:
            code = proc.process.returncode
            if code != -signal.SIGKILL:
                events.append(
                    f"{time.strftime('%H:%M:%S')} gateway on port {proc.port} had "
                    f"exited ({code}); restarted"
                )
            proc.start()
    return events


def final_count(db: Database, keys: set[str]) -> tuple[int, int]:
    with db.session() as session:
        rows = session.execute(select(Document.business_key, Document.status)).all()
    final = sum(1 for key, status in rows if key in keys and status in FINAL)
    stored = sum(1 for key, status in rows if key in keys and status == "stored")
    return final, stored


def customs_counts(sim_url: str) -> dict[str, int]:
    engine = create_engine(sim_url)
    with engine.connect() as conn:
        envelopes = conn.scalar(select(func.count()).select_from(Received)) or 0
        repeats = (
            conn.scalar(select(func.count()).select_from(Received).where(Received.deliveries > 1))
            or 0
        )
        held = conn.scalar(select(func.count()).select_from(Declaration)) or 0
        twice = (
            conn.scalar(
                select(func.count()).select_from(Declaration).where(Declaration.versions > 1)
            )
            or 0
        )
        refused = conn.scalar(text("select count(*) from sim_received where outcome != 'accepted'"))
    engine.dispose()
    return {
        "envelopes": envelopes,
        "repeats_dropped": repeats,
        "held": held,
        "processed_twice": twice,
        "refused": refused or 0,
    }


def run(n: int, per_message: int, processes: int, every: float, timeout: float) -> int:
    base = Path(tempfile.mkdtemp(prefix="gw-chaos-"))
    rabbit, pg = RabbitNode(base / "rabbit"), PostgresCluster(base / "pg")
    rabbit.start()
    pg.start()
    path = build_config(base, rabbit, pg)
    cfg = load(path)
    Gateway(cfg).prepare()
    sim = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--config", str(path), "customs-sim"],
        stdout=(base / "sim.log").open("w"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    procs = [GatewayProcess(path, free_port(), base / f"gateway-{i}.log") for i in range(processes)]
    try:
        return _drive(cfg, procs, rabbit, pg, n, per_message, every, timeout, base)
    finally:
        for proc in procs:
            proc.stop()
        sim.terminate()
        sim.wait(15)
        rabbit.stop()
        pg.stop()


def _drive(
    cfg,
    procs,
    rabbit,
    pg,
    n,
    per_message,
    every,
    timeout,
    base,  # type: ignore[no-untyped-def]
    min_kills=5,
) -> int:
    for proc in procs:
        proc.start()
    time.sleep(3)
    batch = messages(n, per_message)
    tally = Tally()
    deadline = time.monotonic() + timeout
    stop = threading.Event()
    pushers = [
        threading.Thread(target=push, args=(batch[i::3], procs, tally, deadline)) for i in range(3)
    ]
    events: list[str] = []
    killer = threading.Thread(
        target=lambda: events.extend(
            chaos(procs, rabbit, pg, lambda: len(tally.accepted) / n, stop, every, min_kills)
        )
    )
    started = time.monotonic()
    for thread in (*pushers, killer):
        thread.start()
    for thread in pushers:
        thread.join()
    stop.set()
    killer.join()
    pushed = time.monotonic()
    db = Database(cfg.database_url)
    while time.monotonic() < deadline:
        final, stored = final_count(db, tally.accepted)
        if final >= len(tally.accepted):
            break
        time.sleep(1)
    final, stored = final_count(db, tally.accepted)
    seen = customs_counts(cfg.sim.database_url)
    lost = len(tally.accepted) - stored
    for line in events:
        print(line)
    print(
        f"\nchaos run: {n} declarations in {len(batch)} messages, {len(procs)} gateway "
        f"processes, {sum(p.kills for p in procs)} kill -9, RabbitMQ and PostgreSQL "
        f"restarted once each; pushed in {pushed - started:.0f} s, settled in "
        f"{time.monotonic() - pushed:.0f} s; logs in {base}"
    )
    print(
        f"accepted:                      {len(tally.accepted)}  (requests retried: {tally.retries})"
    )
    print(f"reached a final status:        {final}  (stored {stored})")
    print(f"held by customs:               {seen['held']}")
    print(f"processed twice by customs:    {seen['processed_twice']}")
    print(
        f"envelope repeats dropped:      {seen['repeats_dropped']}  (same CopMsgId, not processed)"
    )
    print(f"refused by customs:            {seen['refused']}")
    print(f"lost:                          {lost}")
    ok = (
        lost == 0
        and seen["processed_twice"] == 0
        and final == len(tally.accepted)
        and len(tally.accepted) == n
        and seen["held"] == n
    )
    print("RESULT: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=5000)
    parser.add_argument("--per-message", type=int, default=10)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--short", action="store_true", help="CI size: 300 declarations")
    args = parser.parse_args()
    if args.short:
        args.declarations, args.kill_every, args.timeout = 300, 2.0, 300.0
    sys.exit(
        run(args.declarations, args.per_message, args.processes, args.kill_every, args.timeout)
    )


if __name__ == "__main__":
    main()
