"""False accepts and false rejects of the border biometrics, measured on the public sets in
../shared/data (R-BDR-3, R-BDR-6; docs/biometrics.md holds the last figures).

    .venv/bin/python bench/biometrics.py                 # faces and fingerprints
    .venv/bin/python bench/biometrics.py --only faces    # or: --only fingers
    .venv/bin/python bench/biometrics.py --hypotheses 250

Faces (ORL, 40 people x 10 images): every one of the 1,800 genuine and 78,000 impostor
pairs, at the shipped distance threshold. Fingerprints (FVC2002 DB2_B, 10 fingers x 8
impressions at 569 dpi): 280 genuine and 2,880 impostor pairs, and the FVC protocol's 45
impostor pairs (impression 1 of each finger); each pair scored once, lower file name as
the probe. For each: FRR and FAR at the shipped threshold, the equal error rate and its
threshold, the threshold for FAR <= 0.1 % and its FRR, and median times. Nothing is cached
or written: figures go to stdout only.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices.fingerprint import FVC2002_DB2_DPI, make_impression, read_image  # noqa: E402
from gateway.border.biometrics import face, fingerprint  # noqa: E402
from gateway.border.biometrics.templates import Template  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TARGET_FAR = 0.001

Scores = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Rates:
    """Error rates of similarity scores (accept when score >= threshold)."""

    genuine: Scores
    impostor: Scores

    def frr(self, threshold: float) -> float:
        return float((self.genuine < threshold).mean())

    def far(self, threshold: float) -> float:
        return float((self.impostor >= threshold).mean())

    def curves(self) -> tuple[Scores, Scores, Scores]:
        """Every candidate threshold with its FAR and FRR (vectorised: 80,000 scores)."""
        thresholds = np.unique(np.concatenate([self.genuine, self.impostor, [np.inf]]))
        genuine, impostor = np.sort(self.genuine), np.sort(self.impostor)
        frr = np.searchsorted(genuine, thresholds, side="left") / len(genuine)
        far = 1 - np.searchsorted(impostor, thresholds, side="left") / len(impostor)
        return thresholds, far, frr

    def eer(self) -> tuple[float, float]:
        """(EER, its threshold): where FAR and FRR are closest, their mean."""
        thresholds, far, frr = self.curves()
        k = int(np.argmin(np.abs(far - frr)))
        return float(far[k] + frr[k]) / 2, float(thresholds[k])

    def at_far(self, target: float) -> tuple[float, float]:
        """(threshold, FRR) of the most lenient threshold whose FAR is at most `target`."""
        thresholds, far, frr = self.curves()
        k = int(np.argmax(far <= target))  # far falls as the threshold rises
        return float(thresholds[k]), float(frr[k])


def pct(x: float) -> str:
    return f"{100 * x:.3f} %"


def report(title: str, rates: Rates, shipped: float, show: Callable[[float], str]) -> None:
    """Print the figures; `show` turns an internal score back into the matcher's units."""
    eer, eer_t = rates.eer()
    far_t, far_frr = rates.at_far(TARGET_FAR)
    rejected = int((rates.genuine < shipped).sum())
    accepted = int((rates.impostor >= shipped).sum())
    print(f"\n{title}: {len(rates.genuine)} genuine, {len(rates.impostor)} impostor pairs")
    print(
        f"  shipped threshold {show(shipped)}: FRR {pct(rates.frr(shipped))} "
        f"({rejected}/{len(rates.genuine)}), FAR {pct(rates.far(shipped))} "
        f"({accepted}/{len(rates.impostor)})"
    )
    print(f"  EER {pct(eer)} at threshold {show(eer_t)}")
    print(f"  FAR <= {pct(TARGET_FAR)}: threshold {show(far_t)}, FRR {pct(far_frr)}")
    print(
        f"  worst genuine {show(float(rates.genuine.min()))}, median "
        f"{show(float(np.median(rates.genuine)))}; closest impostor "
        f"{show(float(rates.impostor.max()))}, median {show(float(np.median(rates.impostor)))}"
    )


