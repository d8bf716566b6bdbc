"""Modification after storage (改单, issue 16 gap 4; gateway/ecx/modify.py): an inventory
list customs holds and has not released (清单改单, manual 004 §3.3) and a stored total/sub
waybill list (清单总分单改单, §3.11) may be modified with appType 2; the new version is signed
and sent, customs answers it, and the record's history shows both. A released or closed list
is refused (R-COM-5), by the gateway and, should a modification reach it, by customs.

The boundary tests play customs (no simulator): receipts put each record in the state under
test. The end-to-end tests run over the real RabbitMQ with the simulated customs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.core.customs_sim.state import Declaration
from gateway.ecx import samples_lists as ecx
from gateway.ecx.kinds_full import INVENTORY
from gateway.ecx.sim import four_documents
from gateway.errors import InvalidMessage, StateConflict
from gateway.xmlsafe import parse
from receipts.build import build_receipt, return_time
from receipts.parse import parse_receipt
from tests.lifecycle_fixtures import (
    NO_SAMPLING,
    MakeStack,
    customs_steps,
    declare_lists,
    history,
    parcels,
    path,
    release,
    send_arrival,
    send_waybill_list,
)
from tests.stack import PLATFORM, Stack, wait_value

pytestmark = pytest.mark.integration

#: the inventory states with their receipt code, in lifecycle order
ALLOWED = {"stored": "120", "manual_review": "300", "inspection": "500", "concluded": "399"}
REFUSED = {"released": "800", "closed": "899"}
INVT_NO = "29912026E{n:09d}"
PRE_NO = "2991202600{n:08d}"


def _inventory_receipt(stack: Stack, parcel: ecx.Parcel, status: str, n: int) -> bytes:
    entity = {
        "agentCode": stack.ebc.code,
        "copNo": ecx.inventory_cop_no(parcel.order_no),
        "preNo": PRE_NO.format(n=n),
        "invtNo": INVT_NO.format(n=n),
        "ebcCode": stack.ebc.code,
        "ebpCode": PLATFORM.code,
        "orderNo": parcel.order_no,
        "statisticsFlag": "A",
        "returnStatus": status,
        "returnTime": return_time(datetime.now(UTC)),
        "returnInfo": f"[Code:9999;Desc:{status}]",
    }
    return build_receipt("CEB604Message", [entity])


def _lists_in(stack: Stack, states: dict[str, str], start: int) -> dict[str, ecx.Parcel]:
    """One declared inventory list per state, moved there by a receipt we send as customs."""
    made = parcels(stack, len(states), start)
    result = stack.declare_lists(ecx.inventory_message(stack.ebc, made))
    out = {}
    for n, (doc, parcel, (state, code)) in enumerate(
        zip(result.documents, made, states.items(), strict=True), start=start
    ):
        assert stack.wait_status(doc.id, "sent") == "sent"
        stack.gateway.receipts.handle(_inventory_receipt(stack, parcel, code, n))
        assert stack.status(doc.id) == state, stack.view(doc.id)["history"]
        out[state] = parcel
    return out


def _modified(stack: Stack, parcel: ecx.Parcel, **kw: object) -> bytes:
    later = datetime.now(UTC) + timedelta(minutes=1)  # other content: a new version
    return ecx.inventory_message(stack.ebc, [parcel], app_type="2", at=later, **kw)  # type: ignore[arg-type]


def test_a_list_customs_holds_unreleased_is_modified_and_a_released_one_refused(
    make_stack: MakeStack,
) -> None:
    """R-ECX-5 / R-COM-5 at the boundary: stored, in review, in inspection and concluded
    take a modification (version 3, after the saved and the declared one, on its way to
    customs); released (the first state that refuses it) and closed are refused naming the
    rule and the states that allow it."""
    stack = make_stack("s").start(sim=False)
    lists = _lists_in(stack, {**ALLOWED, **REFUSED}, start=2001)
    for state in ALLOWED:
        result = stack.submit(_modified(stack, lists[state]))
        (doc,) = result.documents
        # version 1 saved, 2 declared (R-ECX-2), 3 the modification
        assert (doc.version, doc.status) == (3, "pending_sign"), state
        assert stack.wait_status(doc.id, "sent") == "sent"
        assert path(stack, doc.id)[-4:] == [state, "pending_sign", "signed", "sent"]
    for state in REFUSED:
        with pytest.raises(StateConflict) as refused:
            stack.submit(_modified(stack, lists[state]))
        (violation,) = refused.value.violations
        assert violation.rule == "R-COM-5" and violation.field.endswith("/appType")
        assert f"inventory is {state}; modify is allowed only when" in violation.message
        assert violation.message.endswith(
            "storage failed, or concluded, inspection, manual_review, revoked or stored"
        ), violation.message


def test_a_stored_list_is_not_deleted_and_its_modification_is_declared(
    make_stack: MakeStack,
) -> None:
    """A list customs holds is never deleted (R-COM-5 keeps its states for delete), and its
    modification is declared at once: a saved draft of it could be deleted."""
    stack = make_stack("s").start(sim=False)
    parcel = _lists_in(stack, {"stored": "120"}, start=2011)["stored"]
    with pytest.raises(StateConflict) as refused:
        stack.submit(ecx.inventory_message(stack.ebc, [parcel], app_type="3"))
    (violation,) = refused.value.violations
    assert violation.rule == "R-COM-5"
    assert "inventory is stored; delete is allowed only when" in violation.message
    assert violation.message.endswith("storage failed, or revoked"), violation.message
    with pytest.raises(InvalidMessage) as draft:
        stack.submit(_modified(stack, parcel, app_status="1"))
    (violation,) = draft.value.violations
    assert violation.rule == "R-COM-5" and violation.field.endswith("/appStatus")


def test_a_modification_keeps_the_numbers_customs_gave(make_stack: MakeStack) -> None:
    """置灰字段无法修改 (manual 004 §3.2): 海关清单编号 (invtNo) and 预录入编号 (preNo) are
    customs'; a modification naming others is refused with the field and the rule, one
    naming customs' own (or none) is taken."""
    stack = make_stack("s").start(sim=False)
    parcel = _lists_in(stack, {"concluded": "399"}, start=2021)["concluded"]
    other = ecx.Parcel(parcel.order_no, parcel.logistics_no, ebc=stack.ebc, ebp=PLATFORM,
                       carrier=stack.carrier, invt_no=INVT_NO.format(n=9999))  # fmt: skip
    with pytest.raises(InvalidMessage) as refused:
        stack.submit(_modified(stack, other))
    (violation,) = refused.value.violations
    assert violation.rule == "R-ECX-5" and violation.field.endswith("/invtNo")
    assert INVT_NO.format(n=2021) in violation.message and "置灰" in violation.message
    same = ecx.Parcel(parcel.order_no, parcel.logistics_no, ebc=stack.ebc, ebp=PLATFORM,
                      carrier=stack.carrier, invt_no=INVT_NO.format(n=2021))  # fmt: skip
    assert stack.submit(_modified(stack, same)).documents[0].version == 3  # saved, declared


