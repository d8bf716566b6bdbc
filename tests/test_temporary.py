"""Exhibition registration (展览会备案) at intake: what save and declare need (R-COM-2), the
form's rules and the card fields (R-TMP-1), the editable states and the change and deletion
applications (R-TMP-3), the declaring unit (R-COM-3), the pre-entry number."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from gateway.core.kinds import Operation
from gateway.core.status import Status
from gateway.temporary import fields as form
from gateway.temporary import registrations
from gateway.temporary import samples as tmp
from gateway.temporary.codes import CHINA_TZ, EDITABLE, TmpStatus
from gateway.temporary.kinds import EXHIBITION
from tests.temporary_fixtures import CARD, CARRIER, EBC, TmpEnv, fields_of, make_env, rules_of

SAVE_NEEDS = ("agentCode", "copNo", "customsCode")
DECLARE_ONLY = tuple(n for n in form.required((*form.KEY, *form.FORM), True) if n not in SAVE_NEEDS)
CUSTOMS_NO = "ZL29002026123456"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _minimal(cop_no: str, **kw: object) -> tmp.Registration:
    """A save with the save-required fields only."""
    keep = {"customsCode"}
    omit = frozenset(f.name for f in form.FORM if f.name not in keep) | kw.pop("omit", frozenset())  # type: ignore[operator]
    return tmp.Registration(cop_no, app_status="1", omit=omit, **kw)  # type: ignore[arg-type]


def _msg(*registrations: tmp.Registration) -> bytes:
    return tmp.registration_message(EBC, list(registrations))


# --- R-COM-2: save needs 主管海关 and 申报单位代码; declare needs every yellow field -------------


def test_the_form_table_declares_exactly_the_save_fields_of_the_manual() -> None:
    assert form.required((*form.KEY, *form.FORM), False) == SAVE_NEEDS[:2] + ("customsCode",)
    assert "declPortCustoms" not in form.TERMS  # 申报地海关: neither entered nor returned
    assert set(form.CARD_FIELDS) == {"inputCode", "inputName", "operatorName"}


def test_save_with_only_the_save_fields_gets_a_pre_entry_number(env: TmpEnv) -> None:
    result = env.submit(_msg(_minimal("S-1")))
    (doc,) = result.documents
    assert doc.status == "saved"
    year = datetime.now(CHINA_TZ).year
    row = env.row("S-1")
    assert row.pre_entry_no == f"Z2900{year}0000001"
    assert row.declared_at is None
    assert (row.input_code, row.input_name, row.operator_name) == (EBC.code, EBC.name, CARD)


@pytest.mark.parametrize("missing", SAVE_NEEDS)
def test_save_without_a_save_field_is_refused(env: TmpEnv, missing: str) -> None:
    values = {"copNo": ""} if missing == "copNo" else {}
    reg = _minimal("S-2", omit=frozenset({missing}) - {"copNo"}, values=values)
    if missing == "agentCode":
        reg = _minimal("S-2", agent_code="")
    found = env.refused(_msg(reg))
    assert rules_of(found) == ["R-COM-2"]
    assert fields_of(found) == [missing]
    assert "save needs it" in found[0].message


@pytest.mark.parametrize("missing", DECLARE_ONLY)
def test_declare_without_a_declare_field_is_refused(env: TmpEnv, missing: str) -> None:
    found = env.refused(_msg(tmp.Registration("D-1", omit=frozenset({missing}))))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], [missing])
    assert "declare needs it" in found[0].message


def test_a_blank_value_counts_as_missing(env: TmpEnv) -> None:
    found = env.refused(_msg(tmp.Registration("D-2", values={"venue": "   "})))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], ["venue"])


def test_optional_fields_may_stay_empty_at_declare(env: TmpEnv) -> None:
    reg = tmp.Registration("D-3", omit=frozenset({"note", "taiwanApproval"}))
    assert env.submit(_msg(reg)).documents[0].status == "pending_sign"


def test_declare_without_a_save_first_and_save_then_declare_keep_one_number(env: TmpEnv) -> None:
    direct = env.register("D-4")
    assert env.status(direct) == "pending_sign"
    assert env.row("D-4").declared_at is not None
    env.submit(_msg(_minimal("D-5")))
    saved_no = env.row("D-5").pre_entry_no
    again = env.submit(_msg(tmp.Registration("D-5")))  # appType 1 again declares the draft
    assert again.documents[0].status == "pending_sign"
    assert env.row("D-5").pre_entry_no == saved_no
    assert env.row("D-4").pre_entry_no.endswith("0000001")
    assert saved_no.endswith("0000002")


def test_pre_entry_numbers_count_per_customs(env: TmpEnv) -> None:
    env.submit(
        _msg(_minimal("N-1"), _minimal("N-2"), _minimal("N-3", values={"customsCode": "0100"}))
    )
    year = datetime.now(CHINA_TZ).year
    assert [env.row(c).pre_entry_no for c in ("N-1", "N-2", "N-3")] == [
        f"Z2900{year}0000001", f"Z2900{year}0000002", f"Z0100{year}0000001"
    ]  # fmt: skip


# --- R-TMP-1: formats, consistency, the card fields ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("customsCode", "29A0"), ("customsCode", "290"), ("regCustomsCode", "29000"[:3]),
     ("openDate", "20261332"), ("closeDate", "2027011"), ("agentCode", "3301960z01")],
)  # fmt: skip
def test_malformed_values_are_refused(env: TmpEnv, name: str, value: str) -> None:
    reg = tmp.Registration("F-1", values={name: value})
    if name == "agentCode":
        reg = tmp.Registration("F-1", agent_code=value)
    found = env.refused(_msg(reg))
    assert "R-TMP-1" in rules_of(found)
    assert name in fields_of(found)


def test_closing_on_the_opening_day_is_fine_the_day_before_is_not(env: TmpEnv) -> None:
    same = {"openDate": "20270310", "closeDate": "20270310"}
    assert env.submit(_msg(tmp.Registration("F-2", values=same))).documents
    before = {"openDate": "20270310", "closeDate": "20270309"}
    found = env.refused(_msg(tmp.Registration("F-3", values=before)))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], ["closeDate"])


def test_the_international_area_is_at_most_the_total(env: TmpEnv) -> None:
    assert env.submit(_msg(tmp.Registration("F-4", values={"intlArea": "42000.00"}))).documents
    found = env.refused(_msg(tmp.Registration("F-5", values={"intlArea": "42000.01"})))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], ["intlArea"])


def test_card_fields_may_be_left_out_or_equal_the_binding(env: TmpEnv) -> None:
    same = {"inputCode": EBC.code, "inputName": EBC.name, "operatorName": CARD}
    assert env.submit(_msg(tmp.Registration("C-1", values=same))).documents


@pytest.mark.parametrize(
    ("name", "value"),
    [("inputCode", "3301980W02"), ("inputName", "别的公司"), ("operatorName", "JC9999")],
)
def test_a_card_field_the_sender_sets_otherwise_is_refused(
    env: TmpEnv, name: str, value: str
) -> None:
    found = env.refused(_msg(tmp.Registration("C-2", values={name: value})))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], [name])
    assert "registration and IC card" in found[0].message


def test_without_a_card_there_is_no_operator_to_send(env: TmpEnv) -> None:
    msg = tmp.registration_message(CARRIER, [tmp.Registration("C-3", values={"operatorName": "x"})])
    assert fields_of(env.refused(msg, CARRIER)) == ["operatorName"]


def test_the_declaring_unit_is_the_declarer_or_delegated(env: TmpEnv) -> None:
    found = env.refused(_msg(tmp.Registration("P-1", agent_code=CARRIER.code)))
    assert (rules_of(found), fields_of(found)) == (["R-COM-3"], ["agentCode"])


def test_every_violation_of_a_message_is_reported_at_once(env: TmpEnv) -> None:
    reg = tmp.Registration("M-1", omit=frozenset({"venue"}), values={"customsCode": "X"})
    found = env.refused(_msg(reg))
    assert sorted(fields_of(found)) == ["customsCode", "venue"]


# --- R-TMP-3: edit and declare again only in 暂存, 发往海关失败, 海关入库失败, 审核不通过

#: every other status a live registration can be in, the core's and its own
REFUSED_STATES = sorted((set(Status) | set(TmpStatus)) - EDITABLE - {Status.DELETED})


def test_the_editable_states_are_the_manuals() -> None:
    assert {
        Status.SAVED,
        Status.SEND_FAILED,
        Status.STORE_FAILED,
        TmpStatus.NOT_APPROVED,
    } <= EDITABLE
    assert Status.RETURNED not in EDITABLE  # 002 has no 退单
    assert {Status.RETURNED, Status.STORED, TmpStatus.APPROVED} <= set(REFUSED_STATES)


@pytest.mark.parametrize("state", sorted(EDITABLE - {Status.SAVED}))
def test_modify_and_declare_again_in_an_editable_state(env: TmpEnv, state: Status) -> None:
    doc = env.register("E-1")
    env.set_status(doc, state)
    again = env.submit(_msg(tmp.Registration("E-1", app_type="2", values={"venue": "新馆"})))
    assert again.documents[0].status == "pending_sign"
    assert env.row("E-1").fields["venue"] == "新馆"


@pytest.mark.parametrize("state", REFUSED_STATES)
def test_modify_in_any_other_state_is_refused(env: TmpEnv, state: Status) -> None:
    doc = env.register("E-2")
    env.set_status(doc, state)
    found = env.refused(_msg(tmp.Registration("E-2", app_type="2")))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["appType"])
    assert "审核不通过" in found[0].message


def test_a_saved_draft_is_modified_and_deleted(env: TmpEnv) -> None:
    env.submit(_msg(_minimal("E-3")))
    env.submit(_msg(_minimal("E-3", app_type="2", values={"customsCode": "0100"})))
    assert env.row("E-3").customs_code == "0100"
    gone = env.submit(_msg(_minimal("E-3", app_type="3")))
    assert gone.documents[0].status == "deleted"
    # the key is free again: a new registration under it gets a new pre-entry number
    old = env.row("E-3").pre_entry_no
    env.submit(_msg(_minimal("E-3")))
    assert env.row("E-3").pre_entry_no != old


def test_delete_of_an_approved_registration_is_refused(env: TmpEnv) -> None:
    doc = env.register("E-4")
    env.set_status(doc, TmpStatus.APPROVED, exhibitionNo=CUSTOMS_NO)
    found = env.refused(_msg(_minimal("E-4", app_type="3")))
    assert rules_of(found) == ["R-TMP-3"]


# --- R-TMP-3: change (变更) of an approved registration, with its reason ---


def _approved(env: TmpEnv, cop_no: str) -> int:
    doc = env.register(cop_no)
    env.set_status(doc, TmpStatus.APPROVED, exhibitionNo=CUSTOMS_NO)
    return doc


def _change(cop_no: str, **kw: object) -> bytes:
    kw.setdefault("exhibition_no", CUSTOMS_NO)
    return tmp.change_message(EBC, [tmp.Change(cop_no, **kw)])  # type: ignore[arg-type]


def test_an_approved_registration_can_be_changed(env: TmpEnv) -> None:
    _approved(env, "G-1")
    result = env.submit(_change("G-1", values={"closeDate": "20991231"}))
    assert result.documents[0].business_key == f"{EBC.code}|G-1|1"
    assert result.documents[0].status == "pending_sign"


NOT_APPROVED_STATES = sorted((set(Status) | set(TmpStatus)) - {TmpStatus.APPROVED, Status.DELETED})


@pytest.mark.parametrize("state", NOT_APPROVED_STATES)
def test_a_change_of_a_registration_not_approved_is_refused(env: TmpEnv, state: Status) -> None:
    doc = env.register("G-2")
    env.set_status(doc, state)
    found = env.refused(_change("G-2"))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["copNo"])


def test_a_change_of_no_registration_is_refused(env: TmpEnv) -> None:
    assert rules_of(env.refused(_change("NOPE"))) == ["R-TMP-3"]


def test_a_declared_change_needs_its_reason_a_saved_one_not(env: TmpEnv) -> None:
    _approved(env, "G-3")
    found = env.refused(_change("G-3", omit=frozenset({"changeReason"})))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["changeReason"])
    saved = env.submit(_change("G-3", omit=frozenset({"changeReason"}), app_status="1"))
    assert saved.documents[0].status == "saved"


def test_a_change_names_the_registrations_customs_number(env: TmpEnv) -> None:
    _approved(env, "G-4")
    found = env.refused(_change("G-4", exhibition_no="ZL29002026999999"))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["exhibitionNo"])


def test_one_application_at_a_time(env: TmpEnv) -> None:
    _approved(env, "G-5")
    env.submit(_change("G-5"))
    found = env.refused(_change("G-5", seq_no="2"))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["copNo"])
    deletion = tmp.deletion_message(EBC, [tmp.Deletion("G-5", CUSTOMS_NO)])
    assert rules_of(env.refused(deletion)) == ["R-TMP-3"]


def test_a_change_number_is_1_to_999(env: TmpEnv) -> None:
    _approved(env, "G-6")
    assert fields_of(env.refused(_change("G-6", seq_no="0"))) == ["seqNo"]


def test_an_approved_change_becomes_the_registrations_form(env: TmpEnv) -> None:
    _approved(env, "G-7")
    change = env.submit(_change("G-7", values={"venue": "杭州大会展中心"})).documents[0].id
    env.set_status(change, Status.SENT)
    outcome = env.receipt(
        "TMP104Message", agentCode=EBC.code, copNo="G-7", seqNo="1",
        exhibitionNo=CUSTOMS_NO, returnStatus="2", returnInfo="变更审核通过",
    )  # fmt: skip
    assert outcome == "matched"
    assert env.status(change) == "approved"
    assert env.row("G-7").fields["venue"] == "杭州大会展中心"


def test_a_refused_change_leaves_the_registration_as_it_was(env: TmpEnv) -> None:
    _approved(env, "G-8")
    change = env.submit(_change("G-8", values={"venue": "别处"})).documents[0].id
    env.set_status(change, Status.SENT)
    env.receipt("TMP104Message", agentCode=EBC.code, copNo="G-8", seqNo="1",
                returnStatus="3", returnInfo="审核不通过: 批文不符")  # fmt: skip
    assert env.status(change) == "not_approved"
    assert env.row("G-8").fields["venue"] == "杭州国际博览中心"
    # not approved: the change may be edited and declared again (R-TMP-3)
    again = env.submit(_change("G-8", app_type="2", values={"venue": "别处二"}))
    assert again.documents[0].status == "pending_sign"


# --- R-TMP-3: deletion application (备案删除) of an approved, unused registration ---


def test_an_approved_unused_registration_may_be_applied_for_deletion(env: TmpEnv) -> None:
    _approved(env, "H-1")
    result = env.submit(tmp.deletion_message(EBC, [tmp.Deletion("H-1", CUSTOMS_NO)]))
    assert result.documents[0].status == "pending_sign"


def test_a_used_registration_cannot_be_deleted(env: TmpEnv) -> None:
    _approved(env, "H-2")
    check = lambda _s, row: f"loaned-exhibit list L-1 of {row.cop_no}"  # noqa: E731
    registrations.USAGE_CHECKS.append(check)
    try:
        found = env.refused(tmp.deletion_message(EBC, [tmp.Deletion("H-2", CUSTOMS_NO)]))
    finally:
        registrations.USAGE_CHECKS.remove(check)
    assert rules_of(found) == ["R-TMP-3"]
    assert "in use: loaned-exhibit list L-1 of H-2" in found[0].message


@pytest.mark.parametrize("state", NOT_APPROVED_STATES)
def test_deletion_of_a_registration_not_approved_is_refused(env: TmpEnv, state: Status) -> None:
    doc = env.register("H-3")
    env.set_status(doc, state)
    found = env.refused(tmp.deletion_message(EBC, [tmp.Deletion("H-3", CUSTOMS_NO)]))
    assert rules_of(found) == ["R-TMP-3"]


def test_a_declared_deletion_names_the_customs_number(env: TmpEnv) -> None:
    _approved(env, "H-4")
    found = env.refused(tmp.deletion_message(EBC, [tmp.Deletion("H-4", "")]))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], ["exhibitionNo"])


def test_a_granted_deletion_ends_the_registration(env: TmpEnv) -> None:
    doc = _approved(env, "H-5")
    env.receipt("TMP102Message", agentCode=EBC.code, copNo="H-5", returnStatus="4",
                returnInfo="备案删除")  # fmt: skip
    assert env.status(doc) == "withdrawn"
    # final: nothing moves it again
    env.receipt("TMP102Message", agentCode=EBC.code, copNo="H-5", returnStatus="2",
                returnInfo="审核通过")  # fmt: skip
    assert env.status(doc) == "withdrawn"


def test_a_saved_change_draft_can_be_deleted(env: TmpEnv) -> None:
    _approved(env, "G-9")
    env.submit(_change("G-9", app_status="1"))
    gone = env.submit(_change("G-9", app_type="3", app_status="1"))
    assert gone.documents[0].status == "deleted"
    # an approved change is not a draft: it cannot be deleted
    change = env.submit(_change("G-9", seq_no="2")).documents[0].id
    env.set_status(change, TmpStatus.APPROVED)
    found = env.refused(_change("G-9", seq_no="2", app_type="3"))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["appType"])


def test_the_operations_each_state_allows() -> None:
    assert EXHIBITION.operations_in(TmpStatus.APPROVED) == [Operation.CHANGE, Operation.REVOKE]
    for state in (Status.SAVED, Status.SEND_FAILED, Status.STORE_FAILED, TmpStatus.NOT_APPROVED):
        assert EXHIBITION.operations_in(state) == [Operation.MODIFY, Operation.DELETE]
    for state in (Status.SENT, Status.STORED, Status.RETURNED, TmpStatus.WITHDRAWN):
        assert EXHIBITION.operations_in(state) == []


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [("appType", "4", "R-COM-1.code"), ("appStatus", "3", "R-COM-1.code"),
     ("appTime", "20261301000000", "R-COM-1.time")],
)  # fmt: skip
def test_the_record_codes_and_time(env: TmpEnv, name: str, value: str, rule: str) -> None:
    data = _msg(tmp.Registration("R-1"))
    start = data.index(f"<tmp:{name}>".encode()) + len(name) + 6
    end = data.index(b"<", start)
    found = env.refused(data[:start] + value.encode() + data[end:])
    assert (rules_of(found), fields_of(found)) == ([rule], [name])


def test_concurrent_saves_get_distinct_pre_entry_numbers(tmp_path: Path, pg_url: str) -> None:
    """On PostgreSQL, intakes numbering in one customs and year wait for each other."""
    env = make_env(tmp_path, pg_url)
    cops = [f"PG-{n}" for n in range(8)]
    try:
        with ThreadPoolExecutor(len(cops)) as pool:
            list(pool.map(lambda cop: env.submit(_msg(_minimal(cop))), cops))
        numbers = sorted(env.row(cop).pre_entry_no[-7:] for cop in cops)
        assert numbers == [f"{n:07d}" for n in range(1, 9)]
    finally:
        env.db.dispose()
