"""The terminal's declaration routes and query pages over HTTP (R-BDR-4..10), behind the
people side's real login: an ID card read over PC/SC, the role picked, the session's
declarant. The biometric gate is the test's (the people side's verification has its own
tests); everything else is the gateway's own."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfWriter

from gateway.border import samples, store
from gateway.border.codes import BdrStatus, BusinessMode, TransportMode
from gateway.core.history import Change, Source, record
from gateway.core.models import Document
from tests.border_fixtures import ScriptedGate
from tests.border_people_fixtures import (
    HUANG,
    LI,
    PeopleEnv,
    people_fixture,  # noqa: F401 - the `people` fixture
)

ENTRY = "/v1/border/entry"
IMPORT = "/v1/border/import"


@pytest.fixture
def env(people: PeopleEnv) -> PeopleEnv:
    with people.gw.db.session() as s:
        store.load_catalogue(s, samples.CATALOGUE)
    people.client.app.state.border_gate = ScriptedGate()  # type: ignore[attr-defined]
    return people


def _gate(env: PeopleEnv) -> ScriptedGate:
    gate: ScriptedGate = env.client.app.state.border_gate  # type: ignore[attr-defined]
    return gate


def _declare(env: PeopleEnv, headers: dict[str, str], path: str = ENTRY, **kw: Any) -> Any:
    form = samples.entry_form(**kw) if path == ENTRY else samples.import_form(**kw)
    return env.client.post(f"{path}/declarations", headers=headers, json=form)


def test_declare_and_find_it_on_the_records_page(env: PeopleEnv) -> None:
    li = env.login_as(LI)
    answer = _declare(env, li, mode=BusinessMode.LANDED_PROCESSING)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "pending_sign" and body["statusName"] == "已申报"
    assert _gate(env).asked and _gate(env).asked[0][0] == "T1"  # the session's terminal

    page = env.client.get(f"{ENTRY}/records", headers=li)
    assert page.status_code == 200, page.text
    found = page.json()
    assert found["total"] == 1 and found["size"] == 10
    (row,) = found["records"]
    assert row["preEntryNo"] == body["preEntryNo"] and row["declTypeName"] == "申请"
    assert row["idNumber"] == f"{LI.id_number[:3]}*****{LI.id_number[-3:]}"
    assert LI.id_number not in page.text  # masked everywhere on the page
    assert row["placeCode"] == "8609A001" and "modify" not in row["operations"]
    assert found["shown"].startswith("显示第 1 到第 1 条记录, 总共 1 条记录")

    detail = env.client.get(f"/v1/border/declarations/{body['id']}", headers=li)
    assert detail.status_code == 200 and LI.id_number not in detail.text
    assert detail.json()["form"]["goods"][0]["goodsCode"] == "0801"


def test_the_pages_own_conditions(env: PeopleEnv) -> None:
    li = env.login_as(LI)
    first = _declare(env, li).json()
    _declare(env, li, mode=BusinessMode.ORIGINAL_REMOVAL, transport=TransportMode.RAIL)
    get = lambda path, **q: env.client.get(path, headers=li, params=q)  # noqa: E731
    assert get(f"{ENTRY}/records", business_mode="03").json()["total"] == 1
    assert get(f"{ENTRY}/records", pre_entry_no=first["preEntryNo"]).json()["total"] == 1
    assert get(f"{ENTRY}/records", decl_type="02").json()["total"] == 0
    assert get(f"{ENTRY}/records", status="已申报").json()["total"] == 2
    assert get(f"{ENTRY}/records", quick="today").json()["total"] == 2
    assert get(f"{ENTRY}/records", quick="week").json()["total"] == 2
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert get(f"{ENTRY}/records", from_time=later).json()["total"] == 0
    assert (
        get(f"{ENTRY}/records", size=1, page=2).json()["records"][0]["preEntryNo"]
        == first["preEntryNo"]
    )  # newest operation first
    assert get(f"{IMPORT}/records").json()["total"] == 0  # each form its own pages

    # the documents page: customs-numbered only, and no pre-entry / type conditions
    assert get(f"{ENTRY}/documents").json()["total"] == 0
    refused = get(f"{ENTRY}/documents", pre_entry_no=first["preEntryNo"])
    assert refused.status_code == 422
    assert refused.json()["violations"][0]["rule"] == "R-BDR-10"
    with env.gw.db.session() as s:
        doc = s.get(Document, first["id"])
        assert doc is not None
        record(s, doc, Change(BdrStatus.DOC_RELEASED, Source.CUSTOMS, "test"), None)
        doc.customs_numbers = {"declNo": "860952612041100001"}
        row = store.row(s, doc.business_key)
        assert row is not None
        row.decl_no = "860952612041100001"  # as the receipt's hook keeps it
    docs = get(f"{ENTRY}/documents", decl_no="860952612041100001").json()
    (row,) = docs["records"]
    assert "preEntryNo" not in row and row["operations"] == ["change", "revoke"]


def test_anothers_records_are_not_seen(env: PeopleEnv) -> None:
    li = env.login_as(LI)
    mine = _declare(env, li).json()
    huang = env.login_as(HUANG, terminal="T2")
    assert env.client.get(f"{ENTRY}/records", headers=huang).json()["total"] == 0
    assert env.client.get(f"/v1/border/declarations/{mine['id']}", headers=huang).status_code == 404
    gone = env.client.delete(f"{ENTRY}/declarations/{mine['id']}", headers=huang)
    assert gone.status_code == 404


def test_a_group_representatives_import_waits_and_states_refuse(env: PeopleEnv) -> None:
    huang = env.login_as(HUANG, role="2", registration_no="HZZ8609001")
    answer = _declare(env, huang, IMPORT)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "pending_auth" and body["statusName"] == "待认证"
    detail = env.client.get(f"/v1/border/declarations/{body['id']}", headers=huang).json()
    assert [d["state"] for d in detail["delegates"]] == ["pending"]
    assert LI.id_number not in str(detail)
    # 待认证 allows no edit, no revoke
    refused = env.client.delete(f"{IMPORT}/declarations/{body['id']}", headers=huang)
    assert refused.status_code == 409 and "待认证" in refused.text
    revoke = env.client.post(
        f"{IMPORT}/declarations/{body['id']}/revoke", headers=huang, json={"reason": "不要了"}
    )
    assert revoke.status_code == 409 and "审核通过" in revoke.text


def test_a_failed_check_is_409_with_the_reason(env: PeopleEnv) -> None:
    li = env.login_as(LI)
    _gate(env).script.append(False)
    answer = _declare(env, li, IMPORT)
    assert answer.status_code == 409, answer.text
    assert answer.json()["violations"][0]["rule"] == "R-BDR-6"
    page = env.client.get(f"{IMPORT}/records", headers=li).json()
    assert page["records"][0]["status"] == "saved"


def test_without_a_gate_declaring_is_refused_not_unchecked(env: PeopleEnv) -> None:
    li = env.login_as(LI)
    env.client.app.state.border_gate = None  # type: ignore[attr-defined]
    answer = _declare(env, li, IMPORT)
    assert answer.status_code >= 400
    assert env.client.get(f"{IMPORT}/records", headers=li).json()["total"] == 0


def test_no_session_no_declaration(env: PeopleEnv) -> None:
    answer = env.client.post(
        f"{ENTRY}/declarations", headers=env.terminals["T1"], json=samples.entry_form()
    )
    assert answer.status_code == 401


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_attachments_uploaded_then_named_by_digest(env: PeopleEnv) -> None:
    """随附单证 (R-COM-6 applied to border): PDFs only, 4 MB at most, the declarant's own."""
    li = env.login_as(LI)
    params = {"file_name": "产地证明.pdf", "doc_type": "01"}
    up = env.client.post("/v1/border/attachments", headers=li, params=params, content=_pdf())
    assert up.status_code == 201, up.text
    line = up.json()
    form = samples.entry_form()
    form["attachments"] = [{"seqNo": "1", **line}]
    done = env.client.post(f"{ENTRY}/declarations", headers=li, json=form)
    assert done.status_code == 201, done.text
    detail = env.client.get(f"/v1/border/declarations/{done.json()['id']}", headers=li).json()
    assert detail["form"]["attachments"][0]["sha256"] == line["sha256"]
    back = env.client.get(f"/v1/border/attachments/{line['sha256']}", headers=li)
    assert back.status_code == 200 and back.content.startswith(b"%PDF-")
    assert back.headers["content-type"] == "application/pdf"

    form["attachments"] = [{"seqNo": "1", **line, "sha256": "0" * 64}]
    refused = env.client.post(f"{ENTRY}/declarations", headers=li, json=form)
    assert refused.status_code == 422
    (bad,) = refused.json()["violations"]
    assert bad["rule"] == "R-COM-6" and bad["field"].endswith("Attachment[1]/sha256")

    text = env.client.post(
        "/v1/border/attachments", headers=li, params=params, content=b"not a pdf at all"
    )
    assert text.status_code == 422 and "PDF only" in text.text
    big = env.client.post(
        "/v1/border/attachments",
        headers=li,
        params=params,
        content=b"%PDF-" + b"0" * (4 * 1024 * 1024),
    )
    assert big.status_code == 413

    huang = env.login_as(HUANG, terminal="T2")
    other = env.client.get(f"/v1/border/attachments/{line['sha256']}", headers=huang)
    assert other.status_code == 404
