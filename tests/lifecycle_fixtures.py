"""Helpers for the inventory lifecycle tests (R-ECX-5) and the return tests (R-ECX-7): lists
declared through the whole pipeline, and the waybill lists, arrivals and departures that move
them on, all over the real RabbitMQ with the simulated customs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from tests.stack import PLATFORM, Stack, declare_documents

#: the `make_stack` fixture of tests/conftest.py
MakeStack = Callable[..., Stack]

#: customs samples nothing for review or inspection: every path is exact
NO_SAMPLING: dict[str, Any] = {"review_rate": 0.0, "inspection_rate": 0.0}


@dataclass(frozen=True)
class Listed:
    """A declared inventory list: its document and its parcel, with the invtNo customs gave."""

    doc_id: int
    parcel: ecx.Parcel


def parcels(stack: Stack, count: int, start: int) -> list[ecx.Parcel]:
    orders = samples.order_numbers(count, start=start)
    nos = samples.logistics_numbers(count, start=start)
    return [
        ecx.Parcel(o, n, ebc=stack.ebc, ebp=PLATFORM, carrier=stack.carrier)
        for o, n in zip(orders, nos, strict=True)
    ]


def declare_lists(stack: Stack, count: int, start: int, *, wait: str = "concluded") -> list[Listed]:
    """Order, payment and waybill of each parcel (R-ECX-2), then one inventory message with
    a list per parcel; wait until every list is `wait`."""
    made = parcels(stack, count, start)
    declare_documents(stack, [p.order_no for p in made], [p.logistics_no for p in made])
    result = stack.declare_lists(ecx.inventory_message(stack.ebc, made))
    listed = []
    for doc, parcel in zip(result.documents, made, strict=True):
        assert stack.wait_status(doc.id, wait) == wait, stack.view(doc.id)["history"]
        invt_no = stack.view(doc.id)["customs_numbers"]["invtNo"]
        listed.append(Listed(doc.id, replace(parcel, invt_no=invt_no)))
    return listed


def _by_carrier(stack: Stack, data: bytes) -> list[int]:
    ids = [d.id for d in stack.submit(data, stack.carrier.code).documents]
    for doc_id in ids:
        assert stack.wait_status(doc_id, "stored") == "stored", stack.view(doc_id)["history"]
    return ids


def send_waybill_list(
    stack: Stack, items: Sequence[ecx.Parcel], cop_no: str, seq: int = 1, count: int = 1
) -> list[int]:
    """A total/sub waybill list (CEB607, R-ECX-6) naming `items`, one part of a batch."""
    batch = ecx.Batch(cop_no, count, seq)
    data = ecx.waybill_list_message(stack.carrier, items, batch, carrier=stack.carrier)
    return _by_carrier(stack, data)


def send_arrival(
    stack: Stack, nos: Sequence[str], cop_no: str, seq: int = 1, count: int = 1
) -> list[int]:
    """An arrival (CEB507, R-ECX-3) of the parcels `nos`, one part of a batch."""
    batch = ecx.Batch(cop_no, count, seq)
    return _by_carrier(stack, ecx.arrival_message(stack.carrier, nos, batch, carrier=stack.carrier))


def send_departure(
    stack: Stack, nos: Sequence[str], cop_no: str, seq: int = 1, count: int = 1
) -> list[int]:
    """A departure (CEB509, R-ECX-4) of the parcels `nos`, one part of a batch."""
    batch = ecx.Batch(cop_no, count, seq)
    return _by_carrier(stack, ecx.departure_message(stack.carrier, nos, batch))


def release(stack: Stack, listed: Sequence[Listed], tag: str) -> None:
    """Waybill list and arrival of the lists' parcels: customs releases them (R-ECX-5)."""
    send_waybill_list(stack, [item.parcel for item in listed], f"WB{tag}")
    send_arrival(stack, [item.parcel.logistics_no for item in listed], f"AR{tag}")
    for item in listed:
        assert stack.wait_status(item.doc_id, "released") == "released", history(stack, item)


def history(stack: Stack, item: Listed | int) -> list[dict[str, Any]]:
    doc_id = item.doc_id if isinstance(item, Listed) else item
    return list(stack.view(doc_id)["history"])


def customs_steps(stack: Stack, doc_id: int) -> list[str]:
    """The returnStatus of every customs receipt applied to the document, in order."""
    return [
        h["return_status"]
        for h in history(stack, doc_id)
        if h["source"] == "customs" and h["applied"] and h["return_status"]
    ]


def path(stack: Stack, doc_id: int) -> list[str]:
    return stack.path(doc_id)
