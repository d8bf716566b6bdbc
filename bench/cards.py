"""Card pool benchmark: signatures per second with 1, 2 and 4 emulated IC cards.

    .venv/bin/python bench/cards.py [--delay 0.24] [--per-card 20] [--suite rsa-sha256]

Every signature goes the production way: CardPool → CardKey → pyscard → pcscd → vpcd →
the card emulator (select, card number, certificate check, PIN, sign), each card taking
`delay` seconds per signature like a real e-port card (about 250 a minute). The benchmark
starts its own pcscd (private namespaces, needs root) and prints, per pool size N, the
measured rate against the ideal N / delay and their ratio (target: at least 0.9).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devices.rig import CardRig  # noqa: E402
from signers import check_signature, get_suite  # noqa: E402
from signers.card import CardKey  # noqa: E402
from signers.pool import CardPool  # noqa: E402
from signers.testkeys import ensure_identity  # noqa: E402

PIN = "123456"


def measure(
    rig: CardRig, key_file: Path, cert_file: Path, n: int, args: argparse.Namespace
) -> float:
    from devices.rig import card_from_files

    keys = []
    for index in range(n):
        number = f"89300000000{index:05d}"
        rig.insert(index, card_from_files(number, key_file, cert_file, PIN, args.delay))
        keys.append(CardKey(card_number=number, pin=PIN))
    pool = CardPool(keys, timeout=10 * args.delay + 5)
    suite = get_suite(args.suite)
    try:
        pool.sign(b"warm-up", suite)
        items = [f"<SignedInfo>{i}</SignedInfo>".encode() for i in range(n * args.per_card)]
        started = time.perf_counter()
        results = pool.sign_many(items, suite)
        elapsed = time.perf_counter() - started
    finally:
        pool.close()
        for index in range(n):
            rig.pull(index)
    bad = [r for r in results if not isinstance(r, bytes)]
    if bad:
        raise SystemExit(f"{len(bad)} signatures failed: {bad[0]}")
    cert = keys[0].certificate
    sample = results[-1]
    assert isinstance(sample, bytes)
    if not check_signature(cert, keys[0].key_type, suite.hash_name, sample, items[-1]):
        raise SystemExit("a signature did not verify")
    return len(items) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", type=float, default=0.24, help="seconds per signature")
    parser.add_argument("--per-card", type=int, default=20, help="signatures per card")
    parser.add_argument("--suite", default="rsa-sha256", help="rsa-sha1, rsa-sha256, sm2-sm3")
    parser.add_argument("--sizes", default="1,2,4", help="pool sizes to measure")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    key_type = "sm2" if args.suite.startswith("sm2") else "rsa"
    with tempfile.TemporaryDirectory(prefix="bench-cards-") as tmp:
        base = Path(tmp)
        key_file, cert_file = ensure_identity(base / "keys", "bench", key_type=key_type)
        with CardRig(base / "pcscd", slots=max(sizes)) as rig:
            print(
                f"suite {args.suite}, {args.delay * 1000:.0f} ms per signature, "
                f"{args.per_card} signatures per card"
            )
            print(f"{'cards':>5} {'sig/s':>8} {'ideal':>8} {'ratio':>6}")
            for n in sizes:
                rate = measure(rig, key_file, cert_file, n, args)
                ideal = n / args.delay
                print(f"{n:>5} {rate:>8.2f} {ideal:>8.2f} {rate / ideal:>6.3f}", flush=True)


if __name__ == "__main__":
    main()
