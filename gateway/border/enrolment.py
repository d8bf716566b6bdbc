"""Biometric enrolment by an officer (补录, R-BDR-3, seed 001 §3.3).

Only for a resident synced to customs (已同步海关) and in 正常 status. The steps, each one
call, the captures coming from the officer desk's devices:

1. first finger (第一指纹录入): "请按三次指纹"; presses are taken from the reader until three
   good ones are in (a poor press is asked again, at most `Kit.max_presses` presses); the
   three must agree (else "请重新按三次指纹"); then "指纹采集成功" and its light turns green;
2. second finger: "请换个手指再按三次指纹"; the same, and it must not be the first finger
   again (refused: "与第一指纹是同一手指…");
3. face (optional, 【人脸】 → 【开始拍照】 → 【拍照】): the first camera frame with one sharp face
   inside the portrait frame;
4. save (保存): "保存成功"; the biometric flag becomes what was captured (人脸指纹都有 /
   没有人脸有指纹 / 有人脸没有指纹), the old templates of a re-enrolment are replaced.

What was captured waits as drafts (`d-finger1`…, sealed like the enrolled templates) until
saved, so the steps may be served by different processes. Templates are sealed by the
engines' TemplateVault, bound to the resident's ID number and the template kind; nothing
here logs or answers a template, an image or a descriptor, only outcomes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from devices.fingerprint import Impression
from gateway.border.biokit import Kit
from gateway.border.biometrics.enrolment import PRESSES, FingerReason, enrol_face, prompt_for
from gateway.border.biometrics.templates import Template, TemplateKind
from gateway.border.biometrics.vault import TemplateVault
from gateway.border.identity import mask_id
from gateway.border.people_codes import BiometricFlag, ResidentStatus, Slot
from gateway.border.people_models import BrdResident, BrdTemplate
from gateway.errors import InvalidInput, StateConflict, Violation

log = logging.getLogger(__name__)

RULE = "R-BDR-3"
SAVED = "保存成功"
DRAFT = "d-"
_KIND = {Slot.FINGER1: TemplateKind.FINGER, Slot.FINGER2: TemplateKind.FINGER,
         Slot.FACE: TemplateKind.FACE}  # fmt: skip


@dataclass(frozen=True)
class Step:
    """The answer of one enrolment step: what the page says, never a template."""

    ok: bool
    reason: str
    message: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "message": self.message, **self.detail}


def eligible(row: BrdResident) -> None:
    """补录 only for 已同步海关 residents in 正常 status (seed 001 §3.3)."""
    if not row.synced:
        raise StateConflict([Violation(RULE, "synced", f"{mask_id(row.id_number)} is not synced "
                                       "to customs (同步状态 must be 已同步海关)")])  # fmt: skip
    if row.status != ResidentStatus.NORMAL:
        label = ResidentStatus(row.status).label
        raise StateConflict([Violation(RULE, "status", f"{mask_id(row.id_number)} is {label}: "
                                       "only residents in 正常 status are enrolled")])  # fmt: skip


# --- sealed templates in the table ------------------------------------------------------------


def _rows(session: Session, resident: BrdResident, draft: bool) -> dict[Slot, BrdTemplate]:
    prefix = DRAFT if draft else ""
    found = session.scalars(select(BrdTemplate).where(BrdTemplate.resident_id == resident.id))
    return {
        Slot(row.slot.removeprefix(prefix)): row
        for row in found
        if row.slot.startswith(DRAFT) == draft
    }


def _open(
    vault: TemplateVault, resident: BrdResident, rows: dict[Slot, BrdTemplate]
) -> dict[Slot, Template]:
    return {
        slot: vault.open(row.ciphertext, resident.id_number, _KIND[slot])
        for slot, row in rows.items()
    }


def enrolled(session: Session, vault: TemplateVault, resident: BrdResident) -> dict[Slot, Template]:
    """The resident's saved templates, opened (TemplateRefused without the right key)."""
    return _open(vault, resident, _rows(session, resident, draft=False))


def _put_draft(
    session: Session, vault: TemplateVault, resident: BrdResident, slot: Slot, template: Template,
    by: str,
) -> None:  # fmt: skip
    name = DRAFT + slot.value
    session.execute(delete(BrdTemplate).where(BrdTemplate.resident_id == resident.id,
                                              BrdTemplate.slot == name))  # fmt: skip
    session.add(BrdTemplate(resident_id=resident.id, slot=name, enrolled_by=by,
                            ciphertext=vault.seal(template, resident.id_number)))  # fmt: skip
    session.flush()


def indicators(session: Session, resident: BrdResident) -> dict[str, str]:
    """The page's lights: green for what this enrolment has taken so far."""
    drafts = _rows(session, resident, draft=True)
    return {slot.value: "green" if slot in drafts else "red" for slot in Slot}


# --- the steps --------------------------------------------------------------------------------


def start(session: Session, resident: BrdResident) -> Step:
    """补录 opened: earlier unsaved captures are dropped."""
    eligible(resident)
    cancel(session, resident)
    return Step(True, "started", prompt_for(1), {"indicators": indicators(session, resident)})


