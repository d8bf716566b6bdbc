"""Summary job benchmark (R-ECX-8): grouping and building one cycle of many closed lists.

    .venv/bin/python bench/summary.py [--lists 100000] [--small 10000] [--db sqlite|postgresql|both]
                                      [--intake]

For each database and for two sizes (`--small`, then `--lists`) it fills a fresh database
(SQLite file, or a throwaway PostgreSQL database dropped afterwards) with that many closed
summary-mode inventory lists of January 2026 — bulk Core inserts, 5 enterprises, 40 merge
keys each (destination country × transport mode × exit customs × producer), 1 to 3 item lines
per list — plus a fifth as many lists already in a summary (which the partial index leaves
out). Then, in a fresh child process so that its peak memory is the job's own:

* `preview`: the two GROUP BY queries of `summary preview` (groups, item totals);
* `group+build`: `job.run_cycle` with the submission replaced by a sink that drops the CEB701
  bytes — the GROUP BY, the streamed invtNos (server-side cursor on PostgreSQL) and the
  building of every CEB701 message, without intake, signing or sending;
* the peak of Python allocations during a second `group+build` (tracemalloc) and the child's
  peak RSS (ru_maxrss).

With `--intake`, the same cycle is then submitted for real through `Intake.submit` (parse,
XSD, business checks, store, link the lists) and timed apart; signing and sending are the
workers' job and are not included.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.throwaway import drop_database, fresh_database  # noqa: E402
from gateway.core.config import SummaryConfig  # noqa: E402
from gateway.core.db import Database  # noqa: E402
from gateway.core.migrate import upgrade  # noqa: E402
from gateway.core.models import Enterprise  # noqa: E402
from gateway.ecx.summary.cycles import parse_cycle  # noqa: E402
from gateway.ecx.summary.models import SummaryItem, SummaryList  # noqa: E402

CYCLE = parse_cycle("2026-01")
RUN_AT = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)
ENTERPRISES = 5
COUNTRIES = ("502", "303", "304", "116", "132")
TRAF_MODES = ("5", "4")
PORTS = ("2991", "2992")
GOODS = (("6110110000", "011"), ("6109100021", "011"), ("6404110000", "025"),
         ("8518300000", "007"), ("9617001100", "007"), ("6911101900", "035"),
         ("6214100090", "015"), ("9405210000", "001"), ("3926909000", "007"),
         ("4602110000", "035"), ("6204430000", "011"), ("8517629900", "007"))  # fmt: skip
BATCH = 5000
#: the default settings (config.yaml): a CEB701 message holds at most 10 × 1,000 lists
SETTINGS = SummaryConfig(enabled=False)


# --- databases ---------------------------------------------------------------------------------


# --- filling -----------------------------------------------------------------------------------


def fill(url: str, lists: int) -> float:
    """`lists` closed January lists and lists / 5 already summarised; returns seconds."""
    started = time.perf_counter()
    db = Database(url)
    upgrade(db)
    with db.session() as session:
        for n in range(ENTERPRISES):
            session.add(
                Enterprise(code=f"33019600{n:02d}", name=f"企业{n}", dxp_id=f"DXPENT{n:010d}")
            )
    with db.session() as session:
        ids = list(session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
    total = lists + lists // 5
    for start in range(0, total, BATCH):
        _insert(db, ids, range(start, min(start + BATCH, total)), lists)
    db.dispose()
    return time.perf_counter() - started


def _insert(db: Database, ids: list[int], numbers: range, pending: int) -> None:
    with db.session() as session:
        heads = [_head(ids, n, summarised=n >= pending) for n in numbers]
        list_ids = list(session.scalars(insert(SummaryList).returning(SummaryList.id), heads))
        lines = [line for list_id, n in zip(list_ids, numbers, strict=True)
                 for line in _lines(list_id, n)]  # fmt: skip
        session.execute(insert(SummaryItem), lines)


def _head(ids: list[int], n: int, summarised: bool) -> dict[str, Any]:
    key = n // ENTERPRISES
    ent = ids[n % ENTERPRISES]
    code = f"33019600{n % ENTERPRISES:02d}"
    closed = CYCLE.start_at + timedelta(seconds=(n * 26) % (31 * 86400))
    return {
        "enterprise_id": ent, "business_key": f"{code}|CI{n:012d}", "agent_code": code,
        "agent_name": f"企业{n % ENTERPRISES}", "ebc_code": code,
        "ebc_name": f"企业{n % ENTERPRISES}", "owner_code": f"{code[:-1]}{key % 2}",
        "customs_code": "2991", "port_code": PORTS[(key // 2) % 2],
        "traf_mode": TRAF_MODES[(key // 4) % 2], "country": COUNTRIES[(key // 8) % 5],
        "trade_mode": "9610", "statistics_flag": "B", "logistics_no": f"YT{n:013d}",
        "gross_weight": Decimal("1.25"), "net_weight": Decimal("1.05"),
        "invt_no": f"29912026E{n:09d}", "closed_at": closed,
        "summary_key": f"SUMDEC{n // 1000:06d}|1" if summarised else None,
        "updated_at": RUN_AT,
    }  # fmt: skip


def _lines(list_id: int, n: int) -> list[dict[str, Any]]:
    country = COUNTRIES[(n // ENTERPRISES // 8) % 5]
    return [
        {"list_id": list_id, "gnum": g + 1, "gcode": GOODS[(n + g) % 12][0], "country": country,
         "currency": "142", "qty": Decimal(1 + g), "unit": GOODS[(n + g) % 12][1],
         "qty1": Decimal(1 + g), "unit1": GOODS[(n + g) % 12][1],
         "total_price": Decimal("59.90") * (1 + g)}
        for g in range(1 + n % 3)
    ]  # fmt: skip


# --- measuring (in a child process) ------------------------------------------------------------


class Sink:
    """The submission replaced: counts messages and bytes, keeps nothing."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    def __call__(self, code: str, data: bytes) -> int:
        self.messages += 1
        self.bytes += len(data)
        return self.messages


