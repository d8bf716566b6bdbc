"""Declaring at the terminal and what follows (R-BDR-4..8, R-COM-5), on a real database with
the core's intake: the biometric rule asked of the gate (and skipped where it says so), a
failure refusing with its reason in the history and no biometric data, representatives
waiting for their delegating residents (refusal, retry, all passed → declared; timeout →
认证超时), change / revoke / copy / modify / delete by the manual's states."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.border import declarations as d
from gateway.border import messages, samples, store
from gateway.border.codes import BdrStatus, BusinessMode, DeclType, Form, TransportMode
from gateway.border.identity import BiometricMethod
from gateway.border.models import BrdDeclaration
from gateway.core import registry
from gateway.core.models import Message, utcnow
from gateway.core.status import Status
from gateway.errors import BiometricRefused, ConfigError, InvalidMessage, NotFound, StateConflict
from tests.border_fixtures import BorderEnv, ScriptedGate, make_env, prepare

registry.ensure_installed()


@pytest.fixture
def env(tmp_path: Path) -> BorderEnv:
    return make_env(tmp_path)


def _declare(env: BorderEnv, form: Form = Form.ENTRY, who=None, gate=None, **kw):
    values = samples.entry_form(**kw) if form is Form.ENTRY else samples.import_form(**kw)
    return d.declare(
        env.db, env.intake, who or samples.resident(), form, values, gate or ScriptedGate()
    )


def _signed_xml(env: BorderEnv, record_id: int) -> bytes:
    with env.db.session() as session:
        msg = session.scalars(select(Message).order_by(Message.id.desc())).first()
        assert msg is not None
        return bytes(msg.original)


def test_a_residents_own_entry_is_declared_with_the_check_passed(env: BorderEnv) -> None:
    gate = ScriptedGate()
    done = _declare(env, gate=gate, mode=BusinessMode.LANDED_PROCESSING)
    assert done.status == Status.PENDING_SIGN  # 已申报: the core signs and sends it
    assert done.pre_entry_no.startswith(f"{utcnow().year:04d}01") and len(done.pre_entry_no) == 18
    assert gate.asked == [("T-860901-01", BiometricMethod.FACE)]  # the place's method
    xml = _signed_xml(env, done.record_id)
    assert b"<bdr:method>face</bdr:method>" in xml and b"<bdr:passed>Y</bdr:passed>" in xml
    assert samples.RESIDENT_ID.encode() in xml  # customs gets the full number


@pytest.mark.parametrize(
    "mode,transport",
    [
        (BusinessMode.IN_ZONE, TransportMode.ROAD),
        (BusinessMode.ORIGINAL_REMOVAL, TransportMode.RAIL),
        (BusinessMode.LANDED_PROCESSING, TransportMode.WATER),
    ],
)
def test_entries_the_rule_skips_are_declared_unasked(env: BorderEnv, mode, transport) -> None:
    gate = ScriptedGate([False])  # would refuse if asked
    done = _declare(env, gate=gate, mode=mode, transport=transport)
    assert gate.asked == [] and done.biometric == "skipped"
    assert done.status == Status.PENDING_SIGN
    assert b"BiometricCheck" not in _signed_xml(env, done.record_id)


def test_an_import_asks_the_fingerprint_where_the_place_uses_it(env: BorderEnv) -> None:
    prepare(env.db, BiometricMethod.FINGERPRINT)
    gate = ScriptedGate()
    _declare(env, Form.IMPORT, gate=gate, mode=BusinessMode.IN_ZONE)
    assert gate.asked == [("T-860901-01", BiometricMethod.FINGERPRINT)]


def test_a_failed_check_refuses_and_is_told_in_history(env: BorderEnv) -> None:
    with pytest.raises(BiometricRefused) as info:
        _declare(env, Form.IMPORT, gate=ScriptedGate([False]))
    assert info.value.violations[0].rule == "R-BDR-6"
    record_id = int(str(info.value).split("record ")[1].split(" ")[0])
    assert env.status(record_id) == Status.SAVED  # kept as a draft, nothing sent
    history = env.history(record_id)
    assert "face check did not pass after 3 attempt(s): 人脸比对不一致" in history[-1]
    with env.db.session() as session:
        assert session.scalar(select(Message).where(Message.state == "pending_sign")) is None

    # declared again from the draft (修改 → 申报): passed now, same record and number
    again = d.declare(
        env.db,
        env.intake,
        samples.resident(),
        Form.IMPORT,
        samples.import_form(),
        ScriptedGate(),
        record_id=record_id,
    )
    assert again.record_id == record_id and again.status == Status.PENDING_SIGN


def test_a_failed_check_on_a_returned_record_keeps_its_status(env: BorderEnv) -> None:
    done = _declare(env, Form.IMPORT)
    env.set_status(done.record_id, Status.RETURNED)
    with pytest.raises(BiometricRefused):
        d.declare(
            env.db,
            env.intake,
            samples.resident(),
            Form.IMPORT,
            samples.import_form(),
            ScriptedGate([False]),
            record_id=done.record_id,
        )
    assert env.status(done.record_id) == Status.RETURNED
    assert "did not pass" in env.history(done.record_id)[-1]


def test_the_form_is_refused_before_anyone_is_asked(env: BorderEnv) -> None:
    gate = ScriptedGate()
    goods = [samples.goods_line(1, "9999")]  # not in the catalogue
    with pytest.raises(InvalidMessage) as info:
        _declare(env, gate=gate, goods=goods)
    assert gate.asked == []
    (bad,) = info.value.violations
    assert bad.rule == store.CATALOGUE_RULE and bad.field.endswith("EntryGoods[1]/goodsCode")


def test_the_declarant_fields_come_from_the_session(env: BorderEnv) -> None:
    values = samples.entry_form(idNumber="110101199001011234", declarantName="冒名")
    done = d.declare(env.db, env.intake, samples.resident(), Form.ENTRY, values, ScriptedGate())
    with env.db.session() as session:
        row = store.row(session, done.pre_entry_no)
        assert row is not None
        assert row.id_number == samples.RESIDENT_ID and row.declarant_name == "岩温"


def test_a_representatives_import_waits_for_every_resident(env: BorderEnv) -> None:
    done = _declare(env, Form.IMPORT, who=samples.representative(), transport=TransportMode.RAIL)
    assert done.status == BdrStatus.PENDING_AUTH  # any transport for an import
    first, second = samples.MEMBER_IDS
    refused = d.delegate_authenticated(env.db, done.record_id, first, False)
    assert refused.status == BdrStatus.PENDING_AUTH
    assert "532*****317 failed face authentication (attempt 1)" in env.history(done.record_id)[-1]
    d.delegate_authenticated(env.db, done.record_id, first, True)  # retried
    assert env.status(done.record_id) == BdrStatus.PENDING_AUTH
    with pytest.raises(NotFound):  # not one of the declaration's residents
        d.delegate_authenticated(env.db, done.record_id, "110101199001011234", True)
    sent = d.delegate_authenticated(env.db, done.record_id, second, True)
    assert sent.status == Status.PENDING_SIGN
    xml = _signed_xml(env, done.record_id)
    assert xml.count(b"<bdr:authenticatedAt>") == 2
    with pytest.raises(StateConflict):  # no longer waiting
        d.delegate_authenticated(env.db, done.record_id, first, True)
    history = "\n".join(env.history(done.record_id))
    assert samples.MEMBER_IDS[0] not in history  # masked in the history


def test_a_representatives_entry_by_rail_goes_straight_on(env: BorderEnv) -> None:
    done = _declare(
        env,
        Form.ENTRY,
        who=samples.cooperative(),
        transport=TransportMode.RAIL,
        mode=BusinessMode.ORIGINAL_REMOVAL,
    )
    assert done.status == Status.PENDING_SIGN
    road = _declare(env, Form.ENTRY, who=samples.cooperative(), transport=TransportMode.OTHER)
    assert road.status == BdrStatus.PENDING_AUTH


def test_authentication_times_out_and_can_be_declared_again(env: BorderEnv) -> None:
    done = _declare(env, Form.IMPORT, who=samples.representative())
    assert d.expire(env.db, utcnow() + timedelta(hours=23)) == 0
    assert d.expire(env.db, utcnow() + timedelta(hours=25)) == 1
    assert env.status(done.record_id) == BdrStatus.AUTH_TIMEOUT
    assert "认证超时: 2 delegating resident(s)" in env.history(done.record_id)[-1]
    with pytest.raises(StateConflict):
        d.delegate_authenticated(env.db, done.record_id, samples.MEMBER_IDS[0], True)
    again = d.declare(
        env.db,
        env.intake,
        samples.representative(),
        Form.IMPORT,
        samples.import_form(),
        ScriptedGate(),
        record_id=done.record_id,
    )
    assert again.status == BdrStatus.PENDING_AUTH


def _numbered(env: BorderEnv, status, form: Form = Form.ENTRY) -> int:
    done = _declare(env, form)
    code = "11" if form is Form.ENTRY else "12"
    env.set_status(done.record_id, status, declNo=f"86095260115{code}{done.record_id:05d}")
    return done.record_id


@pytest.mark.parametrize(
    "status", [BdrStatus.AMEND, BdrStatus.DOC_RELEASED, BdrStatus.GOODS_RELEASED]
)
def test_change_in_its_states_makes_a_change_record(env: BorderEnv, status) -> None:
    original = _numbered(env, status)
    gate = ScriptedGate()
    done = d.change(
        env.db,
        env.intake,
        samples.resident(),
        original,
        "车牌号填错",
        gate,
        samples.entry_form(mode=BusinessMode.LANDED_PROCESSING),
    )
    assert done.record_id != original and done.status == Status.PENDING_SIGN
    assert gate.asked  # the biometric rule again (落地加工 by road)
    with env.db.session() as session:
        row = store.row(session, done.pre_entry_no)
        assert row is not None and row.decl_type == DeclType.CHANGE and row.original_id
        assert row.fields["head"]["origDeclNo"].startswith("86095260115")


@pytest.mark.parametrize(
    "status", [Status.SAVED, Status.RETURNED, BdrStatus.CUSTOMS_APPROVED, BdrStatus.GENERAL_TRADE]
)
def test_change_elsewhere_is_refused_naming_the_state(env: BorderEnv, status) -> None:
    original = _numbered(env, status)
    with pytest.raises(StateConflict) as info:
        d.change(env.db, env.intake, samples.resident(), original, "x", ScriptedGate())
    assert info.value.violations[0].rule == "R-BDR-8"
    assert "改单" in str(info.value) and "the record is" in str(info.value)


@pytest.mark.parametrize("form", [Form.ENTRY, Form.IMPORT])
@pytest.mark.parametrize("status", [BdrStatus.CUSTOMS_APPROVED, BdrStatus.DOC_RELEASED])
def test_revoke_makes_its_own_record(env: BorderEnv, status, form: Form) -> None:
    original = _numbered(env, status, form)
    done = d.revoke(env.db, env.intake, samples.resident(), original, "商品品质不符")
    assert done.record_id != original and done.status == Status.PENDING_SIGN
    assert done.pre_entry_no[4:6] == form.value
    with env.db.session() as session:
        row = store.row(session, done.pre_entry_no)
        assert row is not None and row.decl_type == DeclType.REVOKE and row.form == form.value


@pytest.mark.parametrize("status", [Status.STORED, BdrStatus.GOODS_RELEASED, BdrStatus.AMEND])
def test_revoke_elsewhere_or_without_reason_is_refused(env: BorderEnv, status) -> None:
    original = _numbered(env, status)
    with pytest.raises(StateConflict) as info:
        d.revoke(env.db, env.intake, samples.resident(), original, "reason")
    assert "审核通过" in str(info.value)
    ok = _numbered(env, BdrStatus.CUSTOMS_APPROVED)
    with pytest.raises(InvalidMessage):
        d.revoke(env.db, env.intake, samples.resident(), ok, "  ")


def test_copy_from_any_state_clears_numbers_and_reasons(env: BorderEnv) -> None:
    original = _numbered(env, BdrStatus.GOODS_RELEASED)
    form = d.copy(env.db, samples.resident(), original)
    head = form["head"]
    for cleared in ("preEntryNo", "origDeclNo", "reason", "declType", "idNumber"):
        assert cleared not in head
    assert form["goods"] and form["vehicles"] and form["form"] == Form.ENTRY
    done = d.declare(env.db, env.intake, samples.resident(), Form.ENTRY, form, ScriptedGate())
    assert done.record_id != original


@pytest.mark.parametrize(
    "status", [Status.SAVED, Status.RETURNED, Status.SEND_FAILED, Status.STORE_FAILED]
)
def test_delete_in_the_editable_states(env: BorderEnv, status) -> None:
    done = _declare(env)
    env.set_status(done.record_id, status)
    d.delete(env.db, env.intake, samples.resident(), done.record_id)
    assert env.status(done.record_id) == Status.DELETED


@pytest.mark.parametrize("status", [Status.STORED, BdrStatus.DOC_RELEASED, BdrStatus.PENDING_AUTH])
def test_modify_and_delete_elsewhere_are_refused(env: BorderEnv, status) -> None:
    done = _declare(env)
    env.set_status(done.record_id, status)
    with pytest.raises(StateConflict) as info:
        d.delete(env.db, env.intake, samples.resident(), done.record_id)
    assert "暂存" in str(info.value)
    with pytest.raises(StateConflict):
        d.declare(
            env.db,
            env.intake,
            samples.resident(),
            Form.ENTRY,
            samples.entry_form(),
            ScriptedGate(),
            record_id=done.record_id,
        )


def test_anothers_record_is_not_found(env: BorderEnv) -> None:
    done = _declare(env)
    other = samples.resident(id_number="532822199909093314")
    with pytest.raises(NotFound):
        d.copy(env.db, other, done.record_id)
    with pytest.raises(NotFound):  # the same person in another role is another declarant
        d.copy(env.db, samples.representative(), done.record_id)


def test_an_unregistered_place_is_refused(env: BorderEnv) -> None:
    from dataclasses import replace

    who = replace(samples.resident(), place_code="999999")
    with pytest.raises(InvalidMessage) as info:
        d.declare(env.db, env.intake, who, Form.ENTRY, samples.entry_form(), ScriptedGate())
    assert info.value.violations[0].field == "placeCode"


def test_pre_entry_numbers_follow_each_other_per_form(env: BorderEnv) -> None:
    a, b = _declare(env), _declare(env)
    c = _declare(env, Form.IMPORT)
    assert int(b.pre_entry_no) == int(a.pre_entry_no) + 1
    assert c.pre_entry_no[4:6] == "03" and c.pre_entry_no.endswith("000000000001")
    with env.db.session() as session:
        assert session.scalar(select(BrdDeclaration).where(BrdDeclaration.id == 99)) is None
    assert messages.ENTRY_MESSAGE == "BDR101Message"


def test_a_ready_declaration_not_sent_is_sent_by_the_job(env: BorderEnv) -> None:
    """The process stopped after the last resident's authentication committed, before the
    send: the job's round sends it (R-BDR-7)."""
    done = _declare(env, Form.IMPORT, who=samples.representative())
    with env.db.session() as session:
        row = store.row(session, done.pre_entry_no)
        assert row is not None
        for delegate in store.delegates(session, row):
            delegate.state, delegate.at = "passed", utcnow()
    assert d.resend_ready(env.db, env.intake) == 1
    assert env.status(done.record_id) == Status.PENDING_SIGN
    assert d.resend_ready(env.db, env.intake) == 0


