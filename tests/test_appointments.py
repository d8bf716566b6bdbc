"""Appointment clearance at intake: every rule R-APT-1..8 at its boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.appointments import samples as apt
from gateway.appointments.codes import AptStatus
from gateway.core.intake import check
from gateway.core.status import Status
from tests.apt_fixtures import (
    ADVANCED_CONSIGNEE,
    CARRIER,
    DISHONEST_CONSIGNEE,
    EBC,
    GENERAL_CONSIGNEE,
    UNQUALIFIED_CONSIGNEE,
    AptEnv,
    bj,
    make_env,
    rules_of,
)

SATURDAY = "2026-12-05 10:00"  # the last working day before it is Friday 12-04, ends 17:30
DIFFERENT = {"decl_port": "2901", "ie_port": "2233"}
SAME = {"decl_port": "2233", "ie_port": "2233"}
CARRIER_USCC, CARRIER_CIQ = "91330200MA2H0W0W02", "3300600002"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AptEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _request(cop_no: str, start: str = SATURDAY, **kw: object) -> bytes:
    return apt.request_message(EBC, [apt.Request(cop_no, bj(start), **kw)])  # type: ignore[arg-type]


# --- messages ----------------------------------------------------------------------------------


def test_every_appointment_message_passes_its_xsd() -> None:
    for data in (
        _request("A1", pdfs=[("a.pdf", apt.pdf())]),
        apt.cancel_message(EBC, "A1"),
        apt.feedback_message(EBC, "A1", ["2233" + "2026" + "1" * 10]),
        apt.explanation_message(EBC, "A1", pdfs=[("x.pdf", apt.pdf())]),
    ):
        assert check(data).records


def test_schema_errors_come_first_R_COM_1() -> None:
    data = (
        _request("A1")
        .replace(b"<apt:reason>", b"<apt:why>")
        .replace(b"</apt:reason>", b"</apt:why>")
    )
    from gateway.errors import InvalidMessage

    with pytest.raises(InvalidMessage) as info:
        check(data)
    assert info.value.violations[0].rule == "R-COM-1"


# --- R-APT-5 lead time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "consignee", "latest"),
    [
        (DIFFERENT, GENERAL_CONSIGNEE, "2026-12-03 17:30"),  # 24 h
        (DIFFERENT, ADVANCED_CONSIGNEE, "2026-12-04 09:30"),  # advanced: 8 h
        (SAME, GENERAL_CONSIGNEE, "2026-12-04 09:30"),  # 8 h
        (SAME, ADVANCED_CONSIGNEE, "2026-12-04 13:30"),  # advanced: 4 h
    ],
)
def test_lead_time_exact_and_one_minute_short_R_APT_5(
    env: AptEnv, ports: dict[str, str], consignee: str, latest: str
) -> None:
    env.submit(_request("EXACT", consignee=consignee, **ports), latest)
    late = bj(latest).replace(minute=bj(latest).minute + 1)
    found = env.refused(_request("LATE", consignee=consignee, **ports), late)
    assert rules_of(found) == ["R-APT-5"]
    assert found[0].field.endswith("aptStartTime") and found[0].value == "20261205100000"


def test_lower_credit_class_applies_R_APT_2(env: AptEnv) -> None:
    # The declarant (3301960Z01) is advanced; a general consignee makes the pair general.
    found = env.refused(_request("G", consignee=GENERAL_CONSIGNEE, **DIFFERENT), "2026-12-04 09:30")
    assert rules_of(found) == ["R-APT-5"] and "general credit" in found[0].message
    # The carrier (3301980W02) is general: even an advanced consignee does not help.
    msg = apt.request_message(
        CARRIER, [apt.Request("C", bj(SATURDAY), uscc=CARRIER_USCC, ciq_code=CARRIER_CIQ, **SAME)]
    )
    assert rules_of(env.refused(msg, "2026-12-04 13:30", CARRIER)) == ["R-APT-5"]
    env.submit(msg, "2026-12-04 09:30", CARRIER)


def test_weekend_between_request_and_appointment_R_APT_5(env: AptEnv) -> None:
    # Monday 06:00-08:00 (before the port opens at 08:30): the last working day is Friday,
    # 17:30; same customs, advanced: 4 h.
    env.submit(_request("MON", "2026-12-07 06:00", **SAME), "2026-12-04 13:30")
    found = env.refused(_request("MON2", "2026-12-07 06:00", **SAME), "2026-12-04 13:31")
    assert rules_of(found) == ["R-APT-5"] and "2026-12-04 17:30" in found[0].message


def test_holiday_moves_the_last_working_day_R_APT_5(env: AptEnv) -> None:
    env.load({"calendar": [{"port": "2233", "day": "2026-12-04", "working": False}]})
    # Friday is a holiday: the last working day before Saturday is Thursday, ends 17:30.
    env.submit(_request("H1", **DIFFERENT, consignee=GENERAL_CONSIGNEE), "2026-12-02 17:30")
    found = env.refused(
        _request("H2", **DIFFERENT, consignee=GENERAL_CONSIGNEE), "2026-12-02 17:31"
    )
    assert rules_of(found) == ["R-APT-5"] and "2026-12-03 17:30" in found[0].message


# --- R-APT-4 working hours ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "refused"),
    [
        ("2026-12-02 06:30", False),  # 06:30-08:30: ends as the port opens
        ("2026-12-02 06:31", True),  # 06:31-08:31: one minute into working hours
        ("2026-12-02 07:00", True),  # 07:00-09:00 (issue 16, gap 1)
        ("2026-12-02 08:29", True),  # the start alone is outside; the 2 h are not
        ("2026-12-02 08:30", True),
        ("2026-12-02 17:29", True),
        ("2026-12-02 17:30", False),
        ("2026-12-05 10:00", False),  # Saturday
    ],
)
def test_only_outside_working_hours_R_APT_4(env: AptEnv, start: str, refused: bool) -> None:
    """The whole appointment time, start to start + 2 h, must be non-working time."""
    data = _request("W", start, **SAME)
    if refused:
        found = env.refused(data, "2026-11-20 09:00")
        assert rules_of(found) == ["R-APT-4"] and found[0].value == bj(start).strftime(
            "%Y%m%d%H%M%S"
        )
    else:
        env.submit(data, "2026-11-20 09:00")


def test_a_weekday_holiday_can_be_booked_R_APT_4(env: AptEnv) -> None:
    env.load({"calendar": [{"port": "2233", "day": "2026-12-02", "working": False}]})
    env.submit(_request("HOL", "2026-12-02 10:00", **SAME), "2026-11-20 09:00")


@pytest.mark.parametrize(("opens", "refused"), [("00:59", True), ("01:00", False)])
def test_a_window_across_midnight_into_working_hours_R_APT_4(
    env: AptEnv, opens: str, refused: bool
) -> None:
    # Sunday 23:00-Monday 01:00; on this Monday the port works from `opens`.
    env.load({"calendar": [{"port": "2233", "day": "2026-12-07", "working": True,
                            "work_start": opens, "work_end": "17:30"}]})  # fmt: skip
    data = _request("MID", "2026-12-06 23:00", **SAME)
    if refused:
        found = env.refused(data, "2026-11-20 09:00")
        assert rules_of(found) == ["R-APT-4"] and "2026-12-07 00:59" in found[0].message
    else:
        env.submit(data, "2026-11-20 09:00")


# --- R-APT-1 fields ----------------------------------------------------------------------------


def test_ports_hs_codes_and_end_time_R_APT_1(env: AptEnv) -> None:
    data = _request(
        "F",
        decl_port="22A3",
        ie_port="9999",
        goods=[("060", "花"), ("0603", "鲜的玫瑰"), ("0604", "苔藓")],
        end="20261205130000",
    )
    found = env.refused(data, "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-1"] * 5
    got = {(v.field.rsplit("/", 1)[-1], v.value) for v in found}
    assert got == {
        ("declPort", "22A3"),
        ("iePort", "9999"),
        ("aptEndTime", "20261205130000"),
        ("hsCode", "060"),
        ("hsCode", "0604"),
    }


def test_end_time_is_start_plus_two_hours_R_APT_1(env: AptEnv) -> None:
    env.submit(_request("E", end="20261205120000"), "2026-11-20 09:00")


def test_goods_names_4000_characters_in_total_R_APT_1(env: AptEnv) -> None:
    names = [("0603110000", "玫" * 2000), ("0603190000", "菊" * 2000)]
    env.submit(_request("N1", goods=names), "2026-11-20 09:00")
    found = env.refused(_request("N2", goods=[*names, ("0805100000", "橙")]), "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-1"] and found[0].value == "4001"


def test_at_most_five_pdfs_R_APT_1(env: AptEnv) -> None:
    five = [(f"f{n}.pdf", apt.pdf()) for n in range(5)]
    env.submit(_request("P5", pdfs=five), "2026-11-20 09:00")
    found = env.refused(_request("P6", pdfs=[*five, ("f5.pdf", apt.pdf())]), "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-1"] and found[0].value == "6"


def test_pdf_only_and_200_kb_per_page_R_APT_1(env: AptEnv) -> None:
    env.submit(_request("PG1", pdfs=[("a.pdf", apt.pdf(1, 200 * 1024))]), "2026-11-20 09:00")
    found = env.refused(
        _request(
            "PG2",
            pdfs=[("a.pdf", apt.pdf(1, 200 * 1024 + 1)), ("b.docx", b"PK\x03\x04 not a pdf")],
        ),
        "2026-11-20 09:00",
    )
    assert rules_of(found) == ["R-APT-1", "R-APT-1"]
    assert {v.value for v in found} == {str(200 * 1024 + 1), "b.docx"}


def test_pdf_at_most_4_mb_R_APT_1(env: AptEnv) -> None:
    limit = 4 * 1024 * 1024
    env.submit(_request("MB1", pdfs=[("a.pdf", apt.pdf(21, limit))]), "2026-11-20 09:00")
    found = env.refused(
        _request("MB2", pdfs=[("a.pdf", apt.pdf(21, limit + 1))]), "2026-11-20 09:00"
    )
    assert rules_of(found) == ["R-APT-1"] and found[0].value == str(limit + 1)


def test_declarant_codes_are_the_registered_ones_R_APT_1(env: AptEnv) -> None:
    found = env.refused(_request("U", uscc="91330100MA2H0Z0Z99"), "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-1"] and found[0].value == "91330100MA2H0Z0Z99"
    assert found[0].field.endswith("declarantUscc")


def test_declarant_is_the_authenticated_enterprise_R_COM_3(env: AptEnv) -> None:
    msg = apt.request_message(CARRIER, [apt.Request("X", bj(SATURDAY))])
    found = env.refused(msg, "2026-11-20 09:00", EBC)
    assert "R-COM-3" in rules_of(found)


# --- R-APT-2 / R-APT-3 -------------------------------------------------------------------------


def test_dishonest_consignee_refused_R_APT_2(env: AptEnv) -> None:
    found = env.refused(_request("D", consignee=DISHONEST_CONSIGNEE), "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-2"]
    assert "失信企业不允许操作" in found[0].message and found[0].value == DISHONEST_CONSIGNEE


def test_dishonest_declarant_refused_even_for_a_save_R_APT_2(env: AptEnv) -> None:
    row = {"code": EBC.code, "uscc": "91330100MA2H0Z0Z01", "ciq_code": "3300600001",
           "name": EBC.name, "credit_class": "advanced", "dishonest": True}  # fmt: skip
    env.load({"enterprises": [row]})
    found = env.refused(_request("D", app_status="1"), "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-2"] and found[0].value == EBC.code


def test_no_declaration_qualification_R_APT_3(env: AptEnv) -> None:
    found = env.refused(_request("Q", consignee=UNQUALIFIED_CONSIGNEE), "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-3"] and found[0].value == UNQUALIFIED_CONSIGNEE


@pytest.mark.parametrize("blocking", [AptStatus.CLEARED_NO_FEEDBACK])
def test_cleared_without_feedback_blocks_new_appointments_R_APT_3(
    env: AptEnv, blocking: Status
) -> None:
    first = env.request("B1", SATURDAY, "2026-11-20 09:00", consignee=GENERAL_CONSIGNEE)
    env.set_status(first, blocking)
    # blocked as declarant (any consignee) …
    found = env.refused(_request("B2"), "2026-11-20 09:00")
    assert rules_of(found) == ["R-APT-3"] and "B1" in found[0].message
    # … and another declarant is blocked through the consignee
    msg = apt.request_message(
        CARRIER,
        [
            apt.Request(
                "B3",
                bj(SATURDAY),
                consignee=GENERAL_CONSIGNEE,
                uscc=CARRIER_USCC,
                ciq_code=CARRIER_CIQ,
            )
        ],
    )
    found = env.refused(msg, "2026-11-20 09:00", CARRIER)
    assert rules_of(found) == ["R-APT-3"] and found[0].value == GENERAL_CONSIGNEE
    env.set_status(first, AptStatus.EXPLAINED)
    env.submit(_request("B2"), "2026-11-20 09:00")


# --- R-APT-7 cancellation ----------------------------------------------------------------------


@pytest.mark.parametrize("state", [AptStatus.ACCEPTED, AptStatus.BOOKED])
def test_cancel_one_minute_before_and_at_the_time_R_APT_7(env: AptEnv, state: Status) -> None:
    doc = env.request("C1", SATURDAY, "2026-11-20 09:00")
    env.set_status(doc, state)
    found = env.refused(apt.cancel_message(EBC, "C1"), SATURDAY)
    assert rules_of(found) == ["R-APT-7"] and found[0].value == "20261205100000"
    env.submit(apt.cancel_message(EBC, "C1"), "2026-12-05 09:59")


@pytest.mark.parametrize("state", [Status.SENT, Status.RETURNED, AptStatus.CANCELLED])
def test_cancel_refused_unless_accepted_or_booked_R_APT_7(env: AptEnv, state: Status) -> None:
    doc = env.request("C2", SATURDAY, "2026-11-20 09:00")
    env.set_status(doc, state)
    found = env.refused(apt.cancel_message(EBC, "C2"), "2026-12-01 09:00")
    assert rules_of(found) == ["R-APT-7"] and found[0].value == state.value


def test_cancel_of_an_unknown_appointment_R_APT_7(env: AptEnv) -> None:
    found = env.refused(apt.cancel_message(EBC, "NOPE"), "2026-12-01 09:00")
    assert rules_of(found) == ["R-APT-7"] and found[0].value == "NOPE"


# --- R-APT-6 feedback --------------------------------------------------------------------------


def _entry(n: int) -> str:
    return f"2233{2026:04d}{n:010d}"


def _declarations(env: AptEnv, count: int, **over: str) -> list[str]:
    rows = [
        {"entry_id": _entry(n), "ie_flag": "I", "declarant_code": EBC.code,
         "consignee_code": ADVANCED_CONSIGNEE, "decl_port": "2233", "ie_port": "2233",
         "declared_at": "2026-12-05 11:00", **over}
        for n in range(1, count + 1)
    ]  # fmt: skip
    env.load({"declarations": rows})
    return [r["entry_id"] for r in rows]


def _booked(env: AptEnv, cop_no: str = "FB") -> int:
    doc = env.request(cop_no, SATURDAY, "2026-11-20 09:00", **SAME)
    env.set_status(doc, AptStatus.BOOKED)
    return doc


def test_fifty_numbers_accepted_the_51st_refused_R_APT_6(env: AptEnv) -> None:
    _booked(env, "F50")
    _booked(env, "F51")
    entries = _declarations(env, 51)
    env.submit(apt.feedback_message(EBC, "F50", entries[:50]), "2026-12-06 09:00")
    found = env.refused(apt.feedback_message(EBC, "F51", entries), "2026-12-06 09:00")
    assert rules_of(found) == ["R-APT-6"] and found[0].value == entries[50]


def test_feedback_must_match_the_appointment_R_APT_6(env: AptEnv) -> None:
    _booked(env)
    ok = _declarations(env, 1)
    env.load({"declarations": [
        {"entry_id": _entry(90), "ie_flag": "E", "declarant_code": EBC.code,
         "consignee_code": GENERAL_CONSIGNEE, "decl_port": "2901", "ie_port": "2248",
         "declared_at": "2026-11-19 10:00"},
    ]})  # fmt: skip
    entries = [*ok, _entry(90), "12345", _entry(91)]
    found = env.refused(apt.feedback_message(EBC, "FB", entries), "2026-12-06 09:00")
    assert set(rules_of(found)) == {"R-APT-6"}
    messages = " | ".join(v.message for v in found)
    for what in ("I/E flag", "consignee", "declaring port", "I/E port", "not after", "18-digit",
                 "knows no declaration"):  # fmt: skip
        assert what in messages
    assert ok[0] not in {v.value for v in found}


def test_feedback_only_after_approval_R_APT_6(env: AptEnv) -> None:
    doc = env.request("FA", SATURDAY, "2026-11-20 09:00", **SAME)
    env.set_status(doc, AptStatus.ACCEPTED)
    found = env.refused(apt.feedback_message(EBC, "FA", _declarations(env, 1)), "2026-12-06 09:00")
    assert rules_of(found) == ["R-APT-6"] and found[0].value == "accepted"


# --- R-APT-8 explanation -----------------------------------------------------------------------


def test_explanation_once_only_with_one_pdf_R_APT_8(env: AptEnv) -> None:
    _booked(env, "X1")
    two = [("a.pdf", apt.pdf()), ("b.pdf", apt.pdf())]
    found = env.refused(apt.explanation_message(EBC, "X1", pdfs=two), "2026-12-11 09:00")
    assert rules_of(found) == ["R-APT-8"] and found[0].value == "2"
    env.submit(apt.explanation_message(EBC, "X1", pdfs=two[:1]), "2026-12-11 09:00")
    found = env.refused(apt.explanation_message(EBC, "X1"), "2026-12-11 09:30")
    assert rules_of(found) == ["R-APT-8"] and "once" in found[0].message


def test_no_explanation_before_approval_or_after_feedback_R_APT_8(env: AptEnv) -> None:
    doc = env.request("X2", SATURDAY, "2026-11-20 09:00", **SAME)
    found = env.refused(apt.explanation_message(EBC, "X2"), "2026-12-11 09:00")
    assert rules_of(found) == ["R-APT-8"] and found[0].value == "pending_sign"
    env.set_status(doc, AptStatus.BOOKED)
    env.submit(apt.feedback_message(EBC, "X2", _declarations(env, 1)), "2026-12-06 09:00")
    found = env.refused(apt.explanation_message(EBC, "X2"), "2026-12-11 09:00")
    assert rules_of(found) == ["R-APT-8"] and "fed back" in found[0].message


# --- save, modify, declare ---------------------------------------------------------------------


def test_saved_then_modified_and_declared_but_a_returned_one_is_not_modified(
    env: AptEnv,
) -> None:
    """Manual 003 §4.2: "可以修改“暂存”状态的信息后重新申报" — 暂存 only, not 退单."""
    from gateway.appointments.rules import find_target

    doc = env.request("M1", SATURDAY, "2026-11-20 09:00", app_status="1")
    assert env.status(doc) == "saved"
    # a save is not held to the clock: declaring it later is
    found = env.refused(_request("M1"), "2026-12-04 17:00")
    assert rules_of(found) == ["R-APT-5"]
    env.submit(_request("M1", "2026-12-12 10:00", app_type="2", app_status="1"), "2026-11-27 09:00")
    assert env.status(doc) == "saved"
    env.submit(_request("M1", "2026-12-12 10:00", app_type="2"), "2026-11-28 09:00")
    with env.db.session() as session:
        target = find_target(session, EBC.code, "M1")
        assert target is not None and target.document.id == doc
        assert target.appointment.start_at == bj("2026-12-12 10:00")
        assert target.appointment.submitted_at == bj("2026-11-28 09:00")
        assert target.appointment.applied_at == bj("2026-11-20 09:00")
    env.set_status(doc, Status.RETURNED)
    for app_type in ("2", "3"):
        found = env.refused(
            _request("M1", "2026-12-19 10:00", app_type=app_type), "2026-11-29 09:00"
        )
        assert rules_of(found) == ["R-COM-5"] and found[0].value == app_type
        assert "is returned" in found[0].message and "saved" in found[0].message


@pytest.mark.parametrize(
    ("state", "modifiable"),
    [
        (Status.SAVED, True),
        (Status.SIGNING_FAILED, True),  # never reached customs: still the saved draft
        (Status.SEND_FAILED, True),
        (Status.RETURNED, False),  # 退单
        (Status.CUSTOMS_SEND_FAILED, False),
        (Status.STORE_FAILED, False),
        (Status.FORMAT_FAILED, False),
        (AptStatus.ACCEPTED, False),
        (AptStatus.BOOKED, False),
    ],
)
def test_modify_and_delete_only_where_the_manual_allows_R_COM_5(
    env: AptEnv, state: Status, modifiable: bool
) -> None:
    doc = env.request("MS", SATURDAY, "2026-11-20 09:00", app_status="1")
    if state is not Status.SAVED:
        env.set_status(doc, state)
    modify = _request("MS", "2026-12-12 10:00", app_type="2", app_status="1")
    if modifiable:
        env.submit(modify, "2026-11-21 09:00")
        env.submit(_request("MS", app_type="3"), "2026-11-21 09:30")
        assert env.status(doc) == "deleted"
        return
    assert rules_of(env.refused(modify, "2026-11-21 09:00")) == ["R-COM-5"]
    assert rules_of(env.refused(_request("MS", app_type="3"), "2026-11-21 09:30")) == ["R-COM-5"]


def test_cancel_needs_no_reason_R_APT_7(env: AptEnv) -> None:
    """Manual 003 §4.1: 取消预约 is a button that asks no reason."""
    for cop_no, reason in (("C3", None), ("C4", "航班取消")):
        doc = env.request(cop_no, SATURDAY, "2026-11-20 09:00")
        env.set_status(doc, AptStatus.BOOKED)
        env.submit(apt.cancel_message(EBC, cop_no, reason=reason), "2026-12-01 09:00")
