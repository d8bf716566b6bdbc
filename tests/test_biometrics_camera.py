"""The camera and the portrait capture step (seeds 000/001 【开始拍照】/【拍照】, R-BDR-3,
R-BDR-6): a frame is kept only with one face, inside the portrait frame, large and sharp
enough; every refused frame says why. Real OpenCV (Haar cascade, VideoCapture), frames made
from the ORL faces in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import (
    CaptureRules,
    FrameRefusal,
    HaarFaceDetector,
    OpenCvCamera,
    SimulatedCamera,
    capture_portrait,
    check_frame,
)
from gateway.errors import BiometricDeviceError

ORL = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-orl"


def face(subject: int, image: int = 1) -> np.ndarray:
    loaded = cv2.imread(str(ORL / f"s{subject}" / f"{image}.pgm"), cv2.IMREAD_GRAYSCALE)
    assert loaded is not None
    return loaded


def frame(*placed: tuple[np.ndarray, int, int, float]) -> np.ndarray:
    """A 640 x 480 dark BGR frame (like ORL's background) with faces pasted at (x, y, scale)."""
    canvas = np.full((480, 640), 40, np.uint8)
    for image, x, y, scale in placed:
        scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        h, w = scaled.shape
        canvas[y : y + h, x : x + w] = scaled
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def centred(subject: int, image: int = 1) -> np.ndarray:
    return frame((face(subject, image), 182, 72, 3.0))


@pytest.fixture(scope="module")
def detect() -> HaarFaceDetector:
    return HaarFaceDetector()


def test_a_centred_sharp_face_is_kept(detect: HaarFaceDetector) -> None:
    for subject in (1, 2, 4):
        verdict = check_frame(centred(subject), CaptureRules(), detect)
        assert not isinstance(verdict, FrameRefusal), (subject, verdict)
        x, y, w, h = verdict
        assert 182 <= x + w / 2 <= 182 + 276 and w > 150


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: frame(), FrameRefusal.NO_FACE),
        (
            lambda: frame((face(1), 20, 100, 2.5), (face(11), 360, 100, 2.5)),
            FrameRefusal.SEVERAL_FACES,
        ),
        (lambda: frame((face(1), 300, 200, 1.0)), FrameRefusal.FACE_TOO_SMALL),
        (lambda: frame((face(1), 0, 0, 2.0)), FrameRefusal.OUTSIDE_PORTRAIT),
        (lambda: cv2.GaussianBlur(centred(1), (0, 0), 4), FrameRefusal.BLURRED),
    ],
    ids=["no face", "two faces", "too small", "outside the portrait frame", "blurred"],
)
def test_each_bad_frame_is_refused_with_its_reason(
    build: object, reason: FrameRefusal, detect: HaarFaceDetector
) -> None:
    assert callable(build)
    assert check_frame(build(), CaptureRules(), detect) is reason
    assert reason.text  # what the kiosk says, in Chinese


def test_capture_skips_bad_frames_and_says_why() -> None:
    bad = [frame(), cv2.GaussianBlur(centred(2), (0, 0), 4), frame((face(2), 300, 200, 1.0))]
    camera = SimulatedCamera([*bad, centred(2), centred(3)])
    capture = capture_portrait(camera)
    assert capture.ok and capture.frames == 4 and capture.face is not None
    assert capture.refusals == (
        FrameRefusal.NO_FACE,
        FrameRefusal.BLURRED,
        FrameRefusal.FACE_TOO_SMALL,
    )
    assert capture.reason is None
    assert "array" not in repr(capture)  # the image stays out of reprs and logs


def test_capture_is_bounded_and_ends_with_the_last_reason() -> None:
    camera = SimulatedCamera([frame()] * 10)
    capture = capture_portrait(camera, CaptureRules(max_frames=4))
    assert not capture.ok and capture.frames == 4
    assert capture.refusals == (FrameRefusal.NO_FACE,) * 4
    assert capture.reason is FrameRefusal.NO_FACE
    ran_out = capture_portrait(SimulatedCamera([frame()]))
    assert ran_out.refusals == (FrameRefusal.NO_FACE, FrameRefusal.NO_FRAME)
    assert ran_out.reason is FrameRefusal.NO_FRAME


def test_opencv_reads_an_image_sequence_and_reports_its_status(tmp_path: Path) -> None:
    for n, image in enumerate([frame(), centred(5)]):
        assert cv2.imwrite(str(tmp_path / f"frame{n:03d}.png"), image)
    camera = OpenCvCamera(tmp_path / "frame%03d.png")
    try:
        assert camera.status().ready
        capture = capture_portrait(camera)
        assert capture.ok and capture.refusals == (FrameRefusal.NO_FACE,)
        assert capture_portrait(camera).reason is FrameRefusal.NO_FRAME  # ran out
        status = camera.status()
        assert status.present and not status.ready and status.last_error == "no_frame"
    finally:
        camera.close()


def test_a_camera_that_does_not_open_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(BiometricDeviceError) as absent:
        OpenCvCamera(tmp_path / "no-such-video.avi")
    assert absent.value.reason == "not_present" and absent.value.retryable


def test_the_simulated_camera_light_turns_red_when_frames_stop() -> None:
    camera = SimulatedCamera([centred(1)])
    assert camera.status().ready and camera.status().as_dict()["kind"] == "camera"
    assert camera.read() is not None
    assert camera.read() is None
    assert camera.status().as_dict()["ready"] is False
    assert SimulatedCamera([]).status().present is False
