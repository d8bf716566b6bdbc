"""Customs receipts: parse them in any namespace form and encoding, build them for the simulator."""

from receipts.build import build_message_return, build_receipt, new_guid, return_time
from receipts.parse import (
    ASSIGNED_FIELDS,
    CORRELATION_FIELDS,
    RECEIPT_KINDS,
    ParsedReceipt,
    ReceiptEntity,
    ReceiptKind,
    exchange_code,
    is_error,
    parse_receipt,
    parse_return_time,
)

__all__ = [
    "ASSIGNED_FIELDS",
    "CORRELATION_FIELDS",
    "RECEIPT_KINDS",
    "ParsedReceipt",
    "ReceiptEntity",
    "ReceiptKind",
    "build_message_return",
    "build_receipt",
    "exchange_code",
    "is_error",
    "new_guid",
    "parse_receipt",
    "parse_return_time",
    "return_time",
]
