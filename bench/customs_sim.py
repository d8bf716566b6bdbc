"""The simulated customs alone, in-process: how fast it judges envelopes and sends receipts.

    .venv/bin/python bench/customs_sim.py [--envelopes 500] [--runs 5] [--db sqlite|postgresql]
                                          [--batches 1,10,100]

Issue 15: the simulator must never be what bounds the end-to-end figure of the pipeline
benchmarks, so its own rate is measured here without broker or gateway. Single-order CEB303
envelopes (signed with RSA-2048 rsa-sha1, as the gateway sends them) are fed straight to
`CustomsSim` in groups of B, as its consumer hands them over (`handle` for one,
`handle_batch` for more), each run on a fresh store. Printed per B, medians of the runs:

  * envelopes/s judged: exchange checks (XSD, signature), business rules, bookkeeping,
    the receipts scheduled, commit;
  * receipts/s: receipt messages the sender loop takes off the store and marks sent
    (`send_due`, to a publisher that accepts everything), until none is left.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402

from bench.throwaway import drop_database, fresh_database  # noqa: E402
from gateway import xmlsafe  # noqa: E402
from gateway.core.config import SimConfig  # noqa: E402
from gateway.core.customs_sim.service import CustomsSim, Registry  # noqa: E402
from gateway.core.db import Database  # noqa: E402
from gateway.ecx import samples  # noqa: E402
from signers import FileKey, get_suite, sign  # noqa: E402
from signers.testkeys import ensure_identity  # noqa: E402
from transports import Delivery, Topology, wrap  # noqa: E402
from transports.batch import Outgoing  # noqa: E402


class AcceptAll:
    """A publisher every queue takes from: the receipts' rate is the store's, not a broker's."""

    def publish_batch(self, batch: Sequence[Outgoing]) -> set[str]:
        return set()


def envelopes(count: int, keys: Path) -> tuple[list[Delivery], x509.Certificate]:
    key_path, cert_path = ensure_identity(keys, "bench-ebc")
    key, suite = FileKey.from_config(key_path, cert_path), get_suite("rsa-sha1")
    ebc = samples.DEMO_EBC
    out = []
    for i in range(count):
        order = samples.order_message(ebc, samples.DEMO_EBP, [f"BENCH{i:010d}"])
        signed = sign(xmlsafe.parse(order).getroot(), key, suite)
        env = wrap(signed, msg_type="CEB303Message", sender_id=ebc.dxp_id)
        out.append(Delivery(body=env.body))
    return out, x509.load_pem_x509_certificate(cert_path.read_bytes())


def one_run(
    url: str, deliveries: list[Delivery], cert: x509.Certificate, size: int
) -> tuple[float, float, int]:
    """(envelopes/s judged, receipt messages/s sent, receipt messages) on a fresh store."""
    sim_config = SimConfig(database_url=url, declaring_delay=0.0, result_delay=0.0)
    sim = CustomsSim(
        Database(url), sim_config, Registry({samples.DEMO_EBC.dxp_id: cert}), Topology()
    )
    try:
        started = time.perf_counter()
        for i in range(0, len(deliveries), size):
            group = deliveries[i : i + size]
            if len(group) == 1:  # as the consumer does (transports.consumer._dispatch_batch)
                sim.handle(group[0])
            else:
                sim.handle_batch(group)
        judged = len(deliveries) / (time.perf_counter() - started)
        time.sleep(0.01)  # every receipt due (they are stamped a few ms ahead)
        publisher, sent = AcceptAll(), 0
        started = time.perf_counter()
        while True:
            done = sim.send_due(publisher)  # type: ignore[arg-type]
            if not done:
                break
            sent += done
        receipts = sent / (time.perf_counter() - started)
        return judged, receipts, sent
    finally:
        sim.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envelopes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--batches", default="1,10,100")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        deliveries, cert = envelopes(args.envelopes, base / "keys")
        print(f"customs-sim, {args.db}, {args.envelopes} single-order CEB303 envelopes a run, "
              f"medians of {args.runs} runs")  # fmt: skip
        print(f"{'batch':>6} {'envelopes/s':>12} {'receipts/s':>11} {'receipts':>9}")
        for size in (int(b) for b in args.batches.split(",")):
            figures = []
            for _ in range(args.runs):
                url = fresh_database(args.db, base)
                try:
                    figures.append(one_run(url, deliveries, cert, size))
                finally:
                    drop_database(url)
            judged = statistics.median(f[0] for f in figures)
            receipts = statistics.median(f[1] for f in figures)
            print(f"{size:>6} {judged:>12.0f} {receipts:>11.0f} {figures[0][2]:>9}")


if __name__ == "__main__":
    main()
