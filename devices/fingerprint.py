"""The fingerprint reader (指纹识别器 / 指纹采集器) and the matcher interface behind it.

Seeds 000/001 第二篇: the terminal's reader checks a declarant where the supervised place uses
fingerprints (R-BDR-6); the officer's collector enrols two fingers with three presses each
(R-BDR-3). A reader gives an `Impression`: the grey image at the sensor's resolution and a
quality (0..100, higher is better) so a poor press is refused and asked again.

Vendor readers match on their own SDK, so matching is an interface too: a
`FingerprintMatcher` turns an impression into template bytes and scores two templates
against its threshold. The gateway's default matcher lives in gateway.border.biometrics.

`SimulatedScanner` replays impressions (image files such as FVC2002's `101_1.tif`, or
arrays) the way `devices.idcard` emulates the ID card: tests and the demo use it, a real
reader backend plugs into the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from devices.biodevice import DeviceKind, DeviceStatus, StatusLight
from gateway.errors import BiometricDeviceError, InvalidInput

GreyImage = npt.NDArray[np.uint8]

#: FVC2002 DB2 (Biometrika FX2000) scans at 569 dpi, not 500 (shared/data/README.md).
FVC2002_DB2_DPI = 569
BLOCK = 16  # pixels per block for the quality estimate (at 500 dpi about one ridge pair)
MIN_RIDGE_STD = 12.0  # grey levels: a block flatter than this holds no ridge contrast


@dataclass(frozen=True)
class Impression:
    """One press on the reader. `quality` 0..100 (higher is better); the image is the
    person's fingerprint: never logged, never shown in a repr."""

    image: GreyImage = field(repr=False)
    dpi: int
    quality: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@runtime_checkable
class FingerprintScanner(Protocol):
    """A fingerprint reader: one press per `capture` call."""

    dpi: int

    def capture(self) -> Impression:
        """Wait for a press and return it; BiometricDeviceError when the reader is gone or
        no finger came (reason "no_finger")."""
        ...

    def status(self) -> DeviceStatus: ...


@runtime_checkable
class FingerprintMatcher(Protocol):
    """Template extraction and comparison (a vendor SDK, or the gateway's own matcher).

    `score` is a similarity: the larger, the more alike; two impressions of one finger are
    accepted when `score >= threshold`. Templates are opaque bytes tagged with `format`."""

    format: str
    threshold: float

    def extract(self, impression: Impression) -> bytes: ...

    def score(self, probe: bytes, reference: bytes) -> float: ...


def as_grey(image: npt.NDArray[np.generic]) -> GreyImage:
    """A 2-D uint8 image from a grey or BGR(A) array."""
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        return np.asarray(cv2.cvtColor(np.asarray(image, dtype=np.uint8), code), dtype=np.uint8)
    if image.ndim != 2 or image.size == 0:
        raise InvalidInput(f"not an image: shape {image.shape}")
    return np.ascontiguousarray(image, dtype=np.uint8)


def read_image(path: str | Path) -> GreyImage:
    """A grey image from a file (TIFF, PNG, PGM, BMP…)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InvalidInput(f"cannot read an image from {path}")
    return np.asarray(image, dtype=np.uint8)


def _block_coherence(image: GreyImage) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per block: ridge-orientation coherence (0..1) and whether it holds ridges at all."""
    grey = image.astype(np.float64)
    gx = cv2.Sobel(grey, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_64F, 0, 1, ksize=3)
    rows, cols = grey.shape[0] // BLOCK, grey.shape[1] // BLOCK
    crop = (slice(0, rows * BLOCK), slice(0, cols * BLOCK))

    def per_block(a: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        return np.asarray(a[crop].reshape(rows, BLOCK, cols, BLOCK).mean(axis=(1, 3)))

    gxx, gyy, gxy = per_block(gx * gx), per_block(gy * gy), per_block(gx * gy)
    energy = gxx + gyy
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy**2) / np.maximum(energy, 1e-9)
    std = grey[crop].reshape(rows, BLOCK, cols, BLOCK).std(axis=(1, 3))
    return coherence, std > max(MIN_RIDGE_STD, 0.25 * float(std.max()))


def estimate_quality(image: GreyImage, dpi: int) -> int:
    """A press's quality 0..100: how much of the sensor holds clear, parallel ridges.

    Two facts from the fingerprint literature: a good area has a high orientation coherence
    (ridges locally parallel), and a usable print covers enough area. Quality is the mean
    coherence of the ridge blocks times the fraction of a 12 x 12 mm area they cover (capped
    at 1). It plays the part of a reader's own quality number (NFIQ-like), not NFIQ itself."""
    grey = as_grey(image)
    if dpi != 500:
        resized = cv2.resize(grey, None, fx=500 / dpi, fy=500 / dpi, interpolation=cv2.INTER_AREA)
        grey = np.asarray(resized, dtype=np.uint8)
    coherence, ridges = _block_coherence(grey)
    if not ridges.any():
        return 0
    block_mm2 = (BLOCK * 25.4 / 500) ** 2
    coverage = min(1.0, float(ridges.sum()) * block_mm2 / 144.0)
    return round(100 * float(coherence[ridges].mean()) * coverage)


def make_impression(image: npt.NDArray[np.generic], dpi: int) -> Impression:
    grey = as_grey(image)
    return Impression(grey, dpi, estimate_quality(grey, dpi))


class SimulatedScanner:
    """A reader that replays presses: each `capture` gives the next impression; after the
    last one it reports "no_finger" (or starts again with `loop`)."""

    def __init__(
        self,
        presses: Iterable[str | Path | npt.NDArray[np.generic]],
        dpi: int = FVC2002_DB2_DPI,
        *,
        loop: bool = False,
        name: str = "simulated",
    ) -> None:
        self.dpi = dpi
        self._presses: list[str | Path | npt.NDArray[np.generic]] = list(presses)
        self._next, self._loop = 0, loop
        self._light = StatusLight(DeviceKind.FINGERPRINT, f"{name}:{len(self._presses)} presses")
        if self._presses:
            self._light.ok()

    @classmethod
    def fvc(cls, folder: str | Path, finger: int, presses: Sequence[int]) -> SimulatedScanner:
        """Presses of one FVC finger, e.g. fvc(db2_b, 101, [1, 2, 3]) → 101_1.tif… ."""
        paths = [Path(folder) / f"{finger}_{n}.tif" for n in presses]
        return cls(paths, FVC2002_DB2_DPI, name=f"fvc:{finger}")

    def capture(self) -> Impression:
        if self._next >= len(self._presses):
            if not (self._loop and self._presses):
                self._light.failed("no_finger")
                raise BiometricDeviceError("no finger on the reader", reason="no_finger")
            self._next = 0
        source = self._presses[self._next]
        self._next += 1
        image = read_image(source) if isinstance(source, str | Path) else source
        self._light.ok()
        return make_impression(image, self.dpi)

    def status(self) -> DeviceStatus:
        return self._light.status()
