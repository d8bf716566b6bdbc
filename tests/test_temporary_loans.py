"""The loaned-exhibit list (外借展品清单, R-TMP-4) at intake: its exhibition (an approved one
of the declarer, refused alike otherwise), what save and declare need (R-COM-2), its goods
(lines of the exhibition's declarations) and the quantity lent across lists, its editable
states, its use of the exhibition (备案删除 refused), customs' receipt."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.core.kinds import Operation
from gateway.core.status import Status
from gateway.temporary import fields as form
from gateway.temporary import loans
from gateway.temporary import samples as tmp
from gateway.temporary.codes import CHINA_TZ, EDITABLE, TmpStatus
from gateway.temporary.kinds import LOAN_LIST
from gateway.temporary.models import TmpLoanList
from tests.temporary_fixtures import (
    CARRIER,
    EBC,
    ENTRY_1,
    ENTRY_2,
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


def _goods(*lines: tuple[str, str, str]) -> tuple[tmp.LoanGoods, ...]:
    return tuple(tmp.LoanGoods(entry, item, qty) for entry, item, qty in lines)


def _list(cop_no: str, *lines: tuple[str, str, str], **kw: object) -> bytes:
    kw.setdefault("exhibition_no", EXHIBITION_NO)
    goods = _goods(*lines) if lines else (tmp.LoanGoods(),)
    loan = tmp.LoanList(cop_no, goods=goods, **kw)  # type: ignore[arg-type]
    return tmp.loan_list_message(EBC, loan)


def _save_only(cop_no: str, **kw: object) -> bytes:
    """A save with the save-required fields only (and no goods)."""
    omit = frozenset(f.name for f in form.LOAN if f.name != "exhibitionNo")
    loan = tmp.LoanList(cop_no, EXHIBITION_NO, goods=(), app_status="1", omit=omit, **kw)  # type: ignore[arg-type]
    return tmp.loan_list_message(EBC, loan)


def _row(env: TmpEnv, cop_no: str) -> TmpLoanList:
    with env.db.session() as session:
        row = loans.row_of(session, EBC.code, cop_no)
        assert row is not None
        session.expunge(row)
        return row


# --- R-COM-2: save needs 展览会编号 and 申报单位代码 ------------------------------------------


def test_save_with_only_the_save_fields_takes_the_exhibitions_name(env: TmpEnv) -> None:
    assert form.required((*form.KEY, *form.LOAN), False) == ("agentCode", "copNo", "exhibitionNo")
    (doc,) = env.submit(_save_only("L-1")).documents
    assert doc.status == "saved"
    row = _row(env, "L-1")
    year = datetime.now(CHINA_TZ).year
    assert row.pre_entry_no == f"W2900{year}0000001"
    assert row.exhibition_name == "2027中国（杭州）国际智能制造博览会"
    assert (row.customs_code, row.exhibition_no) == ("2900", EXHIBITION_NO)
    assert row.operator_name == "JC0000123456789"


@pytest.mark.parametrize("missing", ["agentCode", "exhibitionNo"])
def test_save_without_a_save_field_is_refused(env: TmpEnv, missing: str) -> None:
    data = _save_only("L-2", agent_code="") if missing == "agentCode" else None
    if data is None:
        loan = tmp.LoanList("L-2", "", goods=(), app_status="1")
        data = tmp.loan_list_message(EBC, loan)
    found = env.refused(data)
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], [missing])


DECLARE_ONLY = [n for n in form.required(form.LOAN, True) if n != "exhibitionNo"]


@pytest.mark.parametrize("missing", DECLARE_ONLY)
def test_declare_without_a_declare_field_is_refused(env: TmpEnv, missing: str) -> None:
    found = env.refused(_list("L-3", omit=frozenset({missing})))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], [missing])


def test_declare_needs_a_goods_line_save_does_not(env: TmpEnv) -> None:
    found = env.refused(tmp.loan_list_message(EBC, tmp.LoanList("L-4", EXHIBITION_NO, goods=())))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], ["LoanGoods"])
    env.submit(tmp.loan_list_message(EBC, tmp.LoanList("L-4", EXHIBITION_NO, goods=(),
                                                          app_status="1")))  # fmt: skip


def test_the_card_fields_are_the_enterprises(env: TmpEnv) -> None:
    found = env.refused(_list("L-5", values={"operatorName": "someone"}))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], ["operatorName"])


def test_loan_dates_are_real_and_in_order(env: TmpEnv) -> None:
    same = _list("L-6", values={"loanDate": "20270301", "loanDueDate": "20270301"})
    env.submit(same)
    found = env.refused(_list("L-7", values={"loanDate": "20270301", "loanDueDate": "20270228"}))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], ["loanDueDate"])
    found = env.refused(_list("L-7", values={"loanDate": "20270230"}))
    assert fields_of(found) == ["loanDate"]


# --- R-TMP-4: the exhibition -------------------------------------------------------------------


def test_unknown_another_enterprises_and_unapproved_numbers_are_refused_alike(
    env: TmpEnv,
) -> None:
    env.approved_exhibition("THEIRS-1", THEIRS, sender=CARRIER)
    pending = env.register("EXPO-2")
    env.set_status(pending, Status.STORED, exhibitionNo="ZL29002026777777")
    answers = []
    for number in ("ZL29002026000000", THEIRS, "ZL29002026777777"):
        found = env.refused(_list("L-8", exhibition_no=number))
        assert (rules_of(found), fields_of(found)) == (["R-TMP-4"], ["exhibitionNo"])
        answers.append(found[0].message)
    assert len(set(answers)) == 1  # nothing tells another's exhibition from none


def test_a_withdrawn_exhibition_takes_no_list(env: TmpEnv) -> None:
    doc = env.register("EXPO-3")
    env.set_status(doc, TmpStatus.WITHDRAWN, exhibitionNo="ZL29002026888888")
    found = env.refused(_list("L-9", exhibition_no="ZL29002026888888"))
    assert rules_of(found) == ["R-TMP-4"]


# --- R-TMP-4: the goods ------------------------------------------------------------------------


def test_goods_must_be_lines_of_the_exhibitions_declarations(env: TmpEnv) -> None:
    env.approved_exhibition("EXPO-4", "ZL29002026000999")  # its own declarations
    other = "290020261000999101"  # a line of the other exhibition's declarations
    for entry, item in ((ENTRY_1, "3"), ("290020269999999999", "1"), (other, "1")):
        found = env.refused(_list("L-10", (entry, item, "1")))
        assert (rules_of(found), fields_of(found)) == (["R-TMP-4"], ["itemNo"])
        assert "LoanGoods[1]" in found[0].field and EXHIBITION_NO in found[0].message


def test_an_item_number_needs_its_declaration_number(env: TmpEnv) -> None:
    found = env.refused(_list("L-11", ("", "1", "1")))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-4"], ["itemNo"])
    assert "报关单海关编号" in found[0].message


def test_a_line_needs_its_quantity_and_the_same_line_once(env: TmpEnv) -> None:
    found = env.refused(_list("L-12", (ENTRY_1, "1", "")))
    assert (rules_of(found), fields_of(found)) == (["R-COM-2"], ["loanQty"])
    found = env.refused(_list("L-12", (ENTRY_1, "1", "0")))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-4"], ["loanQty"])
    found = env.refused(_list("L-12", (ENTRY_1, "1", "1"), (ENTRY_1, "1", "1")))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-4"], ["itemNo"])


def test_lending_exactly_the_declared_quantity_across_two_lists(env: TmpEnv) -> None:
    env.submit(_list("L-13", (ENTRY_1, "1", "6"), (ENTRY_2, "1", "1.5")))
    env.submit(_list("L-14", (ENTRY_1, "1", "4"), (ENTRY_2, "1", "1")))  # 10 of 10, 2.5 of 2.5


def test_one_more_than_declared_across_two_lists_is_refused(env: TmpEnv) -> None:
    env.submit(_list("L-15", (ENTRY_1, "1", "6"), (ENTRY_2, "1", "1.5")))
    found = env.refused(_list("L-16", (ENTRY_1, "1", "5"), (ENTRY_2, "1", "1.00001")))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-4"] * 2, ["loanQty"] * 2)
    assert "declared 10 台, lent on other lists 6: at most 4 can be lent" in found[0].message
    assert "at most 1 can be lent" in found[1].message


def test_decimal_quantities_add_up_exactly(env: TmpEnv) -> None:
    """2.5 declared: 0.1 + 0.2 + 2.2 is exactly 2.5 (not a float's 2.5000000000000004)."""
    for cop, qty in (("L-28", "0.1"), ("L-29", "0.2"), ("L-30", "2.2")):
        env.submit(_list(cop, (ENTRY_2, "1", qty)))
    assert fields_of(env.refused(_list("L-31", (ENTRY_2, "1", "0.00001")))) == ["loanQty"]


def test_one_list_alone_may_not_lend_more_than_declared(env: TmpEnv) -> None:
    env.submit(_list("L-17", (ENTRY_1, "2", "4")))
    found = env.refused(_list("L-18", (ENTRY_1, "2", "0.00001")))
    assert fields_of(found) == ["loanQty"]


def test_modifying_a_list_does_not_count_its_own_earlier_quantities(env: TmpEnv) -> None:
    env.submit(_list("L-19", (ENTRY_1, "1", "10"), app_status="1"))
    env.submit(_list("L-19", (ENTRY_1, "1", "10"), app_type="2"))
    assert [g.qty for g in _goods_rows(env, "L-19")] == [10]


def _goods_rows(env: TmpEnv, cop_no: str) -> list[Any]:
    from sqlalchemy import select

    from gateway.temporary.models import TmpLoanGoods

    with env.db.session() as session:
        row = loans.row_of(session, EBC.code, cop_no)
        assert row is not None
        return list(
            session.scalars(select(TmpLoanGoods).where(TmpLoanGoods.loan_list_id == row.id))
        )


@pytest.mark.parametrize(
    ("state", "counts"),
    [(Status.SAVED, True), (Status.SEND_FAILED, True), (Status.STORED, True),
     (TmpStatus.APPROVED, True), (Status.STORE_FAILED, False),
     (TmpStatus.NOT_APPROVED, False)],
)  # fmt: skip
def test_which_lists_count_against_the_declared_quantity(
    env: TmpEnv, state: Status, counts: bool
) -> None:
    doc = env.submit(_list("L-20", (ENTRY_1, "1", "10"))).documents[0].id
    env.set_status(doc, state)
    data = _list("L-21", (ENTRY_1, "1", "1"))
    if counts:
        assert fields_of(env.refused(data)) == ["loanQty"]
    else:
        env.submit(data)
    assert (state in loans.NOT_COUNTED) is not counts


def test_a_deleted_draft_frees_its_quantities(env: TmpEnv) -> None:
    env.submit(_list("L-22", (ENTRY_1, "1", "10"), app_status="1"))
    gone = env.submit(_list("L-22", (ENTRY_1, "1", "10"), app_type="3", app_status="1"))
    assert gone.documents[0].status == "deleted"
    env.submit(_list("L-23", (ENTRY_1, "1", "10")))


def test_concurrent_lists_cannot_both_lend_the_last_units(tmp_path: Path, pg_url: str) -> None:
    """On PostgreSQL two lists asking 6 of 10 at once: the exhibition's lock lets one pass;
    the other sees its lines and is refused. Several rounds, one declaration line each."""
    env = make_env(tmp_path, pg_url)
    try:
        env.approved_exhibition("EXPO-PG", EXHIBITION_NO)
        rounds = [(ENTRY_1, "1", "6"), (ENTRY_1, "2", "3"), (ENTRY_2, "1", "2")]
        for n, line in enumerate(rounds):
            cops = [f"PG-{n}-a", f"PG-{n}-b"]
            with ThreadPoolExecutor(2) as pool:
                outcomes = list(pool.map(lambda cop: _outcome(env, _list(cop, line)), cops))
            assert sorted(outcomes) == ["refused", "taken"], (line, outcomes)
    finally:
        env.db.dispose()


def _outcome(env: TmpEnv, data: bytes) -> str:
    from gateway.errors import InvalidMessage

    try:
        env.submit(data)
    except InvalidMessage as exc:
        assert fields_of(list(exc.violations)) == ["loanQty"]
        return "refused"
    return "taken"


# --- R-TMP-3 for lists: edit and declare again only in the editable states ----------------------

REFUSED_STATES = sorted((set(Status) | set(TmpStatus)) - EDITABLE - {Status.DELETED})


@pytest.mark.parametrize("state", sorted(EDITABLE - {Status.SAVED}))
def test_modify_and_declare_again_in_an_editable_state(env: TmpEnv, state: Status) -> None:
    doc = env.submit(_list("L-24")).documents[0].id
    env.set_status(doc, state)
    again = env.submit(_list("L-24", app_type="2", values={"borrowerName": "另一所大学"}))
    assert again.documents[0].status == "pending_sign"
    assert _row(env, "L-24").fields["borrowerName"] == "另一所大学"


@pytest.mark.parametrize("state", REFUSED_STATES)
def test_modify_or_delete_in_any_other_state_is_refused(env: TmpEnv, state: Status) -> None:
    doc = env.submit(_list("L-25")).documents[0].id
    env.set_status(doc, state)
    for app_type in ("2", "3"):
        found = env.refused(_list("L-25", app_type=app_type))
        assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["appType"])