def test_terminals_declaring_at_once_get_distinct_numbers(env: BorderEnv) -> None:
    import threading

    results: list[str] = []
    errors: list[BaseException] = []

    def terminal() -> None:
        try:
            for _ in range(3):
                results.append(_declare(env).pre_entry_no)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=terminal) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(results) == 12 and len(set(results)) == 12


def test_residents_authenticating_at_once_send_it_once(tmp_path: Path, pg_url: str) -> None:
    """On PostgreSQL (the document's row lock): both members pass at the same moment; the
    one who was last sends it, once."""
    import threading

    env = make_env(tmp_path, pg_url)
    done = _declare(env, Form.IMPORT, who=samples.representative())
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def passes(number: str) -> None:
        barrier.wait()
        try:
            d.delegate_authenticated(env.db, done.record_id, number, True, intake=env.intake)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=passes, args=(n,)) for n in samples.MEMBER_IDS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert env.status(done.record_id) == Status.PENDING_SIGN
    sends = [h for h in env.history(done.record_id) if h.startswith("pending_sign")]
    assert len(sends) == 1
    env.db.dispose()


def test_the_authentication_time_limit_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert d.auth_hours_configured() == 24.0
    monkeypatch.setenv(d.AUTH_HOURS_ENV, "2.5")
    assert d.auth_hours_configured() == 2.5
    monkeypatch.setenv(d.AUTH_HOURS_ENV, "0")
    with pytest.raises(ConfigError):
        d.auth_hours_configured()


