"""The camera (摄像头) and the portrait capture step (seeds 000/001: 【开始拍照】, 【拍照】).

The officer enrols a resident's face and the terminal checks a declarant's face (R-BDR-3,
R-BDR-6): the preview shows a portrait frame (人像框) and the picture is kept only when the
face is roughly inside it. `capture_portrait` does that check on each frame a `Camera`
gives — exactly one face, inside the portrait frame, large enough, sharp enough — and says
why every refused frame was refused, within a bounded number of frames.

Backends: `OpenCvCamera` (cv2.VideoCapture on a device index, a video file or an image
sequence pattern such as `frames/%03d.png`) and `SimulatedCamera` (replays images or
arrays, as devices/idcard.py emulates the ID card). Face finding here is OpenCV's Haar
frontal-face cascade: quick, and only a gate; the embedding (gateway.border.biometrics.face)
locates the face again with dlib.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from devices.biodevice import DeviceKind, DeviceStatus, StatusLight
from gateway.errors import BiometricDeviceError, InvalidInput

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]  # x, y, width, height in pixels
FaceDetector = Callable[[Image], list[Box]]


class FrameRefusal(StrEnum):
    """Why a frame was not kept; the value is the wire/ops code, `text` what the kiosk says."""

    NO_FRAME = "no_frame"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    OUTSIDE_PORTRAIT = "outside_portrait"
    FACE_TOO_SMALL = "face_too_small"
    BLURRED = "blurred"

    @property
    def text(self) -> str:
        return _TEXTS[self]


_TEXTS = {
    FrameRefusal.NO_FRAME: "摄像头没有画面",
    FrameRefusal.NO_FACE: "未检测到人脸",
    FrameRefusal.SEVERAL_FACES: "画面中不止一张人脸",
    FrameRefusal.OUTSIDE_PORTRAIT: "请将人脸置于人像框内",
    FrameRefusal.FACE_TOO_SMALL: "人脸太小，请靠近摄像头",
    FrameRefusal.BLURRED: "画面模糊，请保持不动",
}


@runtime_checkable
class Camera(Protocol):
    """A source of frames (BGR or grey uint8 arrays)."""

    def read(self) -> Image | None:
        """The next frame, or None when the camera gave none."""
        ...

    @property
    def ended(self) -> bool:
        """No frame will come any more (a replay or a file ran out; a live camera never)."""
        ...

    def status(self) -> DeviceStatus: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PortraitFrame:
    """The 人像框 as fractions of the frame: left, top, width, height."""

    left: float = 0.2
    top: float = 0.05
    width: float = 0.6
    height: float = 0.9

    def box(self, shape: tuple[int, ...]) -> Box:
        h, w = shape[0], shape[1]
        return (
            round(self.left * w),
            round(self.top * h),
            round(self.width * w),
            round(self.height * h),
        )


@dataclass(frozen=True)
class CaptureRules:
    """When a frame is a usable portrait.

    `min_face_width`: the face's width as a fraction of the portrait frame's width.
    `min_sharpness`: variance of the Laplacian of the face resized to 128 px wide (a focus
    measure: a blurred or moving face has few strong second derivatives).
    `inside`: the fraction of the face box that must lie within the portrait frame
    ("roughly inside", as the manual says)."""

    portrait: PortraitFrame = PortraitFrame()
    min_face_width: float = 0.3
    min_sharpness: float = 40.0
    inside: float = 0.9
    max_frames: int = 30


@dataclass(frozen=True)
class PortraitCapture:
    """The kept frame (None when none passed) and why each earlier frame was refused."""

    image: Image | None = field(repr=False)
    face: Box | None
    frames: int
    refusals: tuple[FrameRefusal, ...]

    @property
    def ok(self) -> bool:
        return self.image is not None

    @property
    def reason(self) -> FrameRefusal | None:
        """The last refusal when nothing was kept, what the kiosk tells the person."""
        return None if self.ok or not self.refusals else self.refusals[-1]


class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade (shipped with opencv-python < 5)."""

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml") -> None:
        path = Path(cv2.data.haarcascades) / cascade  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise BiometricDeviceError(f"no Haar cascade at {path}", reason="no_detector")

    def __call__(self, grey: Image) -> list[Box]:
        found = self._cascade.detectMultiScale(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24)
        )
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