def test_the_operations_each_state_allows() -> None:
    for state in EDITABLE:
        assert LOAN_LIST.operations_in(state) == [Operation.MODIFY, Operation.DELETE]
    for state in REFUSED_STATES:
        assert LOAN_LIST.operations_in(state) == []


# --- the list's use of its exhibition, customs' receipt -----------------------------------------


def test_an_exhibition_with_a_list_cannot_be_deleted(env: TmpEnv) -> None:
    env.submit(_save_only("L-26"))
    deletion = tmp.deletion_message(EBC, [tmp.Deletion("EXPO-1", EXHIBITION_NO)])
    found = env.refused(deletion)
    assert (rules_of(found), fields_of(found)) == (["R-TMP-3"], ["copNo"])
    assert "in use: loaned-exhibit list L-26 (W2900" in found[0].message
    # deleted by the enterprise, the list no longer uses it
    gone = tmp.LoanList("L-26", EXHIBITION_NO, goods=(), app_type="3", app_status="1")
    env.submit(tmp.loan_list_message(EBC, gone))
    env.submit(deletion)


def test_customs_approval_gives_the_list_number(env: TmpEnv) -> None:
    doc = env.submit(_list("L-27")).documents[0].id
    env.set_status(doc, Status.STORED)
    outcome = env.receipt("TMP108Message", agentCode=EBC.code, copNo="L-27", returnStatus="2",
                          returnInfo="审核通过", loanNo="WJ29002026000001")  # fmt: skip
    assert outcome == "matched"
    assert env.status(doc) == "approved"
    with env.db.session() as session:
        from gateway.core.models import Document

        got = session.get(Document, doc)
        assert got is not None and got.customs_numbers == {"loanNo": "WJ29002026000001"}
