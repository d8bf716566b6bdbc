"""The review confirmation (暂时进出境审核确认, R-TMP-5) at intake: what save and declare need
(R-COM-2), its dates (the goods go back after they came), its goods lines, the exhibition it
may name (approved and the declarer's, refused alike otherwise) and its use of it (备案删除
refused), its pre-entry number, its editable states (R-TMP-3), and customs' receipts
(确认申请书编号, 审核备注, 结案日期)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.core.kinds import Operation
from gateway.core.models import Document
from gateway.core.status import Status
from gateway.temporary import confirmations
from gateway.temporary import fields as form
from gateway.temporary import samples as tmp
from gateway.temporary.codes import CHINA_TZ, EDITABLE, TmpStatus
from gateway.temporary.kinds import CONFIRMATION
from gateway.temporary.models import TmpConfirmation
from tests.temporary_fixtures import (
    CARRIER,
    EBC,
    EXHIBITION_NO,
    TmpEnv,
    fields_of,
    make_env,
    rules_of,
)

THEIRS = "ZL29002026654321"  # CARRIER's approved exhibition


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    e.approved_exhibition("EXPO-1", EXHIBITION_NO)
    yield e
    e.db.dispose()


def _conf(cop_no: str, **kw: object) -> bytes:
    return tmp.confirmation_message(EBC, [tmp.Confirmation(cop_no, **kw)])  # type: ignore[arg-type]


def _save_only(cop_no: str, **kw: object) -> bytes:
    """A save with the save-required fields only (and no goods)."""
    omit = frozenset(f.name for f in form.CONFIRMATION if f.name != "customsCode")
    return _conf(cop_no, goods=(), app_status="1", omit=omit, **kw)


def _row(env: TmpEnv, cop_no: str) -> TmpConfirmation:
    with env.db.session() as session:
        row = confirmations.row_of(session, EBC.code, cop_no)
        assert row is not None
        session.expunge(row)
        return row


YEAR = datetime.now(CHINA_TZ).year


# --- R-COM-2: save needs 主管地海关 and 申报单位代码; declare every yellow field ---------------


def test_save_with_only_the_save_fields_gets_a_g_number(env: TmpEnv) -> None:
    assert form.required((*form.KEY, *form.CONFIRMATION), False) == (
        "agentCode", "copNo", "customsCode"
    )  # fmt: skip
    (doc,) = env.submit(_save_only("C-1")).documents
    assert doc.status == "saved"
    row = _row(env, "C-1")
    assert row.pre_entry_no == f"G2900{YEAR}0000001"
    assert (row.operator_name, row.input_code) == ("JC0000123456789", EBC.code)
    env.submit(_save_only("C-2"))
    assert _row(env, "C-2").pre_entry_no == f"G2900{YEAR}0000002"


@pytest.mark.parametrize("missing", ["agentCode", "customsCode"])
def test_save_without_a_save_field_is_refused(env: TmpEnv, missing: str) -> None:
    if missing == "agentCode":
        data = _save_only("C-3", agent_code="")
    else:
        data = _conf("C-3", goods=(), app_status="1", omit=frozenset({"customsCode"}))
    found = env.refused(data)
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], [missing])


DECLARE_ONLY = [n for n in form.required(form.CONFIRMATION, True) if n != "customsCode"]


def test_declare_needs_what_the_table_says() -> None:
    assert DECLARE_ONLY == [
        "agentName", "ieFlag", "ieDate", "returnDate", "purpose", "brokerName", "brokerTel"
    ]  # fmt: skip


@pytest.mark.parametrize("missing", DECLARE_ONLY)
def test_declare_without_a_declare_field_is_refused(env: TmpEnv, missing: str) -> None:
    found = env.refused(_conf("C-4", omit=frozenset({missing})))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], [missing])
    env.submit(_conf("C-4", omit=frozenset({missing}), app_status="1"))  # a save takes it


def test_declare_needs_a_goods_line_save_does_not(env: TmpEnv) -> None:
    found = env.refused(_conf("C-5", goods=()))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], ["ConfirmationGoods"])
    env.submit(_conf("C-5", goods=(), app_status="1"))


def test_the_card_fields_are_the_enterprises(env: TmpEnv) -> None:
    found = env.refused(_conf("C-6", values={"operatorName": "someone"}))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], ["operatorName"])


def test_the_ie_flag_is_i_or_e(env: TmpEnv) -> None:
    env.submit(_conf("C-7", values={"ieFlag": "E"}))
    found = env.refused(_conf("C-8", values={"ieFlag": "X"}))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-5"], ["ieFlag"])


# --- R-TMP-5: the dates ----------------------------------------------------------------------


def test_the_return_date_one_day_after_the_ie_date_is_taken(env: TmpEnv) -> None:
    env.submit(_conf("C-9", values={"ieDate": "20270301", "returnDate": "20270302"}))
    row = _row(env, "C-9")
    assert (row.ie_date, row.return_date) == ("20270301", "20270302")


@pytest.mark.parametrize("back", ["20270301", "20270228"])
def test_a_return_date_on_or_before_the_ie_date_is_refused(env: TmpEnv, back: str) -> None:
    for status in ("1", "2"):  # a save too: the dates given are checked
        data = _conf("C-10", app_status=status,
                     values={"ieDate": "20270301", "returnDate": back})  # fmt: skip
        found = env.refused(data)
        assert (rules_of(found), fields_of(found)) == (["R-TMP-5"], ["returnDate"])
        assert found[0].value == f"20270301..{back}"


@pytest.mark.parametrize("name", ["ieDate", "returnDate"])
def test_dates_are_real_days(env: TmpEnv, name: str) -> None:
    found = env.refused(_conf("C-11", values={name: "20270230"}))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], [name])


# --- R-TMP-5: the goods ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "rule", "field"),
    [(tmp.ConfirmationGoods(name=""), "R-COM-2", "goodsName"),
     (tmp.ConfirmationGoods(hs_code=""), "R-COM-2", "hsCode"),
     (tmp.ConfirmationGoods(unit=""), "R-COM-2", "unit"),
     (tmp.ConfirmationGoods(qty=""), "R-COM-2", "qty"),
     (tmp.ConfirmationGoods(qty="0"), "R-TMP-5", "qty"),
     (tmp.ConfirmationGoods(hs_code="845710100"), "R-TMP-5", "hsCode"),
     (tmp.ConfirmationGoods(entry_id="29002026100000010"), "R-TMP-5", "entryId")],
)  # fmt: skip
def test_each_goods_line_is_whole_and_well_formed(
    env: TmpEnv, line: tmp.ConfirmationGoods, rule: str, field: str
) -> None:
    found = env.refused(_conf("C-12", goods=(line,), app_status="1"))
    assert (rules_of(found), fields_of(found)) == ([rule], [field])
    assert "ConfirmationGoods[1]" in found[0].field


def test_goods_lines_are_kept_and_numbered_once(env: TmpEnv) -> None:
    two = (tmp.ConfirmationGoods(qty="0.00001", g_no="1"),
           tmp.ConfirmationGoods(name="工业机器人", hs_code="8479501000", g_no="2"))  # fmt: skip
    env.submit(_conf("C-13", goods=two))
    assert [g["goodsName"] for g in _row(env, "C-13").goods] == ["立式加工中心", "工业机器人"]
    twice = (tmp.ConfirmationGoods(g_no="1"), tmp.ConfirmationGoods(g_no="1"))
    found = env.refused(_conf("C-14", goods=twice))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-5"], ["gNo"])


# --- R-TMP-5: the exhibition it may name -------------------------------------------------------


def test_a_confirmation_may_name_no_exhibition_or_an_approved_one(env: TmpEnv) -> None:
    env.submit(_conf("C-15"))
    assert _row(env, "C-15").exhibition_id is None
    env.submit(_conf("C-16", exhibition_no=EXHIBITION_NO))
    assert _row(env, "C-16").exhibition_no == EXHIBITION_NO


def test_unknown_another_enterprises_and_unapproved_exhibitions_are_refused_alike(
    env: TmpEnv,
) -> None:
    env.approved_exhibition("THEIRS-1", THEIRS, sender=CARRIER)
    pending = env.register("EXPO-2")
    env.set_status(pending, Status.STORED, exhibitionNo="ZL29002026777777")
    answers = []
    for number in ("ZL29002026000000", THEIRS, "ZL29002026777777"):
        found = env.refused(_conf("C-17", exhibition_no=number))
        assert (rules_of(found), fields_of(found)) == (["R-TMP-5"], ["exhibitionNo"])
        answers.append(found[0].message)
    assert len(set(answers)) == 1


def test_an_exhibition_with_a_confirmation_cannot_be_deleted(env: TmpEnv) -> None:
    env.submit(_conf("C-18", exhibition_no=EXHIBITION_NO, app_status="1"))
    deletion = tmp.deletion_message(EBC, [tmp.Deletion("EXPO-1", EXHIBITION_NO)])
    found = env.refused(deletion)
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["copNo"])
    assert f"in use: review confirmation C-18 (G2900{YEAR}" in found[0].message
    gone = tmp.Confirmation("C-18", EXHIBITION_NO, goods=(), app_type="3", app_status="1")
    env.submit(tmp.confirmation_message(EBC, [gone]))
    env.submit(deletion)  # deleted by the enterprise, it no longer uses the exhibition


# --- R-TMP-3: edit and declare again only in the editable states --------------------------------

REFUSED_STATES = sorted((set(Status) | set(TmpStatus)) - EDITABLE - {Status.DELETED})


@pytest.mark.parametrize("state", sorted(EDITABLE - {Status.SAVED}))
def test_modify_and_declare_again_in_an_editable_state(env: TmpEnv, state: Status) -> None:
    doc = env.submit(_conf("C-19")).documents[0].id
    number = _row(env, "C-19").pre_entry_no
    env.set_status(doc, state)
    again = env.submit(_conf("C-19", app_type="2", values={"purpose": "展后维修"}))
    assert again.documents[0].status == "pending_sign"
    row = _row(env, "C-19")
    assert (row.fields["purpose"], row.pre_entry_no) == ("展后维修", number)


@pytest.mark.parametrize("state", REFUSED_STATES)
def test_modify_or_delete_in_any_other_state_is_refused(env: TmpEnv, state: Status) -> None:
    doc = env.submit(_conf("C-20")).documents[0].id
    env.set_status(doc, state)
    for app_type in ("2", "3"):
        found = env.refused(_conf("C-20", app_type=app_type))
        assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["appType"])


def test_the_operations_each_state_allows() -> None:
    assert TmpStatus.CASE_CLOSED in REFUSED_STATES
    for state in EDITABLE:
        assert CONFIRMATION.operations_in(state) == [Operation.MODIFY, Operation.DELETE]
    for state in REFUSED_STATES:
        assert CONFIRMATION.operations_in(state) == []


def test_a_new_supervising_customs_gets_a_number_of_its_own(env: TmpEnv) -> None:
    env.submit(_save_only("C-21"))
    env.submit(_save_only("C-21", app_type="2", values={"customsCode": "0100"}))
    assert _row(env, "C-21").pre_entry_no == f"G0100{YEAR}0000001"


def test_concurrent_saves_get_distinct_numbers(tmp_path: Path, pg_url: str) -> None:
    """On PostgreSQL, eight confirmations saved at once under one prefix: eight numbers."""
    env = make_env(tmp_path, pg_url)
    try:
        cops = [f"PG-C-{n}" for n in range(8)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda cop: env.submit(_save_only(cop)), cops))
        numbers = {_row(env, cop).pre_entry_no for cop in cops}
        assert len(numbers) == 8
    finally:
        env.db.dispose()


# --- customs' receipts: 确认申请书编号, 审核备注, 结案日期 ----------------------------------------


def _receipt(env: TmpEnv, cop_no: str, status: str, info: str, **more: str) -> str:
    return env.receipt("TMP110Message", agentCode=EBC.code, copNo=cop_no, returnStatus=status,
                       returnInfo=info, **more)  # fmt: skip


def test_approval_gives_the_number_and_remarks_and_closing_its_date(env: TmpEnv) -> None:
    doc = env.submit(_conf("C-22")).documents[0].id
    env.set_status(doc, Status.STORED)
    assert _receipt(env, "C-22", "2", "审核通过，请按期复运出境", confirmNo="QR29002026000001") == (
        "matched"
    )
    assert env.status(doc) == "approved"
    with env.db.session() as session:
        got = session.get(Document, doc)
        assert got is not None and got.customs_numbers == {"confirmNo": "QR29002026000001"}
    assert _row(env, "C-22").review_remarks == "审核通过，请按期复运出境"
    assert _receipt(env, "C-22", "5", "已复运出境，结案", closeDate="20270601") == "matched"
    assert env.status(doc) == "case_closed"
    row = _row(env, "C-22")
    assert (row.close_date, row.review_remarks) == ("20270601", "审核通过，请按期复运出境")


def test_a_refusal_is_the_review_remark(env: TmpEnv) -> None:
    doc = env.submit(_conf("C-23")).documents[0].id
    env.set_status(doc, Status.STORED)
    _receipt(env, "C-23", "3", "审核不通过: [Code:T202;Desc:日期]")
    assert env.status(doc) == "not_approved"
    assert _row(env, "C-23").review_remarks == "审核不通过: [Code:T202;Desc:日期]"


def test_goods_for_an_exhibition_cross_by_its_closing_day(env: TmpEnv) -> None:
    closing = _row_of_exhibition(env)
    env.submit(_conf("C-24", exhibition_no=EXHIBITION_NO, values={"ieDate": closing}))
    after = (datetime.strptime(closing, "%Y%m%d") + timedelta(days=1)).strftime("%Y%m%d")
    found = env.refused(_conf("C-25", exhibition_no=EXHIBITION_NO, values={"ieDate": after}))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-5"], ["ieDate"])
    assert f"closed on {closing}" in found[0].message
    env.submit(_conf("C-25", values={"ieDate": after}))  # no exhibition named: no such limit


def _row_of_exhibition(env: TmpEnv) -> str:
    return str(env.row("EXPO-1").fields["closeDate"])