def measure(url: str, with_intake: bool, out: Any) -> None:
    from gateway.ecx.summary.job import run_cycle
    from gateway.ecx.summary.preview import preview

    db = Database(url)
    started = time.perf_counter()
    with db.session() as session:
        shown = preview(session, SETTINGS, CYCLE, now=RUN_AT)
    preview_s = time.perf_counter() - started
    sink = Sink()
    started = time.perf_counter()
    run = run_cycle(db, SETTINGS, CYCLE, sink, now=RUN_AT)
    build_s = time.perf_counter() - started
    tracemalloc.start()
    run_cycle(db, SETTINGS, CYCLE, Sink(), now=RUN_AT)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "lists": run.lists, "groups": run.groups,
        "item_groups": sum(len(g.items) for g in shown.groups),
        "applications": sum(a.msg_count for a in run.applications), "messages": sink.messages,
        "mb_xml": sink.bytes / 1e6, "preview_s": preview_s, "build_s": build_s,
        "peak_mb": peak / 1e6, "maxrss_mb": rss_kb / 1e3,
    }  # fmt: skip
    if with_intake:
        result["intake_s"] = _through_intake(url, db)
    db.dispose()
    out.put(result)


def _through_intake(url: str, db: Database) -> float:
    """The same cycle submitted for real: intake checks, stores and links every list."""
    from gateway.core.history import Notifier
    from gateway.core.intake import Intake
    from gateway.ecx.summary.job import intake_submit, run_cycle
    from transports.topology import Topology

    intake = Intake(db, Notifier(Topology()))
    db.before_commit.append(intake.notifier.flush)  # type: ignore[union-attr]
    started = time.perf_counter()
    run = run_cycle(db, SETTINGS, CYCLE, intake_submit(intake), now=RUN_AT)
    elapsed = time.perf_counter() - started
    assert not run.refused, run.refused[0].refused
    return elapsed


def run_one(kind: str, lists: int, base: Path, with_intake: bool) -> dict[str, Any]:
    url = fresh_database(kind, base)
    try:
        fill_s = fill(url, lists)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(target=measure, args=(url, with_intake, queue))
        child.start()
        result: dict[str, Any] = queue.get(timeout=3600)
        child.join()
        return {"db": kind, "fill_s": fill_s, **result}
    finally:
        drop_database(url)


def show(rows: list[dict[str, Any]]) -> None:
    head = ("db", "lists", "groups", "item groups", "CEB701 msgs", "fill s", "preview s",
            "group+build s", "peak MB (tracemalloc)", "max RSS MB", "whole job s")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = (r["db"], f"{r['lists']:,}", r["groups"], r["item_groups"], r["messages"],
                 f"{r['fill_s']:.1f}", f"{r['preview_s']:.2f}", f"{r['build_s']:.2f}",
                 f"{r['peak_mb']:.1f}", f"{r['maxrss_mb']:.0f}",
                 f"{r['intake_s']:.1f}" if "intake_s" in r else "-")  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lists", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--intake", action="store_true", help="also submit through intake")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, size in itertools.product(kinds, (args.small, args.lists)):
            print(f"{kind}: {size:,} lists …", flush=True)
            rows.append(run_one(kind, size, Path(tmp), args.intake))
    show(rows)


if __name__ == "__main__":
    main()
