"""The biometric check at a device, as the terminal runs it (R-BDR-6) and the mobile face
authentication of delegating residents (R-BDR-7): capture, compare with the enrolled
templates, a bounded number of attempts, a `Verification` that carries no image, template
or descriptor — only whether it passed, how many attempts it took and why it failed.

A BiometricGate (identity.py) is built from these by whoever knows where a declarant's
templates are (the registry): it opens them from the vault and calls `check_face` or
`check_finger` with the terminal's camera or reader.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from devices.camera import Camera, CaptureRules, capture_portrait
from devices.fingerprint import FingerprintScanner
from gateway.border.biometrics.enrolment import FingerEnroller, FingerReason
from gateway.border.biometrics.face import FaceMatcher
from gateway.border.biometrics.templates import Template
from gateway.border.identity import BiometricMethod, Verification
from gateway.errors import BiometricDeviceError

log = logging.getLogger(__name__)

#: Attempts before a check fails; the manual does not say how many (R-BDR-6 [inferred]).
DEFAULT_ATTEMPTS = 3
FACE_MISMATCH = "人脸比对未通过"


def check_face(
    camera: Camera,
    enrolled: Template,
    matcher: FaceMatcher,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    rules: CaptureRules | None = None,
) -> Verification:
    """Up to `attempts` portraits compared with the enrolled face; the first match passes."""
    reason = ""
    for attempt in range(1, attempts + 1):
        capture = capture_portrait(camera, rules)
        if capture.image is None:
            refusal = capture.reason
            reason = refusal.text if refusal else "摄像头没有画面"
            if camera.ended:
                return Verification(False, BiometricMethod.FACE, attempt, reason)
            continue
        decision = matcher.verify(matcher.extract(capture.image, capture.face), enrolled)
        if decision.passed:
            return Verification(True, BiometricMethod.FACE, attempt)
        reason = FACE_MISMATCH
    log.info("face check failed after %d attempts", attempts)
    return Verification(False, BiometricMethod.FACE, attempts, reason)


def check_finger(
    scanner: FingerprintScanner,
    enrolled: Sequence[Template],
    enroller: FingerEnroller,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Verification:
    """Up to `attempts` presses, each against every enrolled finger; a poor press counts as
    an attempt (the person is asked to press again); a reader failure ends the check."""
    reason = ""
    for attempt in range(1, attempts + 1):
        try:
            impression = scanner.capture()
        except BiometricDeviceError as exc:
            log.warning("fingerprint check stopped: reader %s", exc.reason)
            return Verification(False, BiometricMethod.FINGERPRINT, attempt, "指纹识别器不可用")
        press = enroller.check_press(impression)
        if not press.accepted:
            reason = press.message
            continue
        check = enroller.verify(impression, enrolled)
        if check.passed:
            return Verification(True, BiometricMethod.FINGERPRINT, attempt)
        reason = FingerReason.NO_MATCH.text
    log.info("fingerprint check failed after %d attempts", attempts)
    return Verification(False, BiometricMethod.FINGERPRINT, attempts, reason)
