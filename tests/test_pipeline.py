"""End to end over the real RabbitMQ: intake → sign → outbox → customs-sim → receipts → status.

R-COM-1 (XSD first), R-COM-4 (status history), R-COM-5 (modify only where allowed),
R-ECX-1 (orders and waybills answered stored or failed).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.core.models import Message, Outbox
from gateway.ecx import samples
from gateway.errors import DuplicateDocument, InvalidMessage, StateConflict
from signers import verify
from tests.stack import PAYER, PLATFORM, Stack
from transports import unwrap

pytestmark = pytest.mark.integration

CUSTOMS_PATH = ["pending_sign", "signed", "sent", "declaring", "stored"]


def _path(stack: Stack, doc_id: int) -> list[str]:
    return [h["to"] for h in stack.view(doc_id)["history"] if h["applied"]]


def test_order_happy_path_reaches_stored_with_full_history(stack: Stack) -> None:
    data = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200001", "EO2026112200002"])
    result = stack.submit(data)
    assert [d.status for d in result.documents] == ["pending_sign", "pending_sign"]
    for doc in result.documents:
        assert stack.wait_status(doc.id, "stored") == "stored"
        assert _path(stack, doc.id) == CUSTOMS_PATH
    view = stack.view(result.documents[0].id)
    assert view["history"][-1]["return_status"] == "120"
    assert view["pre_no"].startswith("GW") and len(view["pre_no"]) == 18


def test_payment_and_waybill_happy_paths(stack: Stack) -> None:
    pay = stack.submit(samples.payment_message(stack.ebc, PLATFORM, PAYER, ["EO2026112200009"]))
    ship = samples.waybill_message(stack.carrier, [("YT2026112200009", stack.ebc)])
    way = stack.submit(ship, stack.carrier.code)
    for doc in (*pay.documents, *way.documents):
        assert stack.wait_status(doc.id, "stored") == "stored"
        assert _path(stack, doc.id) == CUSTOMS_PATH


def test_the_bytes_sent_are_the_bytes_signed_and_archived(stack: Stack) -> None:
    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200003"]))
    stack.wait_status(result.documents[0].id, "stored")
    with stack.gateway.db.session() as session:
        msg = session.get(Message, result.message_id)
        assert msg is not None and msg.signed and msg.envelope
        env = unwrap(msg.envelope)
        assert env.data == msg.signed  # no re-serialisation after signing
        assert env.sender_id == stack.ebc.dxp_id and env.receiver_ids == ("DXPEDCCEB0000003",)
        assert env.msg_type == "CEB303Message" and env.cop_msg_id == msg.cop_msg_id
        cert = stack.gateway.keyring.for_enterprise(msg_enterprise(session, msg))[0].certificate
    assert verify(msg.signed, trusted=cert).signature_uri.endswith("rsa-sha1")


def msg_enterprise(session, msg):  # type: ignore[no-untyped-def]
    from gateway.core.models import Enterprise

    return session.get(Enterprise, msg.enterprise_id)


def test_format_failure_comes_back_as_ceb900_and_sets_the_status(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(format_failure_rate=1.0).start()
    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200004"]))
    doc_id = result.documents[0].id
    assert stack.wait_status(doc_id, "format_failed") == "format_failed"
    last = stack.view(doc_id)["history"][-1]
    assert "Code:0002" in last["info"] and last["source"] == "customs"
    # A format failure never reached customs' books: the enterprise may fix and resend (R-COM-5)
    fixed = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200004"], app_type="2", seed=5)
    assert stack.submit(fixed).documents[0].version == 2


def test_signature_tampered_in_transit_is_refused_by_customs(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack()
    stack.start(workers=False)
    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200005"]))
    stack.gateway.signer.run_once()
    with stack.gateway.db.session() as session:
        row = session.scalars(select(Outbox).where(Outbox.gateway_message_id.is_not(None))).one()
        env = unwrap(row.body)
        tampered = env.data.replace(b"<ceb:freight>", b"<ceb:freight>1", 1)
        assert tampered != env.data
        from transports import wrap

        row.body = wrap(
            tampered, msg_type=env.msg_type, sender_id=env.sender_id, cop_msg_id=env.cop_msg_id
        ).body
    stack.threads += stack.gateway.workers(stack.stop)
    doc_id = result.documents[0].id
    assert stack.wait_status(doc_id, "security_failed") == "security_failed"
    assert "Code:1004" in stack.view(doc_id)["history"][-1]["info"]


def test_duplicate_submission_gives_one_record(stack: Stack) -> None:
    data = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200006"])
    first, again = stack.submit(data), stack.submit(data)
    assert again.duplicate and not first.duplicate
    assert again.message_id == first.message_id
    assert [d.id for d in again.documents] == [d.id for d in first.documents]
    assert stack.wait_status(first.documents[0].id, "stored") == "stored"
    assert stack.sim is not None
    from gateway.core.customs_sim.service import stats

    assert stats(stack.sim.db)["envelopes"] == 1


def test_same_key_as_new_is_refused_and_modify_follows_the_state(stack: Stack) -> None:
    stored = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200007"]))
    stack.wait_status(stored.documents[0].id, "stored")
    with pytest.raises(DuplicateDocument) as dup:
        stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200007"], seed=8))
    assert dup.value.violations[0].rule == "R-COM-5.duplicate"
    with pytest.raises(StateConflict) as conflict:
        stack.submit(
            samples.order_message(stack.ebc, PLATFORM, ["EO2026112200007"], app_type="2", seed=8)
        )
    assert conflict.value.violations[0].rule == "R-COM-5"
    assert "stored" in conflict.value.violations[0].message


def test_returned_order_is_modified_and_then_stored(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(return_rate=1.0).start()
    first = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200008"]))
    doc_id = first.documents[0].id
    assert stack.wait_status(doc_id, "returned") == "returned"
    assert stack.sim is not None
    stack.sim.sim = type(stack.sim.sim)(**{**stack.sim.sim.__dict__, "return_rate": 0.0})
    fix = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200008"], app_type="2", seed=3)
    assert stack.submit(fix).documents[0].version == 2
    assert stack.wait_status(doc_id, "stored") == "stored"
    assert _path(stack, doc_id)[-6:] == ["returned", *CUSTOMS_PATH]


def test_invalid_message_is_refused_whole_and_nothing_is_stored(stack: Stack) -> None:
    good = samples.order_message(stack.ebc, PLATFORM, ["EO2026112200010"])
    bad = good.replace(b"<ceb:currency>142</ceb:currency>", b"<ceb:currency>999</ceb:currency>", 1)
    with pytest.raises(InvalidMessage) as err:
        stack.submit(bad)
    assert {v.rule for v in err.value.violations} == {"R-COM-1.code"}
    with stack.gateway.db.session() as session:
        assert session.scalars(select(Message)).first() is None


def test_every_status_change_is_notified_on_the_enterprise_queue(stack: Stack) -> None:
    import json

    import pika

    from tests.transport_fixtures import AMQP_URL

    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200011"]))
    doc_id = result.documents[0].id
    assert stack.wait_status(doc_id, "stored") == "stored"
    queue = stack.gateway.topology.notify_queue(stack.ebc.code)
    seen: list[str] = []
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        for _m, _p, body in channel.consume(queue, auto_ack=True, inactivity_timeout=3):
            if body is None:
                break
            note = json.loads(body)
            assert note["enterprise"] == stack.ebc.code
            seen += [c["to"] for c in note["changes"] if c["document_id"] == doc_id]
            if "stored" in seen:
                break
        other = stack.gateway.topology.notify_queue(stack.carrier.code)
        carrier_waiting = channel.queue_declare(other, passive=True).method.message_count
    finally:
        connection.close()
    assert seen == CUSTOMS_PATH
    assert carrier_waiting == 0  # another enterprise is told nothing of these records
