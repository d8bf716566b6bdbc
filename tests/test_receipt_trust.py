"""Only customs may send receipts and reference data (issue 11, finding 2; R-COM-4).

Against the real RabbitMQ with the broker users of a deployment: the gateway's, customs'
(transports/permissions.py). A forged receipt — wrong SenderId, or published by another
broker user — is kept for ops and moves nothing; the broker itself refuses the gateway's user
on the receipts exchange and a `user_id` that is not the publisher's. returnTime is parsed
strictly: one far in the future is kept (`future`), a malformed one is never applied.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pika.exceptions import ChannelClosedByBroker
from sqlalchemy import select

from gateway.core.models import Receipt
from gateway.ecx import samples
from receipts.build import build_receipt, new_guid, return_time
from tests.stack import (
    AMQP_URL,
    GATEWAY_AMQP_URL,
    PLATFORM,
    Stack,
    erp_url,
    publish_as,
    publish_receipt,
    wait_value,
)
from transports import wrap
from transports.permissions import user_of

pytestmark = pytest.mark.integration

CUSTOMS = "DXPEDCCEB0000003"
ACCESS_REFUSED, PRECONDITION_FAILED = 403, 406


def _sent_order(make_stack: Any, order_no: str) -> tuple[Stack, int]:
    stack = make_stack().start(sim=False)
    doc_id = stack.submit(samples.order_message(stack.ebc, PLATFORM, [order_no])).documents[0].id
    assert stack.wait_status(doc_id, "sent") == "sent"
    return stack, doc_id


def _order_return(stack: Stack, order_no: str, status: str, stamp: str) -> bytes:
    entity = {
        "guid": new_guid(),
        "ebpCode": PLATFORM.code,
        "ebcCode": stack.ebc.code,
        "orderNo": order_no,
        "returnStatus": status,
        "returnTime": stamp,
        "returnInfo": f"status {status}",
    }
    return build_receipt("CEB304Message", [entity])


def _envelope(stack: Stack, receipt: bytes, sender: str = CUSTOMS, msg_type: str = "CEB304Message"):  # type: ignore[no-untyped-def]
    return wrap(receipt, msg_type=msg_type, sender_id=sender, receiver_ids=(stack.ebc.dxp_id,))


def _send(stack: Stack, receipt: bytes, sender: str = CUSTOMS, url: str = "") -> None:
    env = _envelope(stack, receipt, sender)
    publish_receipt(stack, env.body, env.cop_msg_id, url)


def _receipts(stack: Stack) -> list[tuple[str, str | None]]:
    with stack.gateway.db.session() as session:
        rows = session.scalars(select(Receipt).order_by(Receipt.id))
        return [(r.outcome, r.error) for r in rows]


def _wait_receipts(stack: Stack, count: int) -> list[tuple[str, str | None]]:
    return wait_value(lambda: _receipts(stack), lambda rows: len(rows) >= count, 30)  # type: ignore[no-any-return]


def _history(stack: Stack, doc_id: int) -> list[tuple[str, bool, str]]:
    return [(h["to"], h["applied"], h["info"] or "") for h in stack.view(doc_id)["history"]]


def _at(delta: float) -> str:
    return return_time(datetime.now(UTC) + timedelta(seconds=delta))


def test_forged_sender_id_is_kept_and_customs_real_receipts_still_apply(make_stack) -> None:  # type: ignore[no-untyped-def]
    order = "EO2026120400001"
    stack, doc_id = _sent_order(make_stack, order)
    # Published by customs' broker user, but SenderId is an enterprise's node, not customs'.
    _send(stack, _order_return(stack, order, "100", _at(2)), sender="DXPENT0000999999")
    (forged,) = _wait_receipts(stack, 1)
    assert forged[0] == "untrusted" and "SenderId" in (forged[1] or "")
    assert "R-COM-4" in (forged[1] or "")
    assert stack.status(doc_id) == "sent"
    # customs' real answers, stamped before the forged one, are applied
    _send(stack, _order_return(stack, order, "2", _at(0)))
    _send(stack, _order_return(stack, order, "120", _at(1)))
    assert stack.wait_status(doc_id, "stored") == "stored"
    assert "returned" not in stack.path(doc_id)


def test_receipt_published_by_another_broker_user_is_kept_not_applied(make_stack) -> None:  # type: ignore[no-untyped-def]
    order = "EO2026120400002"
    stack, doc_id = _sent_order(make_stack, order)
    # An administrator account (guest) may publish anywhere: the right envelope, from the
    # wrong broker user, is still not customs' answer.
    _send(stack, _order_return(stack, order, "100", _at(1)), url=AMQP_URL)
    (kept,) = _wait_receipts(stack, 1)
    assert kept[0] == "untrusted" and "user_id" in (kept[1] or "")
    # The gateway's own user reaches the receipts queue through the default exchange (it
    # needs that exchange for its answers): the gateway still tells it from customs.
    env = _envelope(stack, _order_return(stack, order, "100", _at(1)))
    topo = stack.gateway.topology
    publish_as(GATEWAY_AMQP_URL, "", topo.receipts_queue, env.body, message_id=env.cop_msg_id)
    assert [r[0] for r in _wait_receipts(stack, 2)] == ["untrusted", "untrusted"]
    assert stack.status(doc_id) == "sent"


def test_the_broker_lets_only_customs_publish_receipts(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    topo = stack.gateway.topology
    env = _envelope(stack, _order_return(stack, "EO2026120400003", "120", _at(0)))
    # Right SenderId, published by the gateway's broker user: refused by the broker.
    with pytest.raises(ChannelClosedByBroker) as refused:
        publish_as(GATEWAY_AMQP_URL, topo.receipts_exchange, stack.ebc.dxp_id, env.body,
                   message_id=env.cop_msg_id)  # fmt: skip
    assert refused.value.reply_code == ACCESS_REFUSED
    # ... and by an enterprise's broker user
    with pytest.raises(ChannelClosedByBroker) as refused:
        publish_as(erp_url(stack.ebc.code), topo.receipts_exchange, stack.ebc.dxp_id, env.body,
                   message_id=env.cop_msg_id)  # fmt: skip
    assert refused.value.reply_code == ACCESS_REFUSED
    # Claiming to be customs in user_id: the broker checks it against the connection's user.
    with pytest.raises(ChannelClosedByBroker) as refused:
        customs = user_of(stack.config.amqp.customs_url)
        publish_as(GATEWAY_AMQP_URL, "", topo.receipts_queue, env.body,
                   message_id=env.cop_msg_id, user_id=customs)  # fmt: skip
    assert refused.value.reply_code == PRECONDITION_FAILED


def test_far_future_return_time_is_kept_for_ops_not_applied(make_stack) -> None:  # type: ignore[no-untyped-def]
    order = "EO2026120400004"
    stack, doc_id = _sent_order(make_stack, order)
    _send(stack, _order_return(stack, order, "100", "99991231235959999"))
    (kept,) = _wait_receipts(stack, 1)
    assert kept[0] == "future" and "max_clock_skew" in (kept[1] or "")
    assert stack.status(doc_id) == "sent"
    # the record is not frozen: customs' real answers apply
    _send(stack, _order_return(stack, order, "2", _at(0)))
    _send(stack, _order_return(stack, order, "120", _at(1)))
    assert stack.wait_status(doc_id, "stored") == "stored"
    from gateway.core import queries

    with stack.gateway.db.session() as session:
        listed = queries.receipts_by_outcome(session, "future")
    assert [r["outcome"] for r in listed] == ["future"]


def test_malformed_return_time_is_never_applied_out_of_order(make_stack) -> None:  # type: ignore[no-untyped-def]
    order = "EO2026120400005"
    stack, doc_id = _sent_order(make_stack, order)
    _send(stack, _order_return(stack, order, "2", _at(0)))
    assert stack.wait_status(doc_id, "declaring") == "declaring"
    # no time at all; month 13; full-width digits (str.isdigit() takes them, and they sort
    # after every ASCII time: "newest" for ever)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in _at(5))
    for bad in ("notatime", "20261340256199000", full_width):
        _send(stack, _order_return(stack, order, "100", bad))
    _wait_receipts(stack, 4)
    ignored = wait_value(
        lambda: [h for h in _history(stack, doc_id) if not h[1]], lambda h: len(h) >= 3, 30
    )
    assert all("returnTime" in info and "R-COM-4" in info for _to, _a, info in ignored)
    assert stack.status(doc_id) == "declaring"
    _send(stack, _order_return(stack, order, "120", _at(1)))
    assert stack.wait_status(doc_id, "stored") == "stored"


def _apt110(stack: Stack, code: str, name: str) -> bytes:
    from gateway.appointments import refmessage

    return refmessage.build(
        {
            "enterprises": [
                {
                    "code": code,
                    "uscc": f"91330106MA2A{code[-6:]}",
                    "ciq_code": code,
                    "name": name,
                    "credit_class": "general",
                    "qualified": True,
                    "dishonest": True,
                }
            ]
        }  # fmt: skip
    )


def _apt_enterprise(stack: Stack, code: str) -> Any:
    from gateway.appointments.models import AptEnterprise

    with stack.gateway.db.session() as session:
        ent = session.get(AptEnterprise, code)
        return None if ent is None else (ent.name, ent.dishonest)


def test_forged_reference_data_is_ignored(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack().start(sim=False)
    forged_sender = wrap(_apt110(stack, "3301940901", "改名一"), msg_type="APT110Message",
                         sender_id="DXPENT0000999", receiver_ids=(stack.ebc.dxp_id,))  # fmt: skip
    publish_receipt(stack, forged_sender.body, forged_sender.cop_msg_id)
    forged_user = wrap(_apt110(stack, "3301940902", "改名二"), msg_type="APT110Message",
                       sender_id=CUSTOMS, receiver_ids=(stack.ebc.dxp_id,))  # fmt: skip
    publish_receipt(stack, forged_user.body, forged_user.cop_msg_id, url=AMQP_URL)
    real = wrap(_apt110(stack, "3301940903", "海关发布"), msg_type="APT110Message",
                sender_id=CUSTOMS, receiver_ids=(stack.ebc.dxp_id,))  # fmt: skip
    publish_receipt(stack, real.body, real.cop_msg_id)
    # consumed in order: once customs' own is in, the two before it were handled
    assert wait_value(lambda: _apt_enterprise(stack, "3301940903"), bool, 30) == ("海关发布", True)
    assert _apt_enterprise(stack, "3301940901") is None
    assert _apt_enterprise(stack, "3301940902") is None
    assert [r[0] for r in _receipts(stack)] == ["untrusted", "untrusted"]
