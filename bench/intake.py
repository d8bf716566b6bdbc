"""Intake cost per phase, single-threaded, in isolation (no workers, no broker).

    .venv/bin/python bench/intake.py [--sizes 1 20 100] [--messages 40] [--profile checks]

For order messages (CEB303, `gateway.samples`) of each size, prints the median time per
message and per record of each phase of `Intake.submit`, in its order: hardened parse, XSD
validation, business checks, the records read for the store, and the store itself (one
transaction on a fresh SQLite file database, with the notification row of the outbox),
and of the store its commit alone (the fsync of `synchronous=FULL`: the disk, not Python);
then `Intake.submit` as a whole, on other messages of the same size. Figures only: nothing
is asserted (the machines here are shared and noisy).

`--profile PHASE` runs that phase under cProfile on the largest size and prints the top
functions by own time, to see where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway import xmlsafe  # noqa: E402
from gateway.core import checks, intake, registry  # noqa: E402
from gateway.core.db import Database  # noqa: E402
from gateway.core.history import Notifier  # noqa: E402
from gateway.core.migrate import upgrade  # noqa: E402
from gateway.core.models import Enterprise  # noqa: E402
from gateway.ecx import samples  # noqa: E402
from schemas import loader as schemas  # noqa: E402
from transports.topology import Topology  # noqa: E402

SENDER = samples.DEMO_EBC
PHASES = ("parse", "xsd", "checks", "records", "store")
COLUMNS = (*PHASES, "commit", "sum", "submit")  # commit: part of store; sum: of the phases
#: seconds of every commit, the last one first read by `phases`
COMMITS: list[float] = []


def new_intake(base: Path) -> intake.Intake:
    """An intake on a fresh SQLite file database, with the notifier writing the outbox."""
    db = Database(f"sqlite:///{base / 'intake.db'}")
    time_commits(db)
    upgrade(db)
    with db.session() as session:
        session.add(Enterprise(code=SENDER.code, name=SENDER.name, dxp_id=SENDER.dxp_id))
    notifier = Notifier(Topology())
    db.before_commit.append(notifier.flush)
    return intake.Intake(db, notifier)


def time_commits(db: Database) -> None:
    dialect = db.engine.dialect
    commit = dialect.do_commit

    def timed(dbapi_connection: Any) -> None:
        started = time.perf_counter()
        commit(dbapi_connection)
        COMMITS.append(time.perf_counter() - started)

    dialect.do_commit = timed  # type: ignore[method-assign]


class Orders:
    """Order messages with order numbers never used before (each is stored once)."""

    def __init__(self) -> None:
        self.next = 1

    def make(self, size: int) -> bytes:
        numbers = samples.order_numbers(size, start=self.next)
        self.next += size
        return samples.order_message(SENDER, samples.DEMO_EBP, numbers, seed=self.next)


def phases(gate: intake.Intake, data: bytes) -> dict[str, float]:
    """Seconds of each phase for one message, the steps of `intake.check` and `submit`."""
    took: dict[str, float] = {}

    def timed(name: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = step()
        took[name] = time.perf_counter() - started
        return result

    root = timed("parse", lambda: xmlsafe.parse(data).getroot())
    mtype = schemas.message_type(root)
    assert not timed("xsd", lambda: schemas.validate(root, mtype))
    assert not timed("checks", lambda: checks.check_message(root))
    kind = registry.for_message(mtype)
    assert kind is not None
    made = timed("records", lambda: intake.Checked(kind, root, tuple(kind.records(root)), data))
    timed("store", lambda: gate._store(SENDER.code, made, "bench", samples.BASE_TIME))
    took["commit"] = COMMITS[-1]
    return took


def submit(gate: intake.Intake, data: bytes) -> float:
    started = time.perf_counter()
    gate.submit(SENDER.code, data, "bench", at=samples.BASE_TIME)
    return time.perf_counter() - started


@dataclass
class Row:
    size: int
    medians: dict[str, float]  # seconds per message

    def show(self) -> None:
        cells = [f"{self.size:>7}"]
        for name in COLUMNS:
            ms = self.medians[name] * 1000
            cells.append(f"{ms:>8.2f} {ms / self.size:>6.3f}")
        print(" ".join(cells))


def measure(gate: intake.Intake, orders: Orders, size: int, count: int) -> Row:
    runs = [phases(gate, orders.make(size)) for _ in range(count)]
    medians = {name: statistics.median(r[name] for r in runs) for name in (*PHASES, "commit")}
    medians["sum"] = sum(medians[name] for name in PHASES)
    medians["submit"] = statistics.median(submit(gate, orders.make(size)) for _ in range(count))
    return Row(size, medians)


def header() -> None:
    names = [f"{name:>15}" for name in COLUMNS]
    print(f"{'records':>7} " + " ".join(names))
    print(f"{'':>7} " + " ".join(f"{'ms/msg':>8} {'ms/rec':>6}" for _ in names))


def profile(gate: intake.Intake, orders: Orders, size: int, phase: str, count: int) -> None:
    bodies = [orders.make(size) for _ in range(count)]
    roots = [xmlsafe.parse(b).getroot() for b in bodies]
    steps: dict[str, Callable[[int], Any]] = {
        "parse": lambda i: xmlsafe.parse(bodies[i]),
        "xsd": lambda i: schemas.validate(roots[i], schemas.message_type(roots[i])),
        "checks": lambda i: checks.check_message(roots[i]),
        "check": lambda i: intake.check(bodies[i]),
        "submit": lambda i: gate.submit(SENDER.code, bodies[i], "bench", at=samples.BASE_TIME),
    }
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(count):
        steps[phase](i)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument(
        "--messages", type=int, default=40, help="messages per size (and as many for submit)"
    )
    parser.add_argument(
        "--profile", choices=["parse", "xsd", "checks", "check", "submit"], default=None
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gw-intake-") as tmp:
        gate = new_intake(Path(tmp))
        orders = Orders()
        gate.submit(SENDER.code, orders.make(1), "bench", at=samples.BASE_TIME)  # warm up
        if args.profile:
            profile(gate, orders, max(args.sizes), args.profile, args.messages)
            return
        print(f"intake phases, medians of {args.messages} order messages per size (SQLite)")
        header()
        for size in args.sizes:
            measure(gate, orders, size, args.messages).show()


if __name__ == "__main__":
    main()
