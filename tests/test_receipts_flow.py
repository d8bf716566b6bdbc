"""Receipts over the real receipts queue, without the simulator: we play customs here.

Correlation by business key, never by receipt guid; returnTime order; final states are
final (R-COM-4); anything that matches nothing is kept for ops.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.ecx import samples
from receipts.build import build_message_return, build_receipt, new_guid, return_time
from tests.stack import PLATFORM, Stack, publish_receipt, wait_value
from transports import wrap

pytestmark = pytest.mark.integration


def _sent_order(make_stack, order_no: str) -> tuple[Stack, int]:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, [order_no]))
    doc_id = result.documents[0].id
    assert stack.wait_status(doc_id, "sent") == "sent"
    return stack, doc_id


def _publish(stack: Stack, receipt: bytes, msg_type: str = "CEB304Message") -> None:
    env = wrap(
        receipt, msg_type=msg_type, sender_id="DXPEDCCEB0000003", receiver_ids=(stack.ebc.dxp_id,)
    )
    publish_receipt(stack, env.body, env.cop_msg_id)  # as customs' own broker user


def _order_return(stack: Stack, order_no: str, status: str, at: datetime, **kw: str) -> bytes:
    entity = {
        "guid": new_guid(),
        "ebpCode": PLATFORM.code,
        "ebcCode": stack.ebc.code,
        "orderNo": order_no,
        "returnStatus": status,
        "returnTime": return_time(at),
        "returnInfo": kw.pop("info", f"status {status}"),
    }
    return build_receipt("CEB304Message", [entity], **kw)


def _history(stack: Stack, doc_id: int) -> list[tuple[str, bool]]:
    return [(h["to"], h["applied"]) for h in stack.view(doc_id)["history"]]


def _receipt_count(stack: Stack) -> int:
    from sqlalchemy import func, select

    from gateway.core.models import Receipt

    with stack.gateway.db.session() as session:
        return session.scalar(select(func.count()).select_from(Receipt)) or 0


def test_receipts_twice_and_out_of_order_end_in_the_same_state(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack, doc_id = _sent_order(make_stack, "EO2026112200101")
    t0 = datetime.now(UTC)
    stored = _order_return(stack, "EO2026112200101", "120", t0 + timedelta(seconds=2))
    declaring = _order_return(stack, "EO2026112200101", "2", t0 + timedelta(seconds=1))
    for receipt in (stored, declaring, stored):  # newest first, then older, then a repeat
        _publish(stack, receipt)
    wait_value(lambda: _receipt_count(stack), lambda n: n >= 2, 10)
    assert stack.wait_status(doc_id, "stored") == "stored"
    history = _history(stack, doc_id)
    assert history[-2:] == [("stored", True), ("stored", False)]  # the late "2" is kept, unapplied
    assert _receipt_count(stack) == 2  # the byte-identical repeat is recognised, not re-applied


def test_nothing_moves_a_record_out_of_a_final_state(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack, doc_id = _sent_order(make_stack, "EO2026112200102")
    t0 = datetime.now(UTC)
    _publish(stack, _order_return(stack, "EO2026112200102", "120", t0))
    assert stack.wait_status(doc_id, "stored") == "stored"
    _publish(stack, _order_return(stack, "EO2026112200102", "100", t0 + timedelta(seconds=5)))
    wait_value(lambda: len(_history(stack, doc_id)), lambda n: n >= 6, 10)
    assert stack.status(doc_id) == "stored"
    last = stack.view(doc_id)["history"][-1]
    assert not last["applied"] and "final state" in last["info"]


def test_default_namespace_gb2312_receipt_is_applied(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack, doc_id = _sent_order(make_stack, "EO2026112200103")
    receipt = _order_return(
        stack,
        "EO2026112200103",
        "100",
        datetime.now(UTC),
        info="订单商品信息与备案不符",
        default_namespace=True,
        encoding="GB2312",
    )
    assert b"xmlns=" in receipt and b"GB2312" in receipt
    _publish(stack, receipt)
    assert stack.wait_status(doc_id, "returned") == "returned"
    assert stack.view(doc_id)["history"][-1]["info"] == "订单商品信息与备案不符"


def test_receipt_guid_is_never_used_to_correlate(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack, doc_id = _sent_order(make_stack, "EO2026112200104")
    # A receipt whose guid is that of another record but whose business key is ours.
    _publish(stack, _order_return(stack, "EO2026112200104", "120", datetime.now(UTC)))
    assert stack.wait_status(doc_id, "stored") == "stored"


def test_unmatched_and_unreadable_receipts_are_kept_for_ops(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack, _doc = _sent_order(make_stack, "EO2026112200105")
    _publish(stack, _order_return(stack, "EO-NOBODY-KNOWS", "120", datetime.now(UTC)))
    _publish(stack, b"<not-a-receipt/>")
    wait_value(lambda: _receipt_count(stack), lambda n: n >= 2, 10)
    from gateway.core import queries

    with stack.gateway.db.session() as session:
        unmatched = queries.receipts_by_outcome(session, "unmatched")
        unreadable = queries.receipts_by_outcome(session, "unreadable")
    assert unmatched[0]["parsed"]["entities"][0]["fields"]["orderNo"] == "EO-NOBODY-KNOWS"
    assert "not a known receipt" in unreadable[0]["error"]


def test_ceb900_security_failure_is_correlated_by_cop_msg_id(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack, doc_id = _sent_order(make_stack, "EO2026112200106")
    cop_msg_id = stack.view(doc_id)["versions"][0]["cop_msg_id"]
    ret = build_message_return(
        ori_cop_msg_id=cop_msg_id,
        ori_message_type="CEB303Message",
        return_status="-1",
        return_info="[Code:1001;Desc:签名无效]",
        ori_biz_message=b"<x/>",
    )
    _publish(stack, ret, "CEB900Message")
    assert stack.wait_status(doc_id, "security_failed") == "security_failed"


def test_two_steps_in_the_same_millisecond_end_at_the_later_step(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack, doc_id = _sent_order(make_stack, "EO2026112200107")
    same = datetime.now(UTC)
    stored = _order_return(stack, "EO2026112200107", "120", same)
    declaring = _order_return(stack, "EO2026112200107", "2", same)
    _publish(stack, declaring)
    _publish(stack, stored)
    _publish(stack, declaring)  # and the earlier step again, late: it must not undo "stored"
    assert stack.wait_status(doc_id, "stored") == "stored"
    wait_value(lambda: _receipt_count(stack), lambda n: n >= 2, 10)
    assert stack.status(doc_id) == "stored"
