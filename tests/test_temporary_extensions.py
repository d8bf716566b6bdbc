"""The extension (延期申报, R-TMP-6): the confirmation it names, the date it asks, its Y number,
and customs' answer moving the confirmation's date (an overdue one approved again, R-TMP-7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from gateway.codes import CHINA_TZ
from gateway.core.status import Status
from gateway.temporary import confirmations, deadlines, extensions
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpStatus
from tests.temporary_fixtures import CARRIER, EBC, TmpEnv, fields_of, make_env, rules_of

DUE = "20270331"
QR = "QR29002027000001"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _conf(env: TmpEnv, cop_no: str, status: object = TmpStatus.APPROVED, number: str = QR,
          sender: object = EBC) -> int:  # fmt: skip
    values = {"ieDate": "20270101", "returnDate": DUE}
    msg = tmp.confirmation_message(sender, [tmp.Confirmation(cop_no, values=values)])  # type: ignore[arg-type]
    doc = env.submit(msg, sender).documents[0].id  # type: ignore[arg-type]
    env.set_status(doc, status, confirmNo=number)  # type: ignore[arg-type]
    return doc


def _ext(cop_no: str, date: str, number: str = QR, **kw: object) -> bytes:
    return tmp.extension_message(EBC, [tmp.Extension(cop_no, number, date, **kw)])  # type: ignore[arg-type]


def _row(env: TmpEnv, cop_no: str) -> extensions.TmpExtension:
    with env.db.session() as session:
        row = extensions.row_of(session, EBC.code, cop_no)
        assert row is not None
        session.expunge(row)
        return row


def _due(env: TmpEnv, cop_no: str) -> str:
    with env.db.session() as session:
        row = confirmations.row_of(session, EBC.code, cop_no)
        assert row is not None
        return row.return_date


def test_one_day_after_the_current_date_is_taken_with_a_y_number(env: TmpEnv) -> None:
    _conf(env, "C1")
    env.submit(_ext("E1", "20270401"))
    row = _row(env, "E1")
    year = datetime.now(CHINA_TZ).year
    assert row.pre_entry_no == f"Y2900{year}0000001"
    assert (row.confirm_no, row.extend_date, row.previous_date) == (QR, "20270401", DUE)
    assert row.approval_no == "1122-34"


@pytest.mark.parametrize("date", [DUE, "20270330"])
def test_a_date_not_after_the_current_one_is_refused(env: TmpEnv, date: str) -> None:
    _conf(env, "C1")
    found = env.refused(_ext("E1", date))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-6"], ["extendDate"])
    assert DUE in found[0].message


def test_the_date_is_a_real_day(env: TmpEnv) -> None:
    _conf(env, "C1")
    found = env.refused(_ext("E1", "20270431"))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-1"], ["extendDate"])


REFUSED = sorted(
    (set(Status) | set(TmpStatus)) - {TmpStatus.APPROVED, TmpStatus.RETURN_OVERDUE}, key=str
)


@pytest.mark.parametrize("state", REFUSED)
def test_a_confirmation_in_any_other_state_is_refused(env: TmpEnv, state: object) -> None:
    _conf(env, "C1", state)
    found = env.refused(_ext("E1", "20270401"))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-6"], ["confirmNo"])


def test_an_overdue_confirmation_may_be_extended(env: TmpEnv) -> None:
    _conf(env, "C1", TmpStatus.RETURN_OVERDUE)
    env.submit(_ext("E1", "20270401"))


def test_unknown_and_anothers_confirmations_are_refused_alike(env: TmpEnv) -> None:
    _conf(env, "THEIRS", sender=CARRIER, number="QR29002027000009")
    unknown = env.refused(_ext("E1", "20270401", "QR29002027999999"))
    theirs = env.refused(_ext("E1", "20270401", "QR29002027000009"))
    assert [(v.rule, v.field, v.message) for v in unknown] == [
        (v.rule, v.field, v.message) for v in theirs
    ]
    assert fields_of(unknown) == ["confirmNo"] and rules_of(unknown) == ["R-TMP-6"]


def test_declare_needs_the_confirmation_date_approval_and_reason(env: TmpEnv) -> None:
    _conf(env, "C1")
    for name in ("confirmNo", "extendDate", "approvalNo", "reason"):
        found = env.refused(_ext("E1", "20270401", omit=frozenset({name})))
        assert (rules_of(found), fields_of(found)) == (["R-COM-2"], [name])
    saved = _ext("E1", "", "", app_status="1", omit=frozenset({"approvalNo", "reason"}))
    env.submit(saved)  # a save needs only 申请海关
    assert _row(env, "E1").pre_entry_no.startswith("Y2900")


def test_a_second_extension_is_refused_while_one_is_with_customs(env: TmpEnv) -> None:
    """R-TMP-6: one pending extension per confirmation; a save may wait, a declare may not;
    once customs answered the first, the second is declared (against the moved date)."""
    _conf(env, "C1")
    first = env.submit(_ext("E1", "20270501")).documents[0].id
    env.set_status(first, Status.STORED)
    found = env.refused(_ext("E2", "20270601"))
    assert (rules_of(found), fields_of(found)) == (["R-TMP-6"], ["confirmNo"])
    assert "still with customs" in found[0].message and "E1" in found[0].message
    env.submit(_ext("E2", "20270601", app_status="1"))  # a draft is not pending
    _answer(env, "E1", "2", "同意延期", allowedDate="20270501")
    env.submit(_ext("E2", "20270601", app_type="2"))
    assert _row(env, "E2").previous_date == "20270501"


def test_a_refused_extension_is_not_pending(env: TmpEnv) -> None:
    _conf(env, "C1")
    first = env.submit(_ext("E1", "20270501")).documents[0].id
    env.set_status(first, Status.STORED)
    _answer(env, "E1", "3", "审核不通过: 批文号不符")
    env.submit(_ext("E2", "20270601"))


def _answer(env: TmpEnv, cop_no: str, status: str, info: str, **more: str) -> str:
    return env.receipt("TMP112Message", agentCode=EBC.code, copNo=cop_no, returnStatus=status,
                       returnInfo=info, **more)  # fmt: skip


def test_approval_moves_the_confirmations_date_to_the_allowed_one(env: TmpEnv) -> None:
    _conf(env, "C1")
    doc = env.submit(_ext("E1", "20270601")).documents[0].id
    env.set_status(doc, Status.STORED)
    assert _answer(env, "E1", "2", "同意延期至20270501", allowedDate="20270501") == "matched"
    assert env.status(doc) == "approved"
    assert _row(env, "E1").allowed_date == "20270501"
    assert _due(env, "C1") == "20270501"


def test_a_refused_extension_leaves_the_date(env: TmpEnv) -> None:
    _conf(env, "C1")
    doc = env.submit(_ext("E1", "20270601")).documents[0].id
    env.set_status(doc, Status.STORED)
    _answer(env, "E1", "3", "审核不通过: 批文号不符")
    assert env.status(doc) == "not_approved" and _due(env, "C1") == DUE
    assert _row(env, "E1").review_remarks == "审核不通过: 批文号不符"


def test_an_approved_extension_ends_overdue_and_the_job_reminds_anew(env: TmpEnv) -> None:
    conf = _conf(env, "C1")
    after = datetime(2027, 4, 1, tzinfo=CHINA_TZ)
    assert deadlines.run_deadlines(env.db, after, None, (7,)).overdue == (f"{EBC.code}|C1",)
    doc = env.submit(_ext("E1", "20270430")).documents[0].id
    env.set_status(doc, Status.STORED)
    _answer(env, "E1", "2", "同意延期", allowedDate="20270430")
    assert env.status(conf) == "approved" and _due(env, "C1") == "20270430"
    run = deadlines.run_deadlines(env.db, datetime(2027, 4, 23, tzinfo=CHINA_TZ), None, (7,))
    assert run == deadlines.DeadlineRun((f"{EBC.code}|C1",), ())


@pytest.mark.parametrize(
    ("asked", "allowed"),
    [("20280101", "20280101"), ("20280102", "20280101"), ("20270601", "20270601")],
)
def test_the_simulated_customs_allows_at_most_a_year_after_the_ie_date(
    asked: str, allowed: str
) -> None:
    from gateway.temporary import sim

    assert sim.allowed_date("20270101", asked) == allowed  # 2027 has 365 days


# --- the messages: XSD, receipt, documentation -----------------------------------------------


def test_the_xsd_declares_the_form_table_and_the_sample_passes_it() -> None:
    from lxml import etree

    from gateway.core import registry
    from gateway.temporary import fields as form
    from gateway.temporary import kinds
    from schemas import loader
    from tests.test_temporary_messages import _group

    assert _group("ExtensionForm") == [(f.name, f"tmp:{f.xsd}") for f in form.EXTENSION]
    root = etree.fromstring(_ext("X-1", "20270401"))
    assert loader.validate(root) == []
    assert registry.for_message(loader.message_type(root)) is kinds.EXTENSION


def test_the_receipt_passes_its_xsd_and_parses_back() -> None:
    from lxml import etree

    from gateway.core import registry
    from gateway.temporary import receipts
    from receipts.parse import parse_receipt
    from schemas import loader

    entity = {"agentCode": EBC.code, "copNo": "R1", "returnStatus": "2", "returnInfo": "同意",
              "allowedDate": "20270501"}  # fmt: skip
    body = receipts.build("TMP112Message", [entity], 1_790_000_000.0)
    assert loader.validate(etree.fromstring(body)) == []
    (parsed,) = parse_receipt(body).entities
    kind = registry.for_receipt_entity(parsed.kind)
    assert kind is not None and kind.name == "tmp_extension"
    assert parsed.key(kind.key_fields)[:2] == (EBC.code, "R1")


def test_the_documentation_names_every_element() -> None:
    from gateway.temporary import fields as form

    doc = (Path(__file__).resolve().parents[1] / "docs/temporary-messages.md").read_text("utf-8")
    for f in form.EXTENSION:
        assert f"`{f.name}`" in doc, f.name
    for name in ("TMP111Message", "TMP112Message", "`allowedDate`", "T401", "T402"):
        assert name in doc, name


# --- the simulated customs ---------------------------------------------------------------------


@pytest.fixture
def customs(tmp_path: Path) -> Iterator[object]:
    from sqlalchemy.orm import Session

    from gateway.core.customs_sim.state import SimBase
    from gateway.core.db import Database

    db = Database(f"sqlite:///{tmp_path / 'sim.db'}")
    SimBase.metadata.create_all(db.engine)
    with Session(db.engine) as session:
        yield session
    db.dispose()


def _customs_ext(customs: object, number: str, date: str) -> list[tuple[str, str, str]]:
    from tests.test_temporary_messages import _answers

    data = tmp.extension_message(EBC, [tmp.Extension("E-1", number, date)])
    return _answers(customs, "tmp_extension", data)  # type: ignore[arg-type]


def _customs_approved(customs: object) -> str:
    """Customs approves confirmation Q-1 (I/E 20270101, back by 20270331); its number."""
    from gateway.temporary import sim
    from tests.test_temporary_messages import _answers

    values = {"ieDate": "20270101", "returnDate": "20270331"}
    data = tmp.confirmation_message(EBC, [tmp.Confirmation("Q-1", values=values)])
    _answers(customs, "tmp_confirmation", data)  # type: ignore[arg-type]
    return sim.confirm_no("2900", f"{EBC.code}|Q-1")


def test_customs_allows_at_most_a_year_then_refuses_more(customs: object) -> None:
    number = _customs_approved(customs)
    stored, approved = _customs_ext(customs, number, "20290101")
    assert (stored[:2], approved[:2]) == (("TMP112Message", "1"), ("TMP112Message", "2"))
    # ieDate + 365 days, less than asked, and the answer says why
    assert approved[2] == "同意延期至20280101 (申请期限20290101超过最长期限: 进出境日期起365天)"
    stored, refused = _customs_ext(customs, number, "20280102")  # the maximum reached
    assert stored[1] == "1" and refused[1] == "3" and "T402" in refused[2]
    assert "已达最长期限20280101" in refused[2]


def test_customs_refuses_a_date_not_after_the_one_it_holds(customs: object) -> None:
    number = _customs_approved(customs)
    _stored, refused = _customs_ext(customs, number, "20270331")
    assert refused[1] == "3" and "T403" in refused[2] and "20270331" in refused[2]


def test_customs_allows_the_date_asked_within_the_year(customs: object) -> None:
    number = _customs_approved(customs)
    _stored, approved = _customs_ext(customs, number, "20270401")
    assert approved[1:] == ("2", "同意延期至20270401")


def test_customs_cannot_store_one_of_a_confirmation_it_did_not_approve_or_closed(
    customs: object,
) -> None:
    from gateway.temporary import sim

    ((_t, status, info),) = _customs_ext(customs, "QR29002027000000", "20270401")
    assert status == "-1" and "T401" in info
    number = _customs_approved(customs)
    sim.close(customs, f"{EBC.code}|Q-1", "20270320", at=1_790_000_000.0)  # type: ignore[arg-type]
    ((_t, status, info),) = _customs_ext(customs, number, "20270401")
    assert status == "-1" and "T401" in info and number in info


def test_customs_cannot_store_one_of_anothers_confirmation(customs: object) -> None:
    from tests.test_temporary_messages import _answers

    number = _customs_approved(customs)
    data = tmp.extension_message(CARRIER, [tmp.Extension("E-9", number, "20270401")])
    ((_t, status, info),) = _answers(customs, "tmp_extension", data)  # type: ignore[arg-type]
    assert status == "-1" and "T401" in info
