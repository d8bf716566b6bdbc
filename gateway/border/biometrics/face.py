"""Face verification with dlib's ResNet face descriptor (R-BDR-3 enrolment, R-BDR-6/7 checks).

Pipeline, per image:
1. locate the face: dlib's HOG frontal-face detector on the image upsampled `upsample`
   times (ORL's 92 x 112 faces are below the detector's 80 px window otherwise). When it
   finds nothing, the caller's box is used (the capture step's Haar box), else the whole
   image is taken as the face crop (a passport-style portrait is one). `FaceLocation` says
   which happened, so a bench can count the fall-backs;
2. five landmarks (dlib's 5-point shape predictor: eye corners and nose; not the 68-point
   model) align the face into a 150 x 150 chip;
3. the ResNet (dlib_face_recognition_resnet_model_v1) maps the chip to 128 floats.

Two faces are the same person when the Euclidean distance of their descriptors is at most
`threshold`. DEFAULT_THRESHOLD is chosen from bench/biometrics.py on ORL (docs/biometrics.md).
A template is the 128 floats as little-endian float32 (512 bytes), format "dlib-resnet-v1";
descriptors and images never reach a log.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import dlib
import face_recognition_models as models
import numpy as np
import numpy.typing as npt

from devices.camera import Box
from gateway.border.biometrics.templates import Template, TemplateKind
from gateway.errors import InvalidInput

log = logging.getLogger(__name__)

FACE_FORMAT = "dlib-resnet-v1"
DIMENSIONS = 128
#: Distance at or under which two faces are one person. dlib's usual 0.6 accepted 2.1 % of
#: ORL's impostor pairs; 0.51 is the most lenient threshold with FAR <= 0.1 % on ORL (FRR
#: 2.4 %), measured by bench/biometrics.py (docs/biometrics.md).
DEFAULT_THRESHOLD = 0.51
_DTYPE = np.dtype("<f4")
_LOCK = threading.Lock()  # dlib's models are not documented as thread-safe


class FaceLocation(StrEnum):
    DETECTED = "detected"  # dlib's detector found exactly one face (the largest if several)
    GIVEN = "given"  # the caller's box (the capture step's detection)
    WHOLE = "whole"  # nothing found: the whole image taken as the face crop


class FaceReason(StrEnum):
    """Why a face check passed or failed (wire code)."""

    MATCH = "match"
    NO_MATCH = "no_match"  # another person, or too unlike the enrolled face


@dataclass(frozen=True)
class FaceDecision:
    """The outcome of one face comparison; carries no descriptor."""

    passed: bool
    distance: float
    threshold: float
    reason: FaceReason


@dataclass(frozen=True)
class _Models:
    detector: Any
    landmarks: Any
    encoder: Any


@cache
def _models() -> _Models:
    return _Models(
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(models.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(models.face_recognition_model_location()),
    )


def _rgb(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """dlib wants a contiguous RGB uint8 array; a BGR frame (OpenCV) is reordered."""
    if image.ndim == 2:
        return np.ascontiguousarray(np.stack([image] * 3, axis=-1), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[:, :, 2::-1], dtype=np.uint8)
    raise InvalidInput(f"not an image: shape {image.shape}")


def descriptor_of(template: Template) -> npt.NDArray[np.float32]:
    if template.kind is not TemplateKind.FACE or template.format != FACE_FORMAT:
        raise InvalidInput(f"not a {FACE_FORMAT} face template: {template!r}")
    if len(template.data) != DIMENSIONS * _DTYPE.itemsize:
        raise InvalidInput(f"a face template has {DIMENSIONS} floats: {template!r}")
    return np.frombuffer(template.data, dtype=_DTYPE).astype(np.float32)


class FaceMatcher:
    """Face templates from images, and their comparison against `threshold`."""

    format = FACE_FORMAT

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, upsample: int = 1) -> None:
        if not 0 < threshold < 2:  # unit-length descriptors lie at most 2 apart
            raise InvalidInput(f"face threshold {threshold} outside (0, 2)")
        self.threshold, self.upsample = threshold, upsample

    def _locate(self, rgb: npt.NDArray[np.uint8], box: Box | None) -> tuple[Any, FaceLocation]:
        found = list(_models().detector(rgb, self.upsample))
        if found:
            return max(found, key=lambda r: r.area()), FaceLocation.DETECTED
        if box is not None:
            x, y, w, h = box
            return dlib.rectangle(x, y, x + w - 1, y + h - 1), FaceLocation.GIVEN
        height, width = rgb.shape[:2]
        return dlib.rectangle(0, 0, width - 1, height - 1), FaceLocation.WHOLE

    def describe(
        self, image: npt.NDArray[np.generic], box: Box | None = None
    ) -> tuple[Template, FaceLocation]:
        """The face template of `image` (grey, or BGR as OpenCV gives it) and how the face
        was located. `box`: where the capture step found the face, used if dlib does not."""
        rgb = _rgb(image)
        with _LOCK:
            rect, location = self._locate(rgb, box)
            shape = _models().landmarks(rgb, rect)
            vector = np.asarray(_models().encoder.compute_face_descriptor(rgb, shape))
        log.debug("face described (located: %s)", location.value)
        return Template(TemplateKind.FACE, FACE_FORMAT, vector.astype(_DTYPE).tobytes()), location

    def extract(self, image: npt.NDArray[np.generic], box: Box | None = None) -> Template:
        return self.describe(image, box)[0]

    @staticmethod
    def distance(a: Template, b: Template) -> float:
        return float(np.linalg.norm(descriptor_of(a) - descriptor_of(b)))

    def verify(self, probe: Template, enrolled: Template) -> FaceDecision:
        """Is `probe` the person `enrolled` describes?"""
        distance = self.distance(probe, enrolled)
        passed = distance <= self.threshold
        reason = FaceReason.MATCH if passed else FaceReason.NO_MATCH
        return FaceDecision(passed, round(distance, 4), self.threshold, reason)
