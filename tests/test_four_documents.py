"""The four-document comparison (四单比对, R-ECX-2) of the simulated customs, end to end over
the real RabbitMQ: a declared inventory list (CEB603) is compared with the order (CEB303),
the payment receipt (CEB403) and the waybill (CEB505) customs holds. A match is stored
(2 then 120); a mismatch is returned (100) naming it; a missing document is waited for
(`missing_document_wait`) and then named in the return; a modification (appType 2) of a
returned list fixes it (R-COM-5)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree

from gateway.codes import CEB_NS
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from tests.stack import PLATFORM, Stack, declare_documents, declare_waybills

pytestmark = pytest.mark.integration

CENT = Decimal("0.01")


def _parcels(stack: Stack, orders: list[str], waybills: list[str]) -> list[ecx.Parcel]:
    return [
        ecx.Parcel(o, n, ebc=stack.ebc, ebp=PLATFORM, carrier=stack.carrier)
        for o, n in zip(orders, waybills, strict=True)
    ]


def _edit_first_line(
    data: bytes, change: Callable[[Decimal, Decimal], tuple[Decimal, Decimal]]
) -> bytes:
    """The inventory with its first line's (qty, price) changed, totalPrice kept qty × price."""
    root = etree.fromstring(data)
    ns = {"ceb": CEB_NS}
    line = root.find("ceb:Inventory/ceb:InventoryList", ns)
    assert line is not None
    qty_el, qty1_el = line.find("ceb:qty", ns), line.find("ceb:qty1", ns)
    price_el, total_el = line.find("ceb:price", ns), line.find("ceb:totalPrice", ns)
    assert qty_el is not None and price_el is not None and total_el is not None
    qty, price = change(Decimal(qty_el.text or "0"), Decimal(price_el.text or "0"))
    if qty1_el is not None and qty1_el.text == qty_el.text:
        qty1_el.text = str(qty)
    qty_el.text, price_el.text = str(qty), str(price)
    total_el.text = str((qty * price).quantize(CENT))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8")


def _customs_info(stack: Stack, doc_id: int) -> list[tuple[str, str]]:
    history = stack.view(doc_id)["history"]
    return [(h["return_status"], h["info"] or "") for h in history if h["source"] == "customs"]


def _declare_inventory(stack: Stack, data: bytes) -> int:
    result = stack.declare_lists(data)
    assert [d.kind for d in result.documents] == ["inventory"]
    return int(result.documents[0].id)


def test_all_four_consistent_is_stored(stack: Stack) -> None:
    orders, waybills = samples.order_numbers(1, start=901), samples.logistics_numbers(1, start=901)
    declare_documents(stack, orders, waybills)
    doc_id = _declare_inventory(
        stack, ecx.inventory_message(stack.ebc, _parcels(stack, orders, waybills))
    )
    assert "stored" in stack.wait_reached(doc_id, "stored"), stack.view(doc_id)["history"]
    # [:2]: the lifecycle goes on after storage (R-ECX-5, tests/test_inventory_lifecycle.py)
    assert [s for s, _ in _customs_info(stack, doc_id)][:2] == ["2", "120"]


def test_quantity_mismatch_is_returned_naming_it_and_a_modification_fixes_it(stack: Stack) -> None:
    orders, waybills = samples.order_numbers(1, start=902), samples.logistics_numbers(1, start=902)
    declare_documents(stack, orders, waybills)
    parcels = _parcels(stack, orders, waybills)
    wrong = _edit_first_line(ecx.inventory_message(stack.ebc, parcels), lambda q, p: (q + 1, p))
    doc_id = _declare_inventory(stack, wrong)
    assert stack.wait_status(doc_id, "returned") == "returned", stack.view(doc_id)["history"]
    status, info = _customs_info(stack, doc_id)[-1]
    assert status == "100"
    assert "四单比对不符" in info and "数量" in info and orders[0] in info, info
    # R-COM-5: a returned list may be modified; the fixed version (appType 2) is stored.
    fixed = ecx.inventory_message(stack.ebc, parcels, app_type="2")
    result = stack.submit(fixed)
    assert [d.id for d in result.documents] == [doc_id]
    path = stack.wait_reached(doc_id, "stored")
    assert path.index("returned") < path.index("stored"), stack.view(doc_id)["history"]
    assert [s for s, _ in _customs_info(stack, doc_id)][:4] == ["2", "100", "2", "120"]


def test_amount_above_the_order_is_returned(stack: Stack) -> None:
    orders, waybills = samples.order_numbers(1, start=903), samples.logistics_numbers(1, start=903)
    declare_documents(stack, orders, waybills)
    parcels = _parcels(stack, orders, waybills)
    dearer = _edit_first_line(ecx.inventory_message(stack.ebc, parcels), lambda q, p: (q, p + 10))
    doc_id = _declare_inventory(stack, dearer)
    assert stack.wait_status(doc_id, "returned") == "returned", stack.view(doc_id)["history"]
    status, info = _customs_info(stack, doc_id)[-1]
    assert status == "100" and "四单比对不符" in info and "金额" in info, info


def test_missing_waybill_is_returned_after_the_wait_naming_it(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack("s", missing_document_wait=1.0).start()
    orders, waybills = samples.order_numbers(1, start=904), samples.logistics_numbers(1, start=904)
    declare_documents(stack, orders, waybills, waybill=False)
    doc_id = _declare_inventory(
        stack, ecx.inventory_message(stack.ebc, _parcels(stack, orders, waybills))
    )
    assert "declaring" in stack.wait_reached(doc_id, "declaring")
    assert stack.wait_status(doc_id, "returned") == "returned", stack.view(doc_id)["history"]
    status, info = _customs_info(stack, doc_id)[-1]
    assert status == "100" and "运单" in info and waybills[0] in info, info
    assert "订单" not in info.split("未收到")[1].split(" ")[0]  # only the waybill is missing


def test_waybill_arriving_within_the_wait_is_stored(make_stack) -> None:  # type: ignore[no-untyped-def]
    # customs waits 300 s for a missing document; answered when the waybill came, the list
    # is stored long before (90 s leaves room for a loaded machine)
    stack = make_stack("s", missing_document_wait=300.0).start()
    orders, waybills = samples.order_numbers(1, start=905), samples.logistics_numbers(1, start=905)
    declare_documents(stack, orders, waybills, waybill=False)
    doc_id = _declare_inventory(
        stack, ecx.inventory_message(stack.ebc, _parcels(stack, orders, waybills))
    )
    assert stack.wait_status(doc_id, "declaring") == "declaring"
    declare_waybills(stack, orders, waybills)
    path = stack.wait_reached(doc_id, "stored", timeout=90)
    assert "stored" in path, stack.view(doc_id)["history"]
    assert [s for s, _ in _customs_info(stack, doc_id)][:2] == ["2", "120"]
