"""Face verification (R-BDR-3 enrolment, R-BDR-6/7 checks) with the real dlib ResNet
descriptor on ORL faces from ../shared/data, at the shipped threshold."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import SimulatedCamera
from gateway.border.biometrics import (
    FaceLocation,
    FaceMatcher,
    FaceReason,
    Template,
    TemplateKind,
    check_face,
    enrol_face,
)
from gateway.border.biometrics.checks import FACE_MISMATCH
from gateway.border.biometrics.face import DEFAULT_THRESHOLD, descriptor_of
from gateway.border.identity import BiometricMethod
from gateway.errors import InvalidInput

ORL = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-orl"


def orl(subject: int, image: int) -> np.ndarray:
    loaded = cv2.imread(str(ORL / f"s{subject}" / f"{image}.pgm"), cv2.IMREAD_GRAYSCALE)
    assert loaded is not None
    return loaded


def portrait(subject: int, image: int) -> np.ndarray:
    """The ORL face three times larger, centred in a 640 x 480 BGR camera frame."""
    canvas = np.full((480, 640), 40, np.uint8)
    canvas[72 : 72 + 336, 182 : 182 + 276] = cv2.resize(
        orl(subject, image), None, fx=3.0, fy=3.0, interpolation=cv2.INTER_CUBIC
    )
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


@pytest.fixture(scope="module")
def matcher() -> FaceMatcher:
    return FaceMatcher()


@pytest.mark.parametrize(("a", "b"), [((5, 1), (5, 4)), ((9, 1), (9, 8)), ((1, 4), (1, 8))])
def test_genuine_pairs_are_accepted(
    matcher: FaceMatcher, a: tuple[int, int], b: tuple[int, int]
) -> None:
    decision = matcher.verify(matcher.extract(orl(*a)), matcher.extract(orl(*b)))
    assert decision.passed and decision.reason is FaceReason.MATCH
    assert decision.distance <= decision.threshold == DEFAULT_THRESHOLD


@pytest.mark.parametrize(("a", "b"), [((1, 1), (5, 1)), ((9, 4), (13, 4)), ((20, 1), (33, 1))])
def test_impostor_pairs_are_refused(
    matcher: FaceMatcher, a: tuple[int, int], b: tuple[int, int]
) -> None:
    decision = matcher.verify(matcher.extract(orl(*a)), matcher.extract(orl(*b)))
    assert not decision.passed and decision.reason is FaceReason.NO_MATCH


def test_a_template_is_128_unit_floats_and_shows_none_of_them(matcher: FaceMatcher) -> None:
    template, location = matcher.describe(orl(5, 1))
    assert location is FaceLocation.DETECTED
    assert template.kind is TemplateKind.FACE and len(template.data) == 512
    vector = descriptor_of(template)
    assert vector.shape == (128,) and 0.3 < float(np.linalg.norm(vector)) < 1.5
    assert repr(template) == "Template(face, dlib-resnet-v1, 512 bytes)"


def test_without_a_detection_the_given_box_or_the_whole_image_is_used(
    matcher: FaceMatcher,
) -> None:
    flat = np.full((112, 92), 128, np.uint8)  # nothing a detector can find
    assert matcher.describe(flat)[1] is FaceLocation.WHOLE
    assert matcher.describe(flat, (10, 10, 60, 60))[1] is FaceLocation.GIVEN


def test_a_template_of_another_kind_or_size_is_refused(matcher: FaceMatcher) -> None:
    face = matcher.extract(orl(5, 1))
    with pytest.raises(InvalidInput):
        matcher.distance(face, Template(TemplateKind.FINGER, "dlib-resnet-v1", face.data))
    with pytest.raises(InvalidInput):
        matcher.distance(face, Template(TemplateKind.FACE, "dlib-resnet-v1", face.data[:-4]))
    with pytest.raises(InvalidInput):
        FaceMatcher(threshold=3.0)


def test_enrolment_takes_a_portrait_and_the_terminal_check_passes_the_same_person(
    matcher: FaceMatcher,
) -> None:
    enrolled = enrol_face(
        SimulatedCamera([np.full((480, 640, 3), 40, np.uint8), portrait(9, 1)]), matcher
    )
    assert enrolled.ok and enrolled.template is not None
    result = check_face(SimulatedCamera([portrait(9, 8)]), enrolled.template, matcher)
    assert result.passed and result.method is BiometricMethod.FACE and result.attempts == 1


def test_the_terminal_check_refuses_another_person_after_its_attempts(
    matcher: FaceMatcher,
) -> None:
    enrolled = matcher.extract(orl(9, 1))
    camera = SimulatedCamera([portrait(13, 1), portrait(13, 4), portrait(13, 8)])
    result = check_face(camera, enrolled, matcher, attempts=3)
    assert not result.passed and result.attempts == 3 and result.reason == FACE_MISMATCH


def test_no_usable_portrait_fails_with_the_capture_reason(matcher: FaceMatcher) -> None:
    empty = np.full((480, 640, 3), 40, np.uint8)
    enrolment = enrol_face(SimulatedCamera([empty]), matcher)
    assert not enrolment.ok and enrolment.reason == "no_frame"  # ran out after a no-face frame
    result = check_face(SimulatedCamera([empty]), matcher.extract(orl(9, 1)), matcher)
    assert not result.passed and result.reason == "摄像头没有画面"
