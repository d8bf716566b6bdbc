"""Building BDR102/104/106 receipts (the simulated customs and tests use them).

Field order comes from the parser's table (`receipts.parse`, derived from the kinds), so a
built receipt always parses back; the namespace is the BDR messages' own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.border.codes import BDR_NS
from receipts.build import build_receipt, epoch_return_time


def build(message_type: str, entities: Sequence[Mapping[str, str]], at: float) -> bytes:
    """A receipt message; returnTime of every entity without one is epoch `at`."""
    stamped = [{"returnTime": epoch_return_time(at), **entity} for entity in entities]
    return build_receipt(message_type, stamped, namespace=BDR_NS, prefix="bdr")
