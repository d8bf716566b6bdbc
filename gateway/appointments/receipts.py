"""Building APT102/104/106/108 receipts (the simulated customs and tests use them).

Field order comes from the parser's table (`receipts.parse.RECEIPT_KINDS`), so a built
receipt always parses back; the namespace is the appointment messages' own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from gateway.appointments.codes import APT_NS
from receipts.build import build_receipt, return_time


def stamp(delay: float = 0.0) -> str:
    """returnTime `delay` seconds from now."""
    return return_time(datetime.now(UTC) + timedelta(seconds=delay))


def build(message_type: str, entities: Sequence[Mapping[str, str]]) -> bytes:
    """An APT receipt message: the standard's builder, in the appointment namespace."""
    stamped = [{"returnTime": stamp(), **entity} for entity in entities]
    return build_receipt(message_type, stamped, namespace=APT_NS, prefix="apt")