def _waybill_receipt(stack: Stack, cop_no: str, status: str) -> bytes:
    entity = {
        "agentCode": stack.carrier.code,
        "logisticsCode": stack.carrier.code,
        "copNo": cop_no,
        "preNo": PRE_NO.format(n=1),
        "billNo": ecx.DEMO_TRIP.bill_no,
        "msgSeqNo": "1",
        "returnStatus": status,
        "returnTime": return_time(datetime.now(UTC)),
        "returnInfo": f"[Code:9999;Desc:{status}]",
    }
    return build_receipt("CEB608Message", [entity])


def test_a_stored_waybill_list_is_modified_one_on_its_way_is_not(make_stack: MakeStack) -> None:
    """清单总分单改单 (§3.11) at the boundary: stored (120, its last state) takes a
    modification; declaring (2, not stored yet) refuses it naming stored among the states."""
    stack = make_stack("s").start(sim=False)
    made = parcels(stack, 2, start=2031)
    ids = {}
    for cop_no, status in (("WB2031", "120"), ("WB2032", "2")):
        data = ecx.waybill_list_message(stack.carrier, made, ecx.Batch(cop_no),
                                        carrier=stack.carrier)  # fmt: skip
        (doc,) = stack.submit(data, stack.carrier.code).documents
        assert stack.wait_status(doc.id, "sent") == "sent"
        stack.gateway.receipts.handle(_waybill_receipt(stack, cop_no, status))
        ids[cop_no] = doc.id
    assert (stack.status(ids["WB2031"]), stack.status(ids["WB2032"])) == ("stored", "declaring")
    modified = ecx.waybill_list_message(stack.carrier, made[:1], ecx.Batch("WB2031"),
                                        carrier=stack.carrier, app_type="2")  # fmt: skip
    (doc,) = stack.submit(modified, stack.carrier.code).documents
    assert (doc.id, doc.version, doc.status) == (ids["WB2031"], 2, "pending_sign")
    on_its_way = ecx.waybill_list_message(stack.carrier, made[:1], ecx.Batch("WB2032"),
                                          carrier=stack.carrier, app_type="2")  # fmt: skip
    with pytest.raises(StateConflict) as refused:
        stack.submit(on_its_way, stack.carrier.code)
    (violation,) = refused.value.violations
    assert violation.rule == "R-COM-5"
    assert "waybill_total is declaring; modify is allowed only when" in violation.message
    assert violation.message.endswith("storage failed, or stored"), violation.message


