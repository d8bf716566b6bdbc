"""The people side with the declarations side, over HTTP (R-BDR-1, R-BDR-6, R-BDR-7): a group
representative logs in by ID card over PC/SC, picks the group, declares an import checked
by the terminals' real gate (her enrolled face on the terminal's camera); the declaration
waits in 待认证 until the delegating resident passes face authentication, which a stranger's
face does not."""

from __future__ import annotations

import base64
from typing import Any

import cv2

from gateway.border import samples, store
from gateway.border.biokit import Devices
from gateway.border.codes import BdrStatus
from gateway.core.models import Document
from tests.border_people_fixtures import (
    HUANG,
    LI,
    PeopleEnv,
    camera,
    face_frame,
    people_fixture,  # noqa: F401 - the `people` fixture
)

ADMIN = {"x-api-key": "test-admin-key"}


def _enrol_face(people: PeopleEnv, officer: dict[str, str], who: Any, subject: int) -> None:
    ref = people.ref(officer, who)
    base = f"/v1/border/officer/residents/{ref}/enrolment"
    assert people.client.post(base, headers=officer).status_code == 200
    people.desks.devices["officer:GA8609001"] = Devices(camera=camera((subject, 1)))
    assert people.client.post(base + "/face", headers=officer).json()["ok"]
    assert people.client.post(base + "/save", headers=officer).json()["message"] == "保存成功"


def _png(subject: int, image: int) -> bytes:
    ok, data = cv2.imencode(".png", face_frame(subject, image))
    assert ok
    return data.tobytes()


def _status(people: PeopleEnv, record_id: int) -> str:
    with people.gw.db.session() as s:  # the record's id is its document's
        doc = s.get(Document, record_id)
        assert doc is not None
        return doc.status


def test_representative_declares_and_the_member_authenticates(
    people: PeopleEnv, card_ids: Any
) -> None:
    with people.gw.db.session() as s:
        store.load_catalogue(s, samples.CATALOGUE)
    officer = people.officer(card_ids["rsa"])
    _enrol_face(people, officer, HUANG, 1)
    _enrol_face(people, officer, LI, 5)

    terminal = people.login_as(HUANG, role="2", registration_no="HZZ8609001")
    people.desks.devices["terminal:T1"] = Devices(camera=camera((1, 7)))
    answer = people.client.post(
        "/v1/border/import/declarations", headers=terminal, json=samples.import_form()
    )
    assert answer.status_code == 201, answer.text
    record_id = answer.json()["id"]
    assert answer.json()["status"] == BdrStatus.PENDING_AUTH.value
    assert answer.json()["biometric"] == "passed"

    # a stranger's face for the member: refused, still waiting (multipart upload)
    refused = people.client.post(
        "/v1/border/face-auth", headers=ADMIN,
        data={"record_id": str(record_id), "id_number": LI.id_number},
        files={"image": ("face.png", _png(2, 1), "image/png")},
    )  # fmt: skip
    assert refused.status_code == 200, refused.text
    assert refused.json()["passed"] is False and LI.id_number not in refused.text
    assert _status(people, record_id) == BdrStatus.PENDING_AUTH.value

    # the member's own face (another photo of her): passed, and the declaration goes on
    body = {"record_id": record_id, "id_number": LI.id_number,
            "image_base64": base64.b64encode(_png(5, 3)).decode()}  # fmt: skip
    passed = people.client.post("/v1/border/face-auth", headers=ADMIN, json=body)
    assert passed.status_code == 200, passed.text
    assert passed.json()["passed"] is True
    assert _status(people, record_id) != BdrStatus.PENDING_AUTH.value
