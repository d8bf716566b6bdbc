"""The simulated customs' border review (R-BDR-9) and its receipts applied by the gateway.

Each return reason of the manual is driven by a declaration that breaks exactly it, against
the reference data the simulator holds; the behaviours' receipts (BDR102/104/106, built and
parsed by the real code) are applied by the gateway's receipt processor, so the statuses, the
customs number and the 监管审核意见 land on the record. Over the broker: test_border_e2e.py.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from gateway.border import declarations as d
from gateway.border import kinds, samples, sim, store
from gateway.border.codes import BdrReturn, BdrStatus, BusinessMode, Form, TransportMode
from gateway.codes import CHINA_TZ
from gateway.core import registry
from gateway.core.config import SimConfig
from gateway.core.customs_sim.state import SimBase
from gateway.core.db import Database
from gateway.core.models import Document, Message
from gateway.core.receipt_processor import ReceiptProcessor
from gateway.core.status import Status
from gateway.xmlsafe import parse
from tests.border_fixtures import BorderEnv, ScriptedGate, make_env

registry.ensure_installed()
TODAY = date(2026, 6, 1)
REF = sim.default_reference()


def _values(form: Form = Form.ENTRY, **head: str) -> dict:
    base = samples.entry_form() if form is Form.ENTRY else samples.import_form()
    return samples.filled(form, base, samples.resident(), f"2026{form.value}000000000001", **head)


def test_a_clean_declaration_has_no_reason() -> None:
    assert sim.review(REF, Form.ENTRY, _values(), TODAY) == []
    assert sim.review(REF, Form.IMPORT, _values(Form.IMPORT), TODAY) == []


def test_trade_country_not_allowed_at_the_port() -> None:
    assert sim.review(REF, Form.ENTRY, _values(tradeCountry="BTN"), TODAY) == ["贸易国别非法"]


def test_origin_not_allowed() -> None:
    values = _values()
    values["goods"][1]["origin"] = "IND"
    assert sim.review(REF, Form.ENTRY, values, TODAY) == ["商品序号2产制非法"]


def test_place_not_registered() -> None:
    other = replace(REF, places={})
    assert sim.review(other, Form.ENTRY, _values(), TODAY) == ["监管作业场所未备案"]


def test_import_whose_place_customs_does_not_know_cannot_check_the_binding() -> None:
    other = replace(REF, places={})
    assert sim.review(other, Form.IMPORT, _values(Form.IMPORT), TODAY) == [
        "监管作业场所未备案",
        "进口时，无法查询到监管场所参数，无法校验车辆绑定记录",
    ]


@pytest.mark.parametrize(
    "plate,reason",
    [
        ("粤B09002", "车辆粤B09002未备案或不在有效期"),  # not registered (the manual's example)
        ("云K00001", "车辆云K00001未备案或不在有效期"),  # registered, expired 2020-01-01
        ("云K00002", "车辆云K00002未绑定监管作业场所860901"),  # bound to another place
    ],
)
def test_vehicle_not_registered_expired_or_unbound(plate: str, reason: str) -> None:
    values = _values(vehicleNo=plate)
    values["vehicles"] = [{"seqNo": "1", "vehicleNo": plate, "vehicleType": "5"}]
    assert sim.review(REF, Form.ENTRY, values, TODAY) == [reason]


def test_a_vehicle_valid_yesterday_is_expired_today() -> None:
    ref = replace(
        REF,
        vehicles={
            **REF.vehicles,
            samples.PLATE: sim.Vehicle(
                samples.PLATE, TODAY - timedelta(days=1), frozenset({samples.PLACE_CODE})
            ),
        },
    )
    assert sim.review(ref, Form.ENTRY, _values(), TODAY) == [
        f"车辆{samples.PLATE}未备案或不在有效期"
    ]


def test_goods_item_not_in_customs_catalogue() -> None:
    ref = replace(REF, catalogue=REF.catalogue - {"0804"})
    assert sim.review(ref, Form.ENTRY, _values(), TODAY) == [
        "商品序号2在商品分类表中不存在，不允许申报"
    ]


def test_outcomes_of_a_clean_declaration() -> None:
    steps, _ = sim.outcome(REF, _values())
    assert steps == [BdrReturn.APPROVED, BdrReturn.DOC_RELEASED]
    steps, _ = sim.outcome(replace(REF, stop_at="12"), _values())
    assert steps[-1] is BdrReturn.GOODS_RELEASED
    steps, words = sim.outcome(replace(REF, inspect=frozenset({"0801"})), _values())
    assert steps == [BdrReturn.PENDING_INSPECTION] and "0801" in words
    big = samples.entry_form(goods=[samples.goods_line(1, "0901", "1000", "9")])
    steps, words = sim.outcome(REF, samples.filled(Form.ENTRY, big, samples.resident(), "x"))
    assert steps == [BdrReturn.GENERAL_TRADE] and "8000" in words


def test_customs_numbers_follow_the_manual_pattern() -> None:
    at = datetime(2022, 6, 2, 10, tzinfo=CHINA_TZ)
    assert re.fullmatch(r"8609522060211\d{5}", sim.decl_no(Form.ENTRY, "8609", "k", at))
    assert re.fullmatch(r"8609922060212\d{5}", sim.decl_no(Form.IMPORT, "8609", "k", at))


# --- the behaviours' receipts, applied ---------------------------------------------------------


@dataclass
class _Sim:
    """What a behaviour reads of the simulator: its delays."""

    sim: SimConfig


@pytest.fixture
def env(tmp_path: Path) -> BorderEnv:
    return make_env(tmp_path)


@pytest.fixture
def customs(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'sim.db'}")
    SimBase.metadata.create_all(db.engine)
    return db


def _answer(env: BorderEnv, customs: Database, record_id: int) -> list[str]:
    """Customs' answers to the record's last message, applied in their order."""
    with env.db.session() as session:
        msg = session.scalars(select(Message).order_by(Message.id.desc())).first()
        assert msg is not None
        root = parse(bytes(msg.original)).getroot()
    kind = registry.for_message(etree.QName(root).localname)
    assert kind is not None
    env.set_status(record_id, Status.SENT)
    with customs.session() as session:
        answers = sim.behaviours()[kind.name](
            _Sim(SimConfig()), session, kind, list(kind.records(root)), "cop", "DXPENT0000860901"
        )
    for answer in sorted(answers, key=lambda a: a.due):
        ReceiptProcessor(env.db, None).handle(answer.body)
    return [a.note for a in answers]


def _doc(env: BorderEnv, record_id: int) -> tuple[str, dict, str]:
    with env.db.session() as session:
        doc = session.get(Document, record_id)
        assert doc is not None
        row = store.row(session, doc.business_key)
        assert row is not None
        return doc.status, dict(doc.customs_numbers or {}), row.review_opinion


def test_a_return_carries_every_reason_joined(env: BorderEnv, customs: Database) -> None:
    sim.use(replace(REF, catalogue=REF.catalogue - {"0804"}))
    try:
        done = d.declare(
            env.db,
            env.intake,
            samples.resident(),
            Form.IMPORT,
            samples.import_form(country="BTN", vehicleNo="粤B09002"),
            ScriptedGate(),
        )
        _answer(env, customs, done.record_id)
    finally:
        sim.use(None)
    status, numbers, opinion = _doc(env, done.record_id)
    assert status == Status.RETURNED
    assert re.fullmatch(r"86099\d{6}12\d{5}", numbers["declNo"])
    reasons = ("贸易国别非法", "车辆粤B09002未备案或不在有效期",
               "商品序号2在商品分类表中不存在，不允许申报")  # fmt: skip
    assert opinion == "；".join(reasons) + "；"


def test_a_clean_entry_is_stored_approved_and_released(env: BorderEnv, customs: Database) -> None:
    done = d.declare(
        env.db,
        env.intake,
        samples.resident(),
        Form.ENTRY,
        samples.entry_form(mode=BusinessMode.IN_ZONE),
        ScriptedGate(),
    )
    _answer(env, customs, done.record_id)
    status, numbers, _ = _doc(env, done.record_id)
    assert status == BdrStatus.DOC_RELEASED and numbers["declNo"][11:13] == "11"
    history = env.history(done.record_id)
    assert [h.split(":")[0] for h in history[-3:]] == ["stored", "customs_approved", "doc_released"]

    # revoke it: customs grants it, the declaration's own receipt says 已撤销
    revoked = d.revoke(env.db, env.intake, samples.resident(), done.record_id, "不再进口")
    _answer(env, customs, revoked.record_id)
    assert env.status(revoked.record_id) == BdrStatus.CUSTOMS_APPROVED
    assert env.status(done.record_id) == BdrStatus.REVOKE_GRANTED


def test_customs_refuses_to_revoke_what_it_holds_otherwise(
    env: BorderEnv, customs: Database
) -> None:
    sim.use(replace(REF, inspect=frozenset({"0801"})))
    try:
        done = d.declare(
            env.db,
            env.intake,
            samples.resident(),
            Form.ENTRY,
            samples.entry_form(transport=TransportMode.RAIL, mode=BusinessMode.ORIGINAL_REMOVAL),
            ScriptedGate(),
        )
        _answer(env, customs, done.record_id)
    finally:
        sim.use(None)
    assert env.status(done.record_id) == BdrStatus.PENDING_INSPECTION
    env.set_status(done.record_id, BdrStatus.CUSTOMS_APPROVED)  # the gateway thinks so
    revoked = d.revoke(env.db, env.intake, samples.resident(), done.record_id, "x")
    _answer(env, customs, revoked.record_id)
    assert env.status(revoked.record_id) == Status.STORE_FAILED
    assert "不允许撤销" in env.history(revoked.record_id)[-1]


def test_the_operator_asks_for_an_amendment(env: BorderEnv, customs: Database) -> None:
    done = d.declare(
        env.db, env.intake, samples.resident(), Form.ENTRY, samples.entry_form(), ScriptedGate()
    )
    _answer(env, customs, done.record_id)
    with customs.session() as session:
        # later than customs' last step (its receipts were stamped ahead, at their due times)
        sim.answer(session, done.pre_entry_no, BdrReturn.AMEND, "请更正提运单号", time.time() + 3)
        from gateway.core.customs_sim.state import Scheduled

        body = session.scalars(select(Scheduled).order_by(Scheduled.id.desc())).first()
        assert body is not None
        from transports import unwrap

        ReceiptProcessor(env.db, None).handle(unwrap(body.body).data)
    assert env.status(done.record_id) == BdrStatus.AMEND
    assert kinds.ENTRY.allows(kinds.Operation.CHANGE, BdrStatus.AMEND)
