"""Simulated customs for the rest of the export set: the generic e-commerce behaviour
(e-port "declaring" 2, then customs' 120 or 100), with the numbers customs assigns.

Real receipts of these kinds carry the pre-entry number (preNo, C18, mandatory in CEB508,
510, 604, 606, 608 and 702) and, for inventory lists and summaries, invtNo and sumNo. The
generic behaviour only echoes the record, whose preNo is empty on a first declaration, so
its receipts would not pass the receipt XSDs. This behaviour fills the numbers in first:
derived from the kind and the business key, so a modification keeps its numbers and a run
can be repeated. The inventory lifecycle, the four-document comparison and the summary
result (CEB792) are later work and will replace the entries they concern.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping
from dataclasses import replace
from typing import Any

from gateway.core.customs_sim.service import batched
from gateway.core.kinds import DocumentKind, Record, key_text
from gateway.ecx.kinds_full import KINDS

_DEFAULT_CUSTOMS = "2991"


def _digits(kind: DocumentKind, record: Record, what: str, count: int) -> str:
    seed = f"{kind.name}|{key_text(record.business_key)}|{what}".encode()
    return str(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))[-count:].zfill(count)


def _year(record: Record) -> str:
    stamp = record.fields.get("appTime", "")
    return stamp[:4] if stamp[:4].isdigit() else "2026"


def numbers(kind: DocumentKind, record: Record) -> dict[str, str]:
    """The numbers customs gives `record` (the record's own ones where it has them)."""
    customs = record.fields.get("customsCode") or _DEFAULT_CUSTOMS
    made = {"preNo": f"{customs}{_year(record)}{_digits(kind, record, 'preNo', 10)}"}
    if "invtNo" in kind.customs_number_fields and kind.name == "inventory":
        made["invtNo"] = f"{customs}{_year(record)}E{_digits(kind, record, 'invtNo', 9)}"
    if "sumNo" in kind.customs_number_fields:
        made["sumNo"] = f"{customs}{_year(record)}{_digits(kind, record, 'sumNo', 10)}"
    return {name: record.fields.get(name) or value for name, value in made.items()}


def with_numbers(kind: DocumentKind, record: Record) -> Record:
    return replace(record, fields={**record.fields, **numbers(kind, record)})


@batched  # the generic answer only: its records are kept in the run (customs_sim/books.py)
def generic_with_numbers(
    sim: Any, session: Any, kind: DocumentKind, records: list[Record], cop_msg_id: str, sender: str
) -> list[Any]:
    numbered = [with_numbers(kind, r) for r in records]
    result: list[Any] = sim._business(session, kind, numbered, cop_msg_id, sender)
    return result


def register(behaviours: MutableMapping[str, Callable[..., list[Any]]]) -> None:
    """Answer every kind of the rest of the export set that has no behaviour of its own."""
    for kind in KINDS:
        behaviours.setdefault(kind.name, generic_with_numbers)