def test_a_shorter_limit_times_out_sooner(env: BorderEnv) -> None:
    done = d.declare(
        env.db,
        env.intake,
        samples.representative(),
        Form.IMPORT,
        samples.import_form(),
        ScriptedGate(),
        auth_hours=1,
    )
    assert d.expire(env.db, utcnow() + timedelta(minutes=61)) == 1
    assert env.status(done.record_id) == BdrStatus.AUTH_TIMEOUT


def test_an_import_links_only_the_declarants_own_entry(env: BorderEnv) -> None:
    """R-BDR-5: 关联进境申报单编号 is optional; given, it is one of the declarant's entries."""
    entry = _numbered(env, BdrStatus.DOC_RELEASED)
    with env.db.session() as session:
        number = store.row(session, _pre_entry(env, entry)).decl_no  # type: ignore[union-attr]
    assert number
    linked = d.declare(
        env.db,
        env.intake,
        samples.resident(),
        Form.IMPORT,
        samples.import_form(entryDeclNo=number),
        ScriptedGate(),
    )
    assert linked.status == Status.PENDING_SIGN
    with pytest.raises(InvalidMessage) as info:
        d.declare(
            env.db,
            env.intake,
            samples.resident(),
            Form.IMPORT,
            samples.import_form(entryDeclNo="860952601151199999"),
            ScriptedGate(),
        )
    assert info.value.violations[0].field == "ImportDeclaration/entryDeclNo"
    other = samples.resident(id_number="532822199909093314")
    with pytest.raises(InvalidMessage):
        d.declare(
            env.db,
            env.intake,
            other,
            Form.IMPORT,
            samples.import_form(entryDeclNo=number),
            ScriptedGate(),
        )


def _pre_entry(env: BorderEnv, record_id: int) -> str:
    from gateway.core.models import Document

    with env.db.session() as session:
        doc = session.get(Document, record_id)
        assert doc is not None
        return doc.business_key
