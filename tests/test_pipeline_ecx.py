"""Each kind of the rest of the export set goes through the whole pipeline over the real
RabbitMQ with the simulated customs' generic behaviour: submit → signed → sent → declaring
(e-port, 2) → stored (customs, 120), its receipts correlated by the kind's business key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from gateway.core.models import Receipt
from gateway.ecx import kinds_full as ecx_full
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.errors import DuplicateDocument
from gateway.xmlsafe import parse
from receipts.parse import RECEIPT_KINDS
from schemas import validate
from tests.stack import PLATFORM, Stack

pytestmark = pytest.mark.integration

CUSTOMS_PATH = ["pending_sign", "signed", "sent", "declaring", "stored"]

ORDERS = samples.order_numbers(2, start=801)
LOGISTICS = samples.logistics_numbers(2, start=801)
INVT_NOS = ecx.inventory_numbers(2, start=801)


def _parcels(stack: Stack, declared: bool = False) -> list[ecx.Parcel]:
    invt = INVT_NOS if declared else [None, None]
    return [
        ecx.Parcel(o, n, ebc=stack.ebc, ebp=PLATFORM, carrier=stack.carrier, invt_no=i)
        for o, n, i in zip(ORDERS, LOGISTICS, invt, strict=True)
    ]


# kind name → (message from the stack's parties, sent by the e-commerce enterprise?)
MESSAGES: dict[str, Callable[[Stack], tuple[bytes, bool]]] = {
    "arrival": lambda s: (
        ecx.arrival_message(s.carrier, LOGISTICS, ecx.Batch("AR801", 2, 1), carrier=s.carrier),
        False,
    ),
    "departure": lambda s: (
        ecx.departure_message(s.carrier, LOGISTICS, ecx.Batch("DP801", 1, 1)),
        False,
    ),
    "waybill_total": lambda s: (
        ecx.waybill_list_message(
            s.carrier, _parcels(s, True), ecx.Batch("WB801"), carrier=s.carrier
        ),
        False,
    ),
}


def _path(stack: Stack, doc_id: int) -> list[str]:
    return [h["to"] for h in stack.view(doc_id)["history"] if h["applied"]]


#: kinds whose customs path goes on after storage or needs a list customs holds: the
#: inventory lifecycle and the revoke application (R-ECX-5, tests/test_inventory_lifecycle.py),
#: returns and tallies (R-ECX-7, tests/test_refunds.py), summary applications of closed lists
#: (R-ECX-8, tests/test_summary_e2e.py)
OWN_LIFECYCLE = {"inventory", "invt_cancel", "refund", "refund_tally", "summary"}
GENERIC_KINDS = [k for k in ecx_full.KINDS if k.name not in OWN_LIFECYCLE]


@pytest.mark.parametrize("kind", GENERIC_KINDS, ids=lambda k: k.name)
def test_kind_goes_through_the_whole_pipeline(stack: Stack, kind) -> None:  # type: ignore[no-untyped-def]
    data, by_ebc = MESSAGES[kind.name](stack)
    result = stack.submit(data, None if by_ebc else stack.carrier.code)
    assert result.message_type == kind.message_type
    assert result.documents and {d.kind for d in result.documents} == {kind.name}
    for doc in result.documents:
        assert stack.wait_status(doc.id, "stored") == "stored", stack.view(doc.id)["history"]
        assert _path(stack, doc.id) == CUSTOMS_PATH
        history = stack.view(doc.id)["history"]
        assert [h["return_status"] for h in history if h["source"] == "customs"] == ["2", "120"]
        numbers = stack.view(doc.id)["customs_numbers"]
        # assigned by customs, kept on the document (CEB702 keeps only sumNo, its key)
        assert set(numbers) == set(RECEIPT_KINDS[kind.receipt_type].assigned)
        assert all(len(numbers[n]) == 18 for n in ("preNo", "invtNo", "sumNo") if n in numbers)
    # The receipts customs sent are valid against the receipt XSDs (preNo C18 and all).
    with stack.gateway.db.session() as session:
        rows = session.scalars(select(Receipt).where(Receipt.msg_type == kind.receipt_type))
        raws = [r.raw for r in rows]
    assert len(raws) == 2
    assert all(validate(parse(raw)) == [] for raw in raws)


def test_a_batch_is_one_record_per_message_and_a_key_is_declared_once(stack: Stack) -> None:
    def arrival(nos: list[str], seq: int, seed: int = 0) -> bytes:
        batch = ecx.Batch("AR802", 2, seq)
        return ecx.arrival_message(stack.carrier, nos, batch, carrier=stack.carrier, seed=seed)

    first = stack.submit(arrival(LOGISTICS[:1], 1), stack.carrier.code).documents[0]
    second = stack.submit(arrival(LOGISTICS[1:], 2), stack.carrier.code).documents[0]
    assert (first.business_key, second.business_key) == ("AR802|1", "AR802|2")
    with pytest.raises(DuplicateDocument):  # R-COM-5: (copNo, msgSeqNo) is live already
        stack.submit(arrival(LOGISTICS, 1, seed=1), stack.carrier.code)
    for doc in (first, second):
        assert stack.wait_status(doc.id, "stored") == "stored"