def ms(seconds: list[float]) -> str:
    median = statistics.median(seconds)
    return f"{1000 * median:.1f} ms" if median >= 0.001 else f"{1e6 * median:.0f} µs"


# --- faces ---------------------------------------------------------------------------------


def bench_faces(folder: Path) -> None:
    matcher = face.FaceMatcher()
    paths = sorted(folder.glob("s*/*.pgm"), key=lambda p: (int(p.parent.name[1:]), int(p.stem)))
    templates: list[Template] = []
    labels, times, where = [], [], Counter[str]()
    for path in paths:
        image = read_image(path)
        start = time.perf_counter()
        template, location = matcher.describe(image)
        times.append(time.perf_counter() - start)
        templates.append(template)
        labels.append(path.parent.name)
        where[location.value] += 1
    print(
        f"\nfaces: {len(paths)} ORL images described, median {ms(times)} each "
        f"(face located: {dict(where)})"
    )
    vectors = np.stack([face.descriptor_of(t) for t in templates]).astype(np.float64)
    distances = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    i, j = np.triu_indices(len(paths), k=1)
    same = np.array(labels)[i] == np.array(labels)[j]
    rates = Rates(-distances[i, j][same], -distances[i, j][~same])  # similarity = -distance
    compare = []
    for a, b in itertools.islice(itertools.combinations(templates, 2), 2000):
        start = time.perf_counter()
        matcher.verify(a, b)
        compare.append(time.perf_counter() - start)
    print(f"  comparison (verify) median {ms(compare)}")
    report("faces, ORL", rates, -face.DEFAULT_THRESHOLD, lambda s: f"distance {-s:.4f}")


# --- fingerprints --------------------------------------------------------------------------


def bench_fingers(folder: Path, hypotheses: int) -> None:
    matcher = fingerprint.MinutiaeMatcher(hypotheses=hypotheses)
    paths = sorted(folder.glob("*_*.tif"))
    templates, qualities, times = {}, [], []
    for path in paths:
        start = time.perf_counter()
        impression = make_impression(read_image(path), FVC2002_DB2_DPI)
        templates[path.stem] = matcher.extract(impression)
        times.append(time.perf_counter() - start)
        qualities.append(impression.quality)
    print(
        f"\nfingerprints: {len(paths)} FVC2002 DB2_B impressions, capture+extraction "
        f"median {ms(times)}; quality min/median/max {min(qualities)}/"
        f"{statistics.median(qualities)}/{max(qualities)}; {hypotheses} hypotheses"
    )
    genuine, impostor, fvc_impostor, compare = [], [], [], []
    for a, b in itertools.combinations(sorted(templates), 2):
        start = time.perf_counter()
        score = matcher.score(templates[a], templates[b])
        compare.append(time.perf_counter() - start)
        finger_a, n_a = a.split("_")
        finger_b, n_b = b.split("_")
        if finger_a == finger_b:
            genuine.append(score)
            continue
        impostor.append(score)
        if n_a == n_b == "1":
            fvc_impostor.append(score)
    print(f"  comparison median {ms(compare)}")
    shipped, show = fingerprint.DEFAULT_THRESHOLD, (lambda s: f"score {s:.4f}")
    report("fingerprints, all pairs", Rates(np.array(genuine), np.array(impostor)), shipped, show)
    report(
        "fingerprints, FVC protocol",
        Rates(np.array(genuine), np.array(fvc_impostor)),
        shipped,
        show,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("faces", "fingers"))
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--hypotheses", type=int, default=fingerprint.DEFAULT_HYPOTHESES)
    args = parser.parse_args()
    if args.only != "fingers":
        bench_faces(args.data / "faces-orl")
    if args.only != "faces":
        bench_fingers(args.data / "fingerprints-fvc" / "DB2_B", args.hypotheses)


if __name__ == "__main__":
    main()
