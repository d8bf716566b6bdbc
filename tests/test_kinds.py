"""A document kind declares, once, what the pipeline needs: its receipt (derived from the
business key, never declared again) and the operations each state allows (issue 10)."""

from __future__ import annotations

from gateway.appointments.codes import AptStatus
from gateway.appointments.kinds import APPOINTMENT
from gateway.core import registry
from gateway.core.kinds import Operation
from gateway.core.status import Status, status_of
from gateway.ecx.kinds_full import INVENTORY, SUMMARY
from gateway.ecx.status import EcxStatus
from receipts.parse import RECEIPT_KINDS


def test_every_receipt_kind_is_derived_from_its_document_kind() -> None:
    for kind in registry.kinds():
        receipt = RECEIPT_KINDS[kind.receipt_type]
        assert receipt.entity == kind.receipt_entity
        assert receipt.correlation == kind.key_fields
        assert receipt.fields[-3:] == ("returnStatus", "returnTime", "returnInfo")


def test_a_summary_receipt_assigns_the_sum_number_only() -> None:
    assert RECEIPT_KINDS[SUMMARY.receipt_type].assigned == ("sumNo",)
    assert "preNo" in SUMMARY.customs_number_fields


def test_operations_per_state() -> None:
    assert APPOINTMENT.allows(Operation.CANCEL, AptStatus.BOOKED)
    assert not APPOINTMENT.allows(Operation.CANCEL, AptStatus.CLEARED)
    assert APPOINTMENT.operations_in(AptStatus.OVERDUE) == [Operation.COPY, Operation.EXPLAIN]
    assert not APPOINTMENT.allows(Operation.COPY, Status.DELETED)  # 复制: any state held
    assert INVENTORY.allows(Operation.MODIFY, EcxStatus.REVOKED)
    assert INVENTORY.allows(Operation.DELETE, Status.RETURNED)
    assert INVENTORY.allows(Operation.MODIFY, Status.STORED)  # 清单改单, manual 004 §3.3
    assert not INVENTORY.allows(Operation.REVOKE, Status.STORED)  # declared nowhere yet


def test_a_stored_status_of_any_installed_system_reads_back() -> None:
    assert status_of("booked") is AptStatus.BOOKED
    assert status_of("finalised") is EcxStatus.FINALISED
    assert status_of("stored") is Status.STORED
