"""Face and fingerprint verification for border trade (R-BDR-3 enrolment, R-BDR-6/7 checks):
a face embedding and a minutiae matcher behind small interfaces, the enrolment decisions,
the check at a device, and the encrypted template store. docs/biometrics.md has the
measured error rates and how the thresholds were chosen.

What the registry/enrolment/terminal code uses:

    from gateway.border.biometrics import (
        FaceMatcher, MinutiaeMatcher, FingerEnroller, TemplateVault, KeyRing, ...)

    enroller = FingerEnroller(MinutiaeMatcher())
    prompt_for(1)                                  # "请按三次指纹"
    first = enroller.enrol([scanner.capture() for _ in range(3)])
    first.ok, first.reason, first.message          # True, ENROLLED, "指纹采集成功"
    second = enroller.enrol(presses, others=[first.template])   # SAME_FINGER if same
    face = enrol_face(camera, FaceMatcher())       # optional (BE-2)
    blob = vault.seal(first.template, resident_id) # store only sealed blobs
    template = vault.open(blob, resident_id, TemplateKind.FINGER)
    check_finger(scanner, [t1, t2], enroller)      # -> identity.Verification
    check_face(camera, face_template, FaceMatcher())

Templates, images and descriptors never reach a log; `Template`'s repr shows no byte.
"""

from devices.fingerprint import FingerprintMatcher, FingerprintScanner, Impression
from gateway.border.biometrics.checks import check_face, check_finger
from gateway.border.biometrics.enrolment import (
    FIRST_FINGER_PROMPT,
    PRESSES,
    SECOND_FINGER_PROMPT,
    SUCCESS_TEXT,
    FaceEnrolment,
    FingerCheck,
    FingerDecision,
    FingerEnroller,
    FingerReason,
    PressDecision,
    enrol_face,
    enrol_finger,
    prompt_for,
)
from gateway.border.biometrics.face import FaceDecision, FaceLocation, FaceMatcher, FaceReason
from gateway.border.biometrics.fingerprint import MinutiaeMatcher
from gateway.border.biometrics.templates import Template, TemplateKind
from gateway.border.biometrics.vault import KeyRing, TemplateVault, add_key

__all__ = [
    "FIRST_FINGER_PROMPT",
    "PRESSES",
    "SECOND_FINGER_PROMPT",
    "SUCCESS_TEXT",
    "FaceDecision",
    "FaceEnrolment",
    "FaceLocation",
    "FaceMatcher",
    "FaceReason",
    "FingerCheck",
    "FingerDecision",
    "FingerEnroller",
    "FingerReason",
    "FingerprintMatcher",
    "FingerprintScanner",
    "Impression",
    "KeyRing",
    "MinutiaeMatcher",
    "PressDecision",
    "Template",
    "TemplateKind",
    "TemplateVault",
    "add_key",
    "check_face",
    "check_finger",
    "enrol_face",
    "enrol_finger",
    "prompt_for",
]
