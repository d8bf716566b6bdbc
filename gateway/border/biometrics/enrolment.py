"""Fingerprint enrolment decisions (seed 001 §3.3, R-BDR-3): two different fingers, three
presses each.

The officer's page says "请按三次指纹" for the first finger and "请换个手指再按三次指纹" for
the second, and "指纹采集成功" when a finger is taken. The manual does not say what happens
to a bad press or to the same finger given twice (BE-1); here:

- a press whose quality is under `min_quality` is refused on its own (`check_press`), with
  reason POOR_PRESS, so the page asks for that press again;
- the three presses must agree: every pair scores at least the matcher's threshold, else
  INCONSISTENT (three presses of one finger are asked again);
- the second finger must not match the first: any press of it scoring at least the
  threshold against the first finger's template is SAME_FINGER ("换个手指").

An enrolled finger's template keeps its three press templates (format "<matcher>x3"): a
later check scores the probe against each and takes the best, which forgives one press
that caught another part of the finger.

The flow itself (officer session, the registry row, saving) is the registry's; this module
only decides, and never logs an image or a template.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from devices.camera import Camera, CaptureRules, FrameRefusal, capture_portrait
from devices.fingerprint import FingerprintMatcher, Impression
from gateway.border.biometrics.face import FaceMatcher
from gateway.border.biometrics.fingerprint import MinutiaeMatcher
from gateway.border.biometrics.templates import Template, TemplateKind, pack_parts, unpack_parts
from gateway.errors import InvalidInput

log = logging.getLogger(__name__)

PRESSES = 3
FIRST_FINGER_PROMPT = "请按三次指纹"
SECOND_FINGER_PROMPT = "请换个手指再按三次指纹"
SUCCESS_TEXT = "指纹采集成功"
#: Below this quality (devices.fingerprint.estimate_quality, 0..100) a press is asked again.
DEFAULT_MIN_QUALITY = 20


class FingerReason(StrEnum):
    """The outcome of a press, an enrolment or a check (wire code); `text` for the page."""

    ENROLLED = "enrolled"
    ACCEPTED = "accepted"  # one press good enough to use
    POOR_PRESS = "poor_press"
    WRONG_COUNT = "wrong_count"
    INCONSISTENT = "inconsistent"
    SAME_FINGER = "same_finger"
    MATCH = "match"
    NO_MATCH = "no_match"

    @property
    def text(self) -> str:
        return _TEXTS[self]


_TEXTS = {
    FingerReason.ENROLLED: SUCCESS_TEXT,
    FingerReason.ACCEPTED: "按压有效",
    FingerReason.POOR_PRESS: "指纹不清晰，请擦干手指后重按",
    FingerReason.WRONG_COUNT: "请按三次指纹",
    FingerReason.INCONSISTENT: "三次按压不是同一手指，请重新按三次指纹",
    FingerReason.SAME_FINGER: "与第一指纹是同一手指，请换个手指再按三次指纹",
    FingerReason.MATCH: "指纹比对通过",
    FingerReason.NO_MATCH: "指纹比对未通过",
}


def prompt_for(finger: int) -> str:
    """What the page says before the presses of finger 1 or 2."""
    if finger not in (1, 2):
        raise InvalidInput(f"finger {finger}: the manual enrols fingers 1 and 2")
    return FIRST_FINGER_PROMPT if finger == 1 else SECOND_FINGER_PROMPT


@dataclass(frozen=True)
class PressDecision:
    accepted: bool
    quality: int
    reason: FingerReason

    @property
    def message(self) -> str:
        return self.reason.text


@dataclass(frozen=True)
class FingerDecision:
    """One finger's enrolment: the template when `ok`, else the reason to ask again."""

    ok: bool
    reason: FingerReason
    template: Template | None = None
    scores: tuple[float, ...] = ()  # the presses' pairwise scores (no template bytes)
    poor_presses: tuple[int, ...] = ()  # 0-based indexes of presses refused for quality

    @property
    def message(self) -> str:
        return self.reason.text


@dataclass(frozen=True)
class FingerCheck:
    """One verification of a press against an enrolled finger (R-BDR-6)."""

    passed: bool
    score: float
    threshold: float
    reason: FingerReason


