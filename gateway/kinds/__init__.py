"""Registry of document kinds, by message type, receipt entity and name."""

from __future__ import annotations

from gateway.appointments.kinds import KINDS as APPOINTMENT_KINDS
from gateway.kinds.base import DocumentKind, Record, head_fields, key_text
from gateway.kinds.ecx import KINDS as ECX_KINDS
from gateway.kinds.ecx_full import KINDS as ECX_FULL_KINDS

KINDS = (*ECX_KINDS, *ECX_FULL_KINDS, *APPOINTMENT_KINDS)

BY_MESSAGE = {k.message_type: k for k in KINDS}
BY_RECEIPT_ENTITY = {k.receipt_entity: k for k in KINDS}
BY_NAME = {k.name: k for k in KINDS}


def for_message(message_type: str) -> DocumentKind | None:
    return BY_MESSAGE.get(message_type)


def for_receipt_entity(entity: str) -> DocumentKind | None:
    return BY_RECEIPT_ENTITY.get(entity)


__all__ = [
    "BY_MESSAGE",
    "BY_NAME",
    "BY_RECEIPT_ENTITY",
    "DocumentKind",
    "Record",
    "for_message",
    "for_receipt_entity",
    "head_fields",
    "key_text",
]