def cancel(session: Session, resident: BrdResident) -> None:
    session.execute(delete(BrdTemplate).where(BrdTemplate.resident_id == resident.id,
                                              BrdTemplate.slot.startswith(DRAFT)))  # fmt: skip


def _presses(kit: Kit, desk: str) -> tuple[list[Impression], list[str]]:
    """Three good presses from the desk's reader; the messages of the presses asked again."""
    scanner = kit.devices(desk).need_scanner()
    good: list[Impression] = []
    again: list[str] = []
    for _ in range(kit.max_presses):
        press = scanner.capture()
        decision = kit.fingers.check_press(press)
        if decision.accepted:
            good.append(press)
            if len(good) == PRESSES:
                break
        else:
            again.append(decision.message)
    return good, again


def finger(
    session: Session, kit: Kit, desk: str, resident: BrdResident, number: int, by: str
) -> Step:
    """第一/第二指纹录入: three presses of one finger, not a finger already taken."""
    eligible(resident)
    prompt = prompt_for(number)
    slot = Slot.FINGER1 if number == 1 else Slot.FINGER2
    other = Slot.FINGER2 if number == 1 else Slot.FINGER1
    drafts = _open(kit.vault, resident, _rows(session, resident, draft=True))
    if number == 2 and Slot.FINGER1 not in drafts:
        raise InvalidInput("enrol the first finger first (第一指纹录入)")
    presses, again = _presses(kit, desk)
    detail: dict[str, Any] = {"finger": number, "prompt": prompt, "presses_asked_again": again}
    if len(presses) < PRESSES:
        reason = FingerReason.POOR_PRESS
        return _finger_step(session, resident, False, reason.value, reason.text, detail)
    others = [drafts[other]] if other in drafts else []
    decision = kit.fingers.enrol(presses, others)
    if not decision.ok:
        log.info("finger %d of %s not taken: %s", number, mask_id(resident.id_number),
                 decision.reason.value)  # fmt: skip
        return _finger_step(
            session, resident, False, decision.reason.value, decision.message, detail
        )
    assert decision.template is not None
    _put_draft(session, kit.vault, resident, slot, decision.template, by)
    return _finger_step(session, resident, True, decision.reason.value, decision.message, detail)


def _finger_step(
    session: Session, resident: BrdResident, ok: bool, reason: str, message: str,
    detail: dict[str, Any],
) -> Step:  # fmt: skip
    return Step(ok, reason, message, {**detail, "indicators": indicators(session, resident)})


def face(session: Session, kit: Kit, desk: str, resident: BrdResident, by: str) -> Step:
    """【开始拍照】 → 【拍照】: the first usable portrait of the desk's camera."""
    eligible(resident)
    taken = enrol_face(kit.devices(desk).need_camera(), kit.face, kit.capture_rules)
    if taken.ok and taken.template is not None:
        _put_draft(session, kit.vault, resident, Slot.FACE, taken.template, by)
    lights = indicators(session, resident)
    return Step(taken.ok, taken.reason, taken.message, {"indicators": lights})


def save(session: Session, resident: BrdResident, by: str, now: datetime) -> Step:
    """保存: the drafts replace whatever was enrolled; the flag follows what was captured."""
    eligible(resident)
    drafts = _rows(session, resident, draft=True)
    fingers = {Slot.FINGER1, Slot.FINGER2} & set(drafts)
    if len(fingers) == 1:
        raise InvalidInput(
            "两个指纹都要采集: the second finger is missing (请换个手指再按三次指纹)"
        )
    if not drafts:
        raise InvalidInput("nothing captured to save: enrol two fingers and/or the face")
    old = _rows(session, resident, draft=False)
    for row in old.values():
        session.delete(row)
    session.flush()
    for slot, row in drafts.items():
        row.slot, row.enrolled_by, row.enrolled_at = slot.value, by, now
    flag = BiometricFlag.of(face=Slot.FACE in drafts, finger=bool(fingers))
    resident.biometrics, resident.last_operation_at = flag.value, now
    log.info("biometrics of %s saved: %s%s", mask_id(resident.id_number), flag.name,
             " (replacing the earlier enrolment)" if old else "")  # fmt: skip
    return Step(True, "saved", SAVED, {"biometrics": flag.value, "biometrics_label": flag.label,
                                       "replaced": sorted(s.value for s in old)})  # fmt: skip


def rotate(session: Session, vault: TemplateVault) -> int:
    """Re-seal every template not under the vault's newest key (after a key was added)."""
    count = 0
    for row in session.scalars(select(BrdTemplate)):
        if TemplateVault.key_id(row.ciphertext) == vault.keys.newest:
            continue
        resident = session.get(BrdResident, row.resident_id)
        assert resident is not None
        slot = Slot(row.slot.removeprefix(DRAFT))
        row.ciphertext = vault.rotate(row.ciphertext, resident.id_number, _KIND[slot])
        count += 1
    return count