@dataclass
class FingerEnroller:
    """Decides presses, enrolments and checks with one matcher."""

    matcher: FingerprintMatcher
    min_quality: int = DEFAULT_MIN_QUALITY

    def check_press(self, impression: Impression) -> PressDecision:
        if impression.quality < self.min_quality:
            return PressDecision(False, impression.quality, FingerReason.POOR_PRESS)
        return PressDecision(True, impression.quality, FingerReason.ACCEPTED)

    def enrol(
        self, presses: Sequence[Impression], others: Sequence[Template] = ()
    ) -> FingerDecision:
        """Three presses of one finger → its template; `others`: the resident's fingers
        already taken, which this one must not be."""
        if len(presses) != PRESSES:
            return FingerDecision(False, FingerReason.WRONG_COUNT)
        poor = tuple(i for i, p in enumerate(presses) if not self.check_press(p).accepted)
        if poor:
            return FingerDecision(False, FingerReason.POOR_PRESS, poor_presses=poor)
        parts = [self.matcher.extract(p) for p in presses]
        scores = tuple(self.matcher.score(a, b) for a, b in itertools.combinations(parts, 2))
        if min(scores) < self.matcher.threshold:
            log.info("finger enrolment refused: presses disagree")
            return FingerDecision(False, FingerReason.INCONSISTENT, scores=scores)
        if any(
            self._best(part, other) >= self.matcher.threshold for part in parts for other in others
        ):
            log.info("finger enrolment refused: same finger as one already taken")
            return FingerDecision(False, FingerReason.SAME_FINGER, scores=scores)
        template = Template(TemplateKind.FINGER, self.template_format, pack_parts(parts))
        return FingerDecision(True, FingerReason.ENROLLED, template, scores)

    @property
    def template_format(self) -> str:
        return f"{self.matcher.format}x{PRESSES}"

    def _parts(self, enrolled: Template) -> list[bytes]:
        if enrolled.kind is not TemplateKind.FINGER or enrolled.format != self.template_format:
            raise InvalidInput(f"not a {self.template_format} finger template: {enrolled!r}")
        return unpack_parts(enrolled.data)

    def _best(self, probe: bytes, enrolled: Template) -> float:
        return max(self.matcher.score(probe, part) for part in self._parts(enrolled))

    def verify(self, impression: Impression, enrolled: Sequence[Template]) -> FingerCheck:
        """Does this press match any of the resident's enrolled fingers?"""
        if not enrolled:
            raise InvalidInput("no enrolled finger to verify against")
        probe = self.matcher.extract(impression)
        score = max(self._best(probe, finger) for finger in enrolled)
        passed = score >= self.matcher.threshold
        reason = FingerReason.MATCH if passed else FingerReason.NO_MATCH
        return FingerCheck(passed, round(score, 4), self.matcher.threshold, reason)


def enrol_finger(
    presses: Sequence[Impression],
    others: Sequence[Template] = (),
    matcher: FingerprintMatcher | None = None,
) -> FingerDecision:
    """Three presses → one finger's decision, with the default matcher unless given one
    (a FingerEnroller kept by the caller avoids building the matcher each time)."""
    return FingerEnroller(matcher or MinutiaeMatcher()).enrol(presses, others)


@dataclass(frozen=True)
class FaceEnrolment:
    """The face taken at 【拍照】 (optional, BE-2): its template, or why no portrait came."""

    ok: bool
    reason: str  # "enrolled", or the capture step's refusal code (devices.camera.FrameRefusal)
    template: Template | None = None
    message: str = ""


def enrol_face(
    camera: Camera, matcher: FaceMatcher, rules: CaptureRules | None = None
) -> FaceEnrolment:
    """One portrait from the camera (【开始拍照】 … 【拍照】) turned into a face template."""
    capture = capture_portrait(camera, rules)
    if capture.image is None:
        refusal = capture.reason or FrameRefusal.NO_FRAME
        return FaceEnrolment(False, refusal.value, message=refusal.text)
    template = matcher.extract(capture.image, capture.face)
    return FaceEnrolment(True, "enrolled", template, "人脸采集成功")