# --- end to end, with the simulated customs -----------------------------------------------------


def test_a_concluded_list_is_modified_customs_reviews_the_new_version_and_refuses_after_release(
    make_stack: MakeStack,
) -> None:
    """清单改单 end to end: the concluded list's new version is signed, sent, compared again
    and reviewed from the start (已重新生成新的清单), on the same record; once the list is
    released the gateway refuses a modification, and customs refuses one that reaches it,
    leaving the list released with its reason in the record's history."""
    stack = make_stack("s", **NO_SAMPLING).start()
    (item,) = declare_lists(stack, 1, start=2041)
    result = stack.submit(_modified(stack, item.parcel))
    assert [(d.id, d.version) for d in result.documents] == [(item.doc_id, 3)]
    steps = wait_value(lambda: customs_steps(stack, item.doc_id), lambda s: len(s) == 6, 20.0)
    assert steps == ["2", "120", "399", "2", "120", "399"], history(stack, item)
    assert path(stack, item.doc_id)[-7:] == [
        "concluded", "pending_sign", "signed", "sent", "declaring", "stored", "concluded",
    ]  # fmt: skip
    view = stack.view(item.doc_id)
    versions = [(v["number"], v["app_type"], v["app_status"]) for v in view["versions"]]
    assert versions == [(1, "1", "1"), (2, "1", "2"), (3, "2", "2")]  # saved, declared, 改单
    assert any(h["info"] == "version 3 modified and declared" for h in view["history"])
    assert view["customs_numbers"]["invtNo"] == item.parcel.invt_no  # the same list
    # released: the gateway refuses (R-COM-5) …
    release(stack, [item], "2041")
    with pytest.raises(StateConflict) as refused:
        stack.submit(_modified(stack, item.parcel, seed=1))
    assert refused.value.violations[0].rule == "R-COM-5"
    assert "inventory is released" in refused.value.violations[0].message
    # … and so does customs, should a modification reach it (sent before the release came)
    _customs_answers_a_late_modification(stack, item.parcel, item.doc_id)


def _customs_answers_a_late_modification(stack: Stack, parcel: ecx.Parcel, doc_id: int) -> None:
    assert stack.sim is not None
    data = ecx.inventory_message(stack.ebc, [parcel], app_type="2", seed=2)
    rec = next(INVENTORY.records(parse(data).getroot()))
    with stack.sim.db.session() as session:
        answers = four_documents.declare_inventory(
            stack.sim, session, INVENTORY, [rec], "LATE-MODIFICATION", stack.ebc.dxp_id
        )
        (answer,) = answers
        (entity,) = parse_receipt(answer.body).entities
        assert entity.return_status == "800", entity.fields
        assert "已放行, 不能修改" in entity.return_info and parcel.invt_no in entity.return_info
        stack.sim._schedule(session, stack.ebc.dxp_id, answer)
        held = session.scalar(select(Declaration).where(Declaration.kind == "inventory"))
        assert held is not None and held.status == "800" and held.versions == 2
    said = wait_value(
        lambda: [h for h in history(stack, doc_id) if "不能修改" in (h["info"] or "")],
        bool,
        20.0,
    )
    assert said and said[0]["source"] == "customs" and said[0]["to"] == "released", said
    assert stack.status(doc_id) == "released"


def test_a_stored_waybill_list_is_modified_and_customs_takes_the_new_parcels(
    make_stack: MakeStack,
) -> None:
    """清单总分单改单 end to end: a stored total/sub waybill list is modified to name one
    more parcel; customs answers the new version (2, 120) on the same record and takes its
    parcels: the list of the added parcel, already on an arrival, is released."""
    stack = make_stack("s", **NO_SAMPLING).start()
    first, second = declare_lists(stack, 2, start=2051)
    (waybill_id,) = send_waybill_list(stack, [first.parcel], "WB2051")
    send_arrival(stack, [first.parcel.logistics_no, second.parcel.logistics_no], "AR2051")
    assert stack.wait_status(first.doc_id, "released") == "released"
    assert stack.status(second.doc_id) == "concluded"  # not on the waybill list
    both = [first.parcel, second.parcel]
    data = ecx.waybill_list_message(stack.carrier, both, ecx.Batch("WB2051"),
                                    carrier=stack.carrier, app_type="2")  # fmt: skip
    (doc,) = stack.submit(data, stack.carrier.code).documents
    assert (doc.id, doc.version) == (waybill_id, 2)
    steps = wait_value(lambda: customs_steps(stack, waybill_id), lambda s: len(s) == 4, 20.0)
    assert steps == ["2", "120", "2", "120"], history(stack, waybill_id)
    assert path(stack, waybill_id)[-5:] == ["pending_sign", "signed", "sent", "declaring", "stored"]
    assert stack.wait_status(second.doc_id, "released") == "released", history(stack, second)