def grey_of(frame: Image) -> Image:
    if frame.ndim == 2:
        return frame
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def sharpness(grey: Image, face: Box) -> float:
    """Variance of the Laplacian of the face, resized to 128 px wide so that the measure
    does not depend on how large the face is in the frame."""
    x, y, w, h = face
    face_crop = grey[max(y, 0) : y + h, max(x, 0) : x + w]
    crop = cv2.resize(
        face_crop, (128, max(1, round(128 * h / max(w, 1)))), interpolation=cv2.INTER_AREA
    )
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def _inside_fraction(face: Box, portrait: Box) -> float:
    fx, fy, fw, fh = face
    px, py, pw, ph = portrait
    ix = max(0, min(fx + fw, px + pw) - max(fx, px))
    iy = max(0, min(fy + fh, py + ph) - max(fy, py))
    return ix * iy / max(1, fw * fh)


def check_frame(frame: Image, rules: CaptureRules, detect: FaceDetector) -> Box | FrameRefusal:
    """The face box when the frame is a usable portrait, else why not (in this order)."""
    grey = grey_of(frame)
    faces = detect(grey)
    if not faces:
        return FrameRefusal.NO_FACE
    if len(faces) > 1:
        return FrameRefusal.SEVERAL_FACES
    face, portrait = faces[0], rules.portrait.box(grey.shape)
    if _inside_fraction(face, portrait) < rules.inside:
        return FrameRefusal.OUTSIDE_PORTRAIT
    if face[2] < rules.min_face_width * portrait[2]:
        return FrameRefusal.FACE_TOO_SMALL
    if sharpness(grey, face) < rules.min_sharpness:
        return FrameRefusal.BLURRED
    return face


def capture_portrait(
    camera: Camera, rules: CaptureRules | None = None, detect: FaceDetector | None = None
) -> PortraitCapture:
    """Read frames until one is a usable portrait, at most `rules.max_frames` of them."""
    rules = rules or CaptureRules()
    detect = detect or HaarFaceDetector()
    refusals: list[FrameRefusal] = []
    for n in range(1, rules.max_frames + 1):
        frame = camera.read()
        verdict = FrameRefusal.NO_FRAME if frame is None else check_frame(frame, rules, detect)
        if isinstance(verdict, FrameRefusal):
            log.debug("portrait frame %d refused: %s", n, verdict.value)
            refusals.append(verdict)
            if frame is None and camera.ended:
                return PortraitCapture(None, None, n, tuple(refusals))
            continue
        return PortraitCapture(frame, verdict, n, tuple(refusals))
    return PortraitCapture(None, None, rules.max_frames, tuple(refusals))


def _as_bgr(image: npt.NDArray[np.generic]) -> Image:
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4)):
        return np.ascontiguousarray(image, dtype=np.uint8)
    raise InvalidInput(f"not an image: shape {image.shape}")


class SimulatedCamera:
    """Replays frames (image paths or arrays) once, then gives no frame (`ended`)."""

    def __init__(
        self, frames: Iterable[str | Path | npt.NDArray[np.generic]], name: str = "simulated"
    ) -> None:
        self._frames = list(frames)
        self._next = 0
        self._light = StatusLight(DeviceKind.CAMERA, f"{name}:{len(self._frames)} frames")
        if self._frames:
            self._light.ok()

    @property
    def ended(self) -> bool:
        return self._next >= len(self._frames)

    def read(self) -> Image | None:
        if self.ended:
            self._light.failed("no_frame")
            return None
        source = self._frames[self._next]
        self._next += 1
        if isinstance(source, str | Path):
            image = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
            if image is None:
                self._light.failed("unreadable_frame")
                return None
            source = image
        self._light.ok()
        return _as_bgr(source)

    def status(self) -> DeviceStatus:
        return self._light.status()

    def close(self) -> None:
        self._next = len(self._frames)


class OpenCvCamera:
    """cv2.VideoCapture on a device index (0 = the first camera), a video file, or an image
    sequence pattern (`frames/%03d.png`). Opening fails with BiometricDeviceError."""

    def __init__(self, source: int | str | Path) -> None:
        self._source = source if isinstance(source, int) else str(source)
        self._capture = cv2.VideoCapture(self._source)
        self._light = StatusLight(DeviceKind.CAMERA, f"opencv:{self._source}")
        self.ended = False
        if not self._capture.isOpened():
            self._light.failed("not_present", present=False)
            raise BiometricDeviceError(f"camera {self._source} did not open", reason="not_present")
        self._light.ok()

    def read(self) -> Image | None:
        ok, frame = self._capture.read()
        if not ok or frame is None:
            # a file or sequence that ran out ends; a live camera may just have missed one
            self.ended = not isinstance(self._source, int)
            self._light.failed("no_frame")
            return None
        self._light.ok()
        return np.asarray(frame, dtype=np.uint8)

    def status(self) -> DeviceStatus:
        return self._light.status()

    def close(self) -> None:
        self._capture.release()
