"""Border declarations end to end, over the real RabbitMQ with the simulated customs.

A resident's own entry declaration is declared with the biometric check passed, signed with
the supervised place operator's key (the terminal has no IC card), sent, stored with its
申报单编号, approved and released (单证放行); revoked, customs grants it and the declaration
says 已撤销. An import naming a country the port does not trade with, an unregistered vehicle
and a goods item customs' catalogue lacks is returned with the three reasons joined by "；".
A group representative's import waits (待认证) until both delegating residents passed face
authentication, then goes to customs and is released. The same on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from gateway.border import declarations as d
from gateway.border import queries, samples, sim, store
from gateway.border.codes import BdrStatus, BusinessMode, Form
from gateway.border.identity import BiometricMethod, Declarant
from gateway.core.models import Message
from gateway.core.status import Status
from tests.border_fixtures import ScriptedGate
from tests.stack import Stack, wait_value

pytestmark = pytest.mark.integration
DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"


def _prepare(stack: Stack) -> None:
    """The place signs with the test enterprise's key (its operator), the catalogue."""
    with stack.gateway.db.session() as s:
        store.save_place(
            s,
            samples.PLACE_CODE,
            samples.PLACE_NAME,
            samples.DISTRICT,
            stack.ebc.code,
            BiometricMethod.FACE,
        )
        store.load_catalogue(s, samples.CATALOGUE)


def _page(stack: Stack, form: Form, who: Declarant | None = None) -> dict[str, Any]:
    with stack.gateway.db.session() as s:
        return queries.records(s, who or samples.resident(), form, queries.Conditions())


def test_declare_release_revoke_and_a_return(make_stack: Callable[..., Stack]) -> None:
    _journey(make_stack().start())


def test_the_same_on_postgresql(make_stack: Callable[..., Stack], pg_url: str) -> None:
    _journey(make_stack(db_url=pg_url).start())


def _journey(stack: Stack) -> None:
    sim.use(None)
    _prepare(stack)
    gw = stack.gateway
    gate = ScriptedGate()

    # a resident's own entry: checked, signed by the operator's key, released
    entry = d.declare(
        gw.db,
        gw.intake,
        samples.resident(),
        Form.ENTRY,
        samples.entry_form(mode=BusinessMode.LANDED_PROCESSING),
        gate,
    )
    assert gate.asked == [("T-860901-01", BiometricMethod.FACE)]
    path = stack.wait_reached(entry.record_id, BdrStatus.DOC_RELEASED.value, 60)
    assert path[:2] == ["pending_sign", "signed"] and "stored" in path
    assert path[-2:] == ["customs_approved", "doc_released"]
    with gw.db.session() as s:
        signed = s.scalars(select(Message.signed).where(Message.signed.is_not(None))).first()
        assert signed is not None
        root = etree.fromstring(signed)
        assert root.find(DSIG) is not None  # the whole message, biometric outcome included
        assert b"<bdr:method>face</bdr:method>" in signed
    (row,) = _page(stack, Form.ENTRY)["records"]
    assert row["declNo"][:4] == "8609" and row["declNo"][11:13] == "11"
    assert row["statusName"] == "11-单证放行"

    # revoke it: a record of its own, granted; the declaration is 已撤销
    revoke = d.revoke(gw.db, gw.intake, samples.resident(), entry.record_id, "货物未到，撤销申报")
    stack.wait_status(revoke.record_id, BdrStatus.CUSTOMS_APPROVED.value, 60)
    stack.wait_status(entry.record_id, BdrStatus.REVOKE_GRANTED.value, 60)
    types = {r["declTypeName"] for r in _page(stack, Form.ENTRY)["records"]}
    assert types == {"申请", "撤销"}

    # an import customs returns, every reason in the opinion
    sim.use(replace(sim.default_reference(), catalogue=frozenset({"0801"})))
    try:
        returned = d.declare(
            gw.db,
            gw.intake,
            samples.resident(),
            Form.IMPORT,
            samples.import_form(country="BTN", vehicleNo="粤B09002"),
            gate,
        )
        stack.wait_status(returned.record_id, Status.RETURNED.value, 60)
    finally:
        sim.use(None)
    (row,) = _page(stack, Form.IMPORT)["records"]
    assert row["reviewOpinion"] == (
        "贸易国别非法；车辆粤B09002未备案或不在有效期；商品序号2在商品分类表中不存在，不允许申报；"
    )
    assert "modify" in row["operations"] and "delete" in row["operations"]

    # a group representative's import: 待认证 until both residents passed, then customs
    rep = samples.representative()
    waiting = d.declare(gw.db, gw.intake, rep, Form.IMPORT, samples.import_form(), gate)
    assert waiting.status == BdrStatus.PENDING_AUTH
    first, second = samples.MEMBER_IDS
    d.delegate_authenticated(gw.db, waiting.record_id, first, False, intake=gw.intake)
    d.delegate_authenticated(gw.db, waiting.record_id, first, True, intake=gw.intake)
    assert stack.status(waiting.record_id) == BdrStatus.PENDING_AUTH
    d.delegate_authenticated(gw.db, waiting.record_id, second, True, intake=gw.intake)
    path = stack.wait_reached(waiting.record_id, BdrStatus.DOC_RELEASED.value, 60)
    assert path[:2] == ["saved", "pending_auth"] and "signed" in path
    page = wait_value(lambda: _page(stack, Form.IMPORT, rep), lambda p: p["total"] == 1, 30)
    assert page["records"][0]["statusName"] == "11-单证放行"
