"""The export inventory lifecycle (R-ECX-5) end to end over the real RabbitMQ and SQLite:
stored (120) → concluded (399, after a sampled review 300 or inspection 500) → released (800)
once the parcel is on a total/sub waybill list (R-ECX-6) and an arrival (R-ECX-3), in any
order → closed (899) once it is on a departure (R-ECX-4); and the revoke application
(CEB605): approved for a list customs has not released, which the gateway then shows as
REVOKED and lets the enterprise modify and send again (appType 2, R-COM-5)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from lxml import etree
from sqlalchemy import select

from gateway.core.customs_sim.state import Scheduled
from gateway.core.models import Outbox, Receipt
from gateway.ecx import samples_lists as ecx
from gateway.ecx.sim import lifecycle
from gateway.xmlsafe import parse
from receipts.build import build_receipt, return_time
from schemas import validate
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
    send_departure,
    send_waybill_list,
)
from tests.stack import PLATFORM, Stack
from transports.envelope import unwrap

pytestmark = pytest.mark.integration

#: long enough for several ticks and result delays of the test stacks (0.2 s)
SETTLE = 1.2


def test_list_goes_from_declared_to_closed_with_the_history_in_order(make_stack: MakeStack) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    (item,) = declare_lists(stack, 1, start=1001)
    send_waybill_list(stack, [item.parcel], "WB1001")
    send_arrival(stack, [item.parcel.logistics_no], "AR1001")
    assert stack.wait_status(item.doc_id, "released") == "released", history(stack, item)
    send_departure(stack, [item.parcel.logistics_no], "DP1001")
    assert stack.wait_status(item.doc_id, "closed") == "closed", history(stack, item)
    assert customs_steps(stack, item.doc_id) == ["2", "120", "399", "800", "899"]
    assert path(stack, item.doc_id) == [
        "saved", "pending_sign", "signed", "sent", "declaring", "stored", "concluded", "released",
        "closed",
    ]  # fmt: skip
    released = next(h for h in history(stack, item) if h["to"] == "released")
    assert released["info"] == "[Code:2600;Desc:放行]"
    times = [h["return_time"] for h in history(stack, item) if h["return_time"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    numbers = stack.view(item.doc_id)["customs_numbers"]
    assert set(numbers) == {"preNo", "invtNo"} and all(len(n) == 18 for n in numbers.values())
    assert _valid_receipts(stack, "CEB604Message") == 5


def _valid_receipts(stack: Stack, msg_type: str) -> int:
    """How many receipts of `msg_type` the gateway got; each valid against the XSDs."""
    with stack.gateway.db.session() as session:
        raws = session.scalars(select(Receipt.raw).where(Receipt.msg_type == msg_type)).all()
    assert all(validate(parse(raw)) == [] for raw in raws)
    return len(raws)


@pytest.mark.parametrize(
    ("rates", "step", "status"),
    [
        ({"review_rate": 1.0, "inspection_rate": 0.0}, "300", "manual_review"),
        ({"review_rate": 0.0, "inspection_rate": 1.0}, "500", "inspection"),
    ],
    ids=["review", "inspection"],
)
def test_sampled_lists_go_through_review_or_inspection_before_conclusion(
    make_stack: MakeStack, rates: dict[str, float], step: str, status: str
) -> None:
    stack = make_stack("s", **rates).start()
    listed = declare_lists(stack, 2, start=1011)
    for item in listed:
        assert customs_steps(stack, item.doc_id) == ["2", "120", step, "399"]
        assert status in path(stack, item.doc_id)


def test_release_waits_for_both_the_waybill_list_and_the_arrival(make_stack: MakeStack) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    first, second = declare_lists(stack, 2, start=1021)
    # first: waybill list, then arrival
    send_waybill_list(stack, [first.parcel], "WB1021")
    time.sleep(SETTLE)
    assert stack.status(first.doc_id) == "concluded"
    send_arrival(stack, [first.parcel.logistics_no], "AR1021")
    assert stack.wait_status(first.doc_id, "released") == "released", history(stack, first)
    # second: the arrival split over two messages (the parcel on part 2), then the waybill
    # list naming the list by its invtNo
    send_arrival(stack, ["YT7309999999991"], "AR1022", seq=1, count=2)
    send_arrival(stack, [second.parcel.logistics_no], "AR1022", seq=2, count=2)
    time.sleep(SETTLE)
    assert stack.status(second.doc_id) == "concluded"
    send_waybill_list(stack, [second.parcel], "WB1022")
    assert stack.wait_status(second.doc_id, "released") == "released", history(stack, second)
    for item in (first, second):
        assert customs_steps(stack, item.doc_id) == ["2", "120", "399", "800"]


def test_waybill_list_and_arrival_before_the_list_release_it_once_concluded(
    make_stack: MakeStack,
) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    (parcel,) = parcels(stack, 1, start=1031)
    send_waybill_list(stack, [parcel], "WB1031")
    send_arrival(stack, [parcel.logistics_no], "AR1031")
    (item,) = declare_lists(stack, 1, start=1031, wait="released")
    assert customs_steps(stack, item.doc_id) == ["2", "120", "399", "800"]


def test_a_departure_before_the_release_closes_the_list_once_released(
    make_stack: MakeStack,
) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    (item,) = declare_lists(stack, 1, start=1041)
    send_departure(stack, [item.parcel.logistics_no], "DP1041")
    time.sleep(SETTLE)
    assert stack.status(item.doc_id) == "concluded"  # not released: no departure yet
    send_waybill_list(stack, [item.parcel], "WB1041")
    send_arrival(stack, [item.parcel.logistics_no], "AR1041")
    assert stack.wait_status(item.doc_id, "closed") == "closed", history(stack, item)
    assert customs_steps(stack, item.doc_id) == ["2", "120", "399", "800", "899"]


def _revoke(stack: Stack, parcel: ecx.Parcel) -> int:
    result = stack.submit(ecx.invt_cancel_message(stack.ebc, [parcel]))
    assert [d.kind for d in result.documents] == ["invt_cancel"]
    return int(result.documents[0].id)


def _notified(stack: Stack, doc_id: int) -> list[str]:
    """The statuses the enterprise was told of for the document, from the outbox."""
    with stack.gateway.db.session() as session:
        bodies = session.scalars(
            select(Outbox.body).where(Outbox.exchange == stack.gateway.topology.notify_exchange)
        ).all()
    changes = [c for body in bodies for c in json.loads(body)["changes"]]
    return [c["to"] for c in changes if c["document_id"] == doc_id]


def test_an_approved_revoke_withdraws_the_list_which_a_modification_declares_again(
    make_stack: MakeStack,
) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    (item,) = declare_lists(stack, 1, start=1051)
    cancel_id = _revoke(stack, item.parcel)
    assert stack.wait_status(cancel_id, "concluded") == "concluded", history(stack, cancel_id)
    assert customs_steps(stack, cancel_id) == ["2", "120", "399"]
    assert _valid_receipts(stack, "CEB606Message") == 3
    assert stack.wait_status(item.doc_id, "revoked") == "revoked", history(stack, item)
    revoked = history(stack, item)[-1]
    assert revoked["source"] == "customs" and revoked["receipt_id"] is not None
    assert f"CX{item.parcel.order_no}" in revoked["info"], revoked
    assert item.parcel.invt_no in revoked["info"]
    assert "revoked" in _notified(stack, item.doc_id)
    # R-ECX-5 / R-COM-5: the revoked list is fixed and sent again as a modification;
    # customs compares the four documents again (R-ECX-2) and stores it.
    result = stack.submit(ecx.inventory_message(stack.ebc, [item.parcel], app_type="2"))
    assert [d.id for d in result.documents] == [item.doc_id]
    assert stack.wait_status(item.doc_id, "concluded") == "concluded", history(stack, item)
    assert customs_steps(stack, item.doc_id) == ["2", "120", "399", "2", "120", "399"]
    assert path(stack, item.doc_id)[-7:] == [
        "revoked", "pending_sign", "signed", "sent", "declaring", "stored", "concluded",
    ]  # fmt: skip


def test_a_revoke_of_a_released_list_is_refused_naming_why(make_stack: MakeStack) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    listed = declare_lists(stack, 1, start=1061)
    release(stack, listed, "1061")
    cancel_id = _revoke(stack, listed[0].parcel)
    assert stack.wait_status(cancel_id, "returned") == "returned", history(stack, cancel_id)
    info = history(stack, cancel_id)[-1]["info"]
    assert "已放行" in info and listed[0].parcel.invt_no in info, info
    time.sleep(SETTLE)
    assert stack.status(listed[0].doc_id) == "released"


def test_a_revoke_naming_an_unknown_list_is_refused(stack: Stack) -> None:
    (parcel,) = parcels(stack, 1, start=1071)
    cancel_id = _revoke(stack, parcel)  # the sample's made-up invtNo
    assert stack.wait_status(cancel_id, "returned") == "returned", history(stack, cancel_id)
    assert "清单不存在" in history(stack, cancel_id)[-1]["info"]


def test_a_modification_of_a_concluded_list_is_accepted_by_the_gateway(
    make_stack: MakeStack,
) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    (item,) = declare_lists(stack, 1, start=1081)
    # 清单改单 (manual 004 §3.3): a list customs holds unreleased is modified, a new version
    result = stack.submit(ecx.inventory_message(stack.ebc, [item.parcel], app_type="2"))
    # version 1 saved, 2 declared (R-ECX-2), 3 the modification
    assert [(d.id, d.version) for d in result.documents] == [(item.doc_id, 3)]


def test_revoke_on_postgresql(make_stack: MakeStack, pg_url: str) -> None:
    """The list is found by its customs number inside the JSON column on PostgreSQL too."""
    stack = make_stack("s", db_url=pg_url, **NO_SAMPLING).start()
    (item,) = declare_lists(stack, 1, start=1091)
    cancel_id = _revoke(stack, item.parcel)
    assert stack.wait_status(cancel_id, "concluded") == "concluded"
    assert stack.wait_status(item.doc_id, "revoked") == "revoked", history(stack, item)


def _invt_return(stack: Stack, parcel: ecx.Parcel, cop_no: str, status: str, msg: str) -> bytes:
    entity = {
        "agentCode": stack.ebc.code,
        "copNo": cop_no,
        "preNo": "299120260000000001",
        "invtNo": "29912026E999999999",  # a number the gateway never learnt
        "returnStatus": status,
        "returnTime": return_time(datetime.now(UTC)),
        "returnInfo": f"[Code:2399;Desc:{status}]",
    }
    if msg == "CEB604Message":
        extra = {"ebcCode": stack.ebc.code, "ebpCode": PLATFORM.code, "statisticsFlag": "A"}
        entity |= {**extra, "orderNo": parcel.order_no}
    return build_receipt(msg, [entity])


def test_the_list_is_found_by_agent_and_cop_no_when_its_invt_no_is_unknown(
    make_stack: MakeStack,
) -> None:
    """We play customs (no simulator): the application has the list's own copNo and names an
    invtNo the gateway does not know; the list is revoked all the same, and stays revoked."""
    stack = make_stack("s").start(sim=False)
    (parcel,) = parcels(stack, 1, start=1101)
    list_id = stack.declare_lists(ecx.inventory_message(stack.ebc, [parcel])).documents[0].id
    cop_no = ecx.inventory_cop_no(parcel.order_no)
    same_cop_no = ecx.invt_cancel_message(stack.ebc, [parcel]).replace(
        f">CX{parcel.order_no}<".encode(), f">{cop_no}<".encode()
    )
    cancel_id = stack.submit(same_cop_no).documents[0].id
    for doc_id in (list_id, cancel_id):
        assert stack.wait_status(doc_id, "sent") == "sent"
    stack.gateway.receipts.handle(_invt_return(stack, parcel, cop_no, "399", "CEB606Message"))
    assert (stack.status(cancel_id), stack.status(list_id)) == ("concluded", "revoked")
    # R-ECX-5: revoked is final for receipts: a late release of the list is kept, not applied
    stack.gateway.receipts.handle(_invt_return(stack, parcel, cop_no, "800", "CEB604Message"))
    assert stack.status(list_id) == "revoked"
    assert history(stack, list_id)[-1]["applied"] is False


# --- pure helpers ----------------------------------------------------------------------------


def test_next_step_samples_review_then_inspection_then_concludes() -> None:
    assert lifecycle.next_step("120", 0.01, 0.05, 0.05) == "300"
    assert lifecycle.next_step("120", 0.07, 0.05, 0.05) == "500"
    assert lifecycle.next_step("120", 0.5, 0.05, 0.05) == "399"
    assert lifecycle.next_step("300", 0.01, 1.0, 0.0) == "399"
    assert lifecycle.next_step("500", 0.01, 0.0, 1.0) == "399"


def test_parcels_of_a_waybill_list_name_the_invt_no_when_given() -> None:
    from gateway.ecx.kinds_full import WAYBILL_TOTAL
    from gateway.xmlsafe import parse

    items = [
        ecx.Parcel("EO1", "YT1", invt_no="29912026E000000001"),
        ecx.Parcel("EO2", "YT2"),
    ]
    data = ecx.waybill_list_message(ecx.DEMO_AGENT, items, ecx.Batch("WB1"))
    rec = next(WAYBILL_TOTAL.records(parse(data).getroot()))
    assert lifecycle.parcels_of(WAYBILL_TOTAL, rec) == [
        {"logistics_no": "YT1", "invt_no": "29912026E000000001"},
        {"logistics_no": "YT2", "invt_no": ""},
    ]


def test_a_refused_modification_names_the_states_that_allow_it(make_stack: MakeStack) -> None:
    """R-COM-5 / R-ECX-5: an inventory list on its way to customs cannot be modified; the
    refusal says when it can, revoked included (nothing started: the list stays pending)."""
    from gateway.errors import InvalidMessage

    stack = make_stack()
    parcel = ecx.Parcel("EO2026112299001", "YT7300000990001", ebc=stack.ebc, ebp=PLATFORM,
                        carrier=stack.carrier)  # fmt: skip
    stack.declare_lists(ecx.inventory_message(stack.ebc, [parcel]))
    with pytest.raises(InvalidMessage) as refused:
        stack.submit(ecx.inventory_message(stack.ebc, [parcel], app_type="2"))
    (violation,) = refused.value.violations
    assert violation.rule == "R-COM-5"
    assert "inventory is pending_sign" in violation.message
    assert violation.message.endswith(
        "storage failed, or concluded, inspection, manual_review, revoked or stored"
    ), violation.message


def test_customs_sends_each_lists_receipts_in_returntime_order(make_stack: MakeStack) -> None:
    """However long customs' own transaction takes (here: 60 lists compared in one), a
    step's receipt leaves at its returnTime and the next step counts from there: a list's
    399 never leaves before the 120 it follows (were it to, the gateway would rightly keep
    the late 120 unapplied, R-COM-4, and the list would skip `stored`)."""
    stack = make_stack("s", **NO_SAMPLING).start()
    listed = declare_lists(stack, 60, start=1101)
    assert stack.sim is not None
    with stack.sim.db.session() as session:
        rows = session.scalars(select(Scheduled).order_by(Scheduled.due, Scheduled.id)).all()
        sent: dict[str, list[tuple[str, str]]] = {}  # copNo → (returnStatus, returnTime)
        for row in rows:  # in the order customs sends them
            for entity in _inventory_entities(row.body):
                sent.setdefault(entity["copNo"], []).append(
                    (entity["returnStatus"], entity["returnTime"])
                )
    for item in listed:
        steps = sent[ecx.inventory_cop_no(item.parcel.order_no)]
        assert [status for status, _ in steps] == ["2", "120", "399"], steps
        assert [at for _, at in steps] == sorted(at for _, at in steps), steps
        assert path(stack, item.doc_id)[-2:] == ["stored", "concluded"]


def _inventory_entities(envelope: bytes) -> list[dict[str, str]]:
    """Every InventoryReturn entity of one scheduled envelope (other receipts: none)."""
    root = parse(unwrap(envelope).data)
    return [
        {etree.QName(child).localname: child.text or "" for child in entity}
        for entity in root.iter("{*}InventoryReturn")
    ]


def test_a_new_list_is_saved_before_it_is_declared_R_ECX_2(make_stack: MakeStack) -> None:
    """清单申报之前必须先进行暂存操作 (manual 004 §3.1): a new list declared in its first message
    is refused naming the rule, nothing stored; saved first, the same message declares it."""
    from gateway.core.models import Document
    from gateway.errors import InvalidMessage

    stack = make_stack().start(sim=False)
    parcel = ecx.Parcel("EO2026112299002", "YT7300000990002", ebc=stack.ebc, ebp=PLATFORM,
                        carrier=stack.carrier)  # fmt: skip
    declared = ecx.inventory_message(stack.ebc, [parcel])
    with pytest.raises(InvalidMessage) as refused:
        stack.submit(declared)
    (violation,) = refused.value.violations
    assert violation.rule == "R-ECX-2" and "暂存" in violation.message
    assert violation.field.endswith("/appStatus") and "copNo=" in violation.field
    with stack.gateway.db.session() as session:
        assert session.query(Document).count() == 0  # nothing kept of the refused message
    saved = stack.submit(ecx.as_saved(declared)).documents[0]
    assert saved.status == "saved"
    (doc,) = stack.submit(declared).documents
    assert (doc.id, doc.status) == (saved.id, "pending_sign")
