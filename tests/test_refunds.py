"""Returns (退货申请单, CEB213) and return tallies (理货明细单, CEB215) of export parcels
(R-ECX-7) end to end over the real RabbitMQ: a return needs a released or closed inventory
list (R-ECX-5); customs stores it (120), concludes it (399) and releases the returned goods
(800) once their tally — the return's arrival at the supervised place (manual §4.3) — is
stored. A return or tally naming a list customs does not know is refused (100) saying so."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from gateway.core.models import Receipt
from gateway.ecx import samples_lists as ecx
from gateway.xmlsafe import parse
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
    send_departure,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration


def _refund(stack: Stack, parcel: ecx.Parcel) -> int:
    result = stack.submit(ecx.refund_message(stack.ebc, [parcel]))
    assert [d.kind for d in result.documents] == ["refund"]
    return int(result.documents[0].id)


def _tally(stack: Stack, parcel: ecx.Parcel) -> int:
    result = stack.submit(ecx.refund_detail_message(stack.carrier, [parcel]), stack.carrier.code)
    assert [d.kind for d in result.documents] == ["refund_tally"]
    return int(result.documents[0].id)


def test_a_return_and_its_tally_for_a_closed_list(make_stack: MakeStack) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    listed = declare_lists(stack, 1, start=2001)
    release(stack, listed, "2001")
    parcel = listed[0].parcel
    send_departure(stack, [parcel.logistics_no], "DP2001")
    assert stack.wait_status(listed[0].doc_id, "closed") == "closed"

    refund_id = _refund(stack, parcel)
    assert stack.wait_status(refund_id, "concluded") == "concluded", history(stack, refund_id)
    tally_id = _tally(stack, parcel)
    assert stack.wait_status(tally_id, "stored") == "stored", history(stack, tally_id)
    assert customs_steps(stack, tally_id) == ["2", "120"]
    # the goods came back to the supervised place: the return is released (its final state)
    assert stack.wait_status(refund_id, "released") == "released", history(stack, refund_id)
    assert customs_steps(stack, refund_id) == ["2", "120", "399", "800"]
    assert path(stack, refund_id)[-4:] == ["declaring", "stored", "concluded", "released"]
    assert stack.status(listed[0].doc_id) == "closed"  # the list itself stays closed
    with stack.gateway.db.session() as session:
        raws = session.scalars(
            select(Receipt.raw).where(Receipt.msg_type.in_(("CEB214Message", "CEB216Message")))
        ).all()
    assert len(raws) == 6 and all(validate(parse(raw)) == [] for raw in raws)


def test_a_tally_before_the_return_releases_it_once_concluded(make_stack: MakeStack) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    listed = declare_lists(stack, 1, start=2011)
    release(stack, listed, "2011")
    tally_id = _tally(stack, listed[0].parcel)
    assert stack.wait_status(tally_id, "stored") == "stored", history(stack, tally_id)
    refund_id = _refund(stack, listed[0].parcel)
    assert stack.wait_status(refund_id, "released") == "released", history(stack, refund_id)
    assert customs_steps(stack, refund_id) == ["2", "120", "399", "800"]


def test_a_return_for_an_unknown_list_is_refused(stack: Stack) -> None:
    (parcel,) = parcels(stack, 1, start=2021)  # the sample's made-up invtNo
    refund_id = _refund(stack, parcel)
    assert stack.wait_status(refund_id, "returned") == "returned", history(stack, refund_id)
    assert customs_steps(stack, refund_id) == ["2", "100"]
    info = history(stack, refund_id)[-1]["info"]
    assert "清单不存在" in info and "invtNo=" in info, info


def test_a_return_for_a_list_not_yet_released_is_refused(make_stack: MakeStack) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    (item,) = declare_lists(stack, 1, start=2031)
    refund_id = _refund(stack, item.parcel)
    assert stack.wait_status(refund_id, "returned") == "returned", history(stack, refund_id)
    info = history(stack, refund_id)[-1]["info"]
    assert "未放行" in info and item.parcel.invt_no in info, info


def test_a_second_return_of_the_same_list_is_refused(make_stack: MakeStack) -> None:
    stack = make_stack("s", **NO_SAMPLING).start()
    listed = declare_lists(stack, 1, start=2041)
    release(stack, listed, "2041")
    first = _refund(stack, listed[0].parcel)
    assert stack.wait_status(first, "stored") == "stored"
    # another return (its own number, coElNo, comes from the order no.) of the same list
    again = replace(listed[0].parcel, order_no=listed[0].parcel.order_no + "R")
    second = _refund(stack, again)
    assert stack.wait_status(second, "returned") == "returned", history(stack, second)
    assert "已有退货申请单" in history(stack, second)[-1]["info"]


def test_a_tally_naming_an_unknown_list_is_refused(stack: Stack) -> None:
    (parcel,) = parcels(stack, 1, start=2051)
    tally_id = _tally(stack, parcel)
    assert stack.wait_status(tally_id, "returned") == "returned", history(stack, tally_id)
    assert "清单不存在" in history(stack, tally_id)[-1]["info"]
