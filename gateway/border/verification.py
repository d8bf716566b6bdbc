"""Biometric verification (R-BDR-6, R-BDR-7; issue 14 item 8).

- `TerminalGate` is the `identity.BiometricGate` the declarations side asks before a
  declaration is signed: it captures the declarant at their terminal with the supervised
  place's method (face: a portrait from the terminal's camera; fingerprint: a press on its
  reader) and compares it with what the officer enrolled, at most `attempts` captures; the
  first match passes. A declarant with nothing enrolled for the method fails at once, saying
  so; a device failure ends the check with the device's reason.
- `authenticate_face` is the face-authentication service for the residents a representative
  declares for (委托边民, the mobile app's step): an image in, pass or fail out, against the
  resident's enrolled face; `authenticate_delegate` then tells the declarations side
  (`declarations.delegate_authenticated`).

Outcomes carry no image, template or descriptor, and the log says only who (masked) and how
it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from gateway.border.biokit import Devices, Kit
from gateway.border.biometrics.checks import check_face, check_finger
from gateway.border.biometrics.templates import Template
from gateway.border.enrolment import enrolled
from gateway.border.identity import BiometricMethod, Declarant, Verification, mask_id
from gateway.border.people_codes import Slot
from gateway.border.people_models import BrdResident
from gateway.core.db import Database
from gateway.errors import BiometricDeviceError, InvalidInput, NotFound

log = logging.getLogger(__name__)

#: an uploaded face image: bytes at most (a phone's JPEG is well under 1 MB)
MAX_IMAGE_BYTES = 4 * 1024 * 1024
FACE_FAILED = "人脸比对未通过"


def _templates(db: Database, kit: Kit, id_number: str) -> dict[Slot, Template]:
    from sqlalchemy import select

    with db.session() as session:
        row = session.scalar(select(BrdResident).where(BrdResident.id_number == id_number))
        if row is None:
            raise NotFound(f"no resident {mask_id(id_number)} in the registry")
        return enrolled(session, kit.vault, row)


class TerminalGate:
    """The BiometricGate of the terminals: `kit()` is read at each check (the app's kit)."""

    def __init__(self, db: Database, kit: Callable[[], Kit], attempts: int = 3) -> None:
        if attempts < 1:
            raise InvalidInput("a biometric check needs at least one attempt")
        self.db, self._kit, self.attempts = db, kit, attempts

    def verify_declarant(self, declarant: Declarant, method: BiometricMethod) -> Verification:
        kit = self._kit()
        templates = _templates(self.db, kit, declarant.id_number)
        devices = kit.devices(f"terminal:{declarant.terminal_id}")
        check = self._face if method is BiometricMethod.FACE else self._finger
        outcome = check(kit, devices, templates)
        log.info("biometric check of %s at %s (%s): %s after %d attempt(s)",
                 declarant.masked_id, declarant.terminal_id, method.value,
                 "passed" if outcome.passed else "failed", outcome.attempts)  # fmt: skip
        return outcome

    def _face(self, kit: Kit, devices: Devices, templates: dict[Slot, Template]) -> Verification:
        face = templates.get(Slot.FACE)
        if face is None:
            return Verification(False, BiometricMethod.FACE, 0, "未采集人脸: no face enrolled")
        try:
            camera = devices.need_camera()
        except BiometricDeviceError as exc:
            return Verification(False, BiometricMethod.FACE, 0, f"摄像头不可用 ({exc.reason})")
        return check_face(camera, face, kit.face, attempts=self.attempts, rules=kit.capture_rules)

    def _finger(self, kit: Kit, devices: Devices, templates: dict[Slot, Template]) -> Verification:
        fingers = [t for s, t in templates.items() if s in (Slot.FINGER1, Slot.FINGER2)]
        method = BiometricMethod.FINGERPRINT
        if not fingers:
            return Verification(False, method, 0, "未采集指纹: no finger enrolled")
        try:
            scanner = devices.need_scanner()
        except BiometricDeviceError as exc:
            return Verification(False, method, 0, f"指纹识别器不可用 ({exc.reason})")
        return check_finger(scanner, fingers, kit.fingers, attempts=self.attempts)


def decode_image(data: bytes) -> np.ndarray[Any, Any]:
    """An uploaded image (JPEG, PNG, BMP, PGM…) as OpenCV reads it; InvalidInput otherwise."""
    if not data:
        raise InvalidInput("image: empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"image: {len(data)} bytes, over {MAX_IMAGE_BYTES}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidInput("image: not a picture OpenCV can read (JPEG, PNG, BMP, PGM)")
    return image


def authenticate_face(db: Database, kit: Kit, id_number: str, image: bytes) -> Verification:
    """Is the face in `image` the enrolled face of this resident? (R-BDR-7)"""
    picture = decode_image(image)
    face = _templates(db, kit, id_number).get(Slot.FACE)
    if face is None:
        outcome = Verification(False, BiometricMethod.FACE, 1, "未采集人脸: no face enrolled")
    else:
        decision = kit.face.verify(kit.face.extract(picture), face)
        outcome = Verification(decision.passed, BiometricMethod.FACE, 1,
                               "" if decision.passed else FACE_FAILED)  # fmt: skip
    log.info("face authentication of %s: %s", mask_id(id_number),
             "passed" if outcome.passed else "failed")  # fmt: skip
    return outcome


def authenticate_delegate(
    db: Database, kit: Kit, record_id: int, id_number: str, image: bytes
) -> tuple[Verification, Any]:
    """The delegating resident's face authentication for a 待认证 declaration: matched here,
    then told to the declarations side, which sends the declaration once all have passed."""
    from gateway.border import declarations

    outcome = authenticate_face(db, kit, id_number, image)
    return outcome, declarations.delegate_authenticated(db, record_id, id_number, outcome.passed)
