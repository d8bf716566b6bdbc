"""The four appointment document kinds and their intake hook (`store_checks`).

The hook runs inside the intake transaction with the submission time: it checks every rule
against the reference data and the other appointments, and — when a request passes — writes
the request's `Appointment` row in the same transaction, so the row commits or rolls back
with the document (`customs-gateway check --at` runs it in a transaction it rolls back).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.appointments import rules
from gateway.appointments.codes import (
    APPOINTMENT_STATUSES,
    APPROVED_OPEN,
    CANCELLABLE,
    MODIFIABLE,
    OPERATION_STATUSES,
    AptStatus,
)
from gateway.appointments.models import Appointment
from gateway.appointments.refdata import RefData
from gateway.codes import AppType
from gateway.core.kinds import DocumentKind, Operation, Record
from gateway.core.models import Enterprise
from gateway.core.status import Status
from gateway.errors import Violation

OPERATION_MANDATORY = ("copNo", "declarantCode")


def _records(checked: Any) -> list[tuple[int, Record]]:
    return list(enumerate(checked.records, start=1))


def check_requests(
    session: Session, ent: Enterprise, checked: Any, at: datetime
) -> list[Violation]:
    """R-APT-1..5 for every appointment of an APT101, then the rows of those that pass."""
    ref = RefData(session)
    requests = [rules.Request.of(rec, n) for n, rec in _records(checked)]
    found = [v for req in requests for v in rules.check_request(ref, req, ent.code, at)]
    if not found:
        for req in requests:
            _record_appointment(session, ent, req, at)
    return found


def _record_appointment(
    session: Session, ent: Enterprise, req: rules.Request, at: datetime
) -> None:
    if req.rec.app_type == AppType.DELETE or req.start is None:
        return
    key = (req.get("declarantCode"), req.get("copNo"))
    consignee = RefData(session).enterprise(req.get("consigneeCode"))
    row = session.scalar(
        select(Appointment).where(
            Appointment.declarant_code == key[0], Appointment.cop_no == key[1]
        )
    )
    values = {
        "declarant_name": req.get("declarantName"),
        "consignee_code": req.get("consigneeCode"),
        "consignee_name": consignee.name if consignee else "",
        "decl_port": req.get("declPort"),
        "ie_port": req.get("iePort"),
        "ie_flag": req.get("ieFlag"),
        "start_at": req.start,
        "end_at": req.start + rules.DURATION,
        "submitted_at": at if rules.is_declare(req.rec) else None,
        "reminded_at": None,
        "overdue_at": None,
    }
    if row is None:
        row = Appointment(
            enterprise_id=ent.id, declarant_code=key[0], cop_no=key[1], applied_at=at, **values
        )
        session.add(row)
        return
    for name, value in values.items():
        setattr(row, name, value)


def _operation(
    rule: str, head: str | None, body: Callable[..., list[Violation]]
) -> Callable[..., list[Violation]]:
    """A hook for an operation on an existing appointment (cancel, feedback, explanation)."""

    def hook(session: Session, ent: Enterprise, checked: Any, at: datetime) -> list[Violation]:
        found: list[Violation] = []
        for n, rec in _records(checked):
            where = rules.Where.of(rec, head, n)
            found += rules.common(rec, where, OPERATION_MANDATORY, ent.code)
            if rec.app_type == AppType.DELETE or not rules.is_declare(rec) or found:
                continue
            target = rules.target_or_violation(session, rec, where, rule)
            if isinstance(target, Violation):
                found.append(target)
                continue
            found += body(session, rec, where, target, at)
        return found

    return hook


def _cancel(
    session: Session, rec: Record, where: rules.Where, target: rules.Target, at: datetime
) -> list[Violation]:
    """R-APT-7. The manual's 取消预约 is a button: no reason is asked (`reason` is optional)."""
    return list(rules.check_cancel(target, where, at))


def _feedback(
    session: Session, rec: Record, where: rules.Where, target: rules.Target, at: datetime
) -> list[Violation]:
    entries = [
        ((_text(line, "entryId")), line.sourceline)
        for line in rec.element
        if _local(line) == "AptFeedbackList"
    ]
    return list(rules.check_feedback(RefData(session), target, where, entries))


def _explanation(
    session: Session, rec: Record, where: rules.Where, target: rules.Target, at: datetime
) -> list[Violation]:
    files = [rules.attachment_of(c) for c in rec.element if _local(c) == "AptAttachment"]
    found = list(rules.check_explanation(session, target, where, rec))
    if not rec.fields.get("content"):
        found.append(where.v("R-COM-2", "content", "must not be empty", ""))
    return found + list(rules.attachments(where, files, 1, "AptAttachment"))


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _text(element: etree._Element, name: str) -> str:
    return next(((c.text or "").strip() for c in element if _local(c) == name), "")


_KEY = ("declarantCode", "copNo")
#: the declarant declares (R-COM-3); the consignee it declares for is checked by R-APT-3
_PARTY = ("declarantCode",)
_ECHO = ("guid", "declarantCode", "copNo")
#: every APT receipt entity: keyed like its request, with the numbers customs gives (aptNo)
_RECEIPT = "guid declarantCode copNo preNo? aptNo?"

#: every state an application can be in but deleted: 复制 is offered for any of them
COPYABLE: frozenset[StrEnum] = frozenset(
    {*(s for s in Status if s is not Status.DELETED), *AptStatus}
)

APPOINTMENT = DocumentKind(
    name="appointment",
    title="appointment request (预约通关申请)",
    message_type="APT101Message",
    receipt_type="APT102Message",
    record_tag="Appointment",
    head_tag="AppointmentHead",
    key_fields=_KEY,
    party_fields=_PARTY,
    receipt_entity="AppointmentReturn",
    receipt_fields=_RECEIPT,
    receipt_assigned=("aptNo",),
    signature_required=True,
    final_states=frozenset({AptStatus.CANCELLED, AptStatus.CLEARED, AptStatus.EXPLAINED}),
    modifiable_states=MODIFIABLE,
    customs_number_fields=("aptNo",),
    receipt_echo_fields=_ECHO,
    store_checks=check_requests,
    receipt_statuses=APPOINTMENT_STATUSES,
    # R-APT-6..8: the operations on a booked appointment, each its own message kind below
    operations={
        Operation.CANCEL: CANCELLABLE,
        Operation.EXPLAIN: APPROVED_OPEN,
        # 复制 (seed 003 §2.3, Alt+C): a new draft from any application the gateway holds
        Operation.COPY: COPYABLE,
    },
)

CANCEL = DocumentKind(
    name="apt_cancel",
    title="appointment cancellation (预约取消)",
    message_type="APT103Message",
    receipt_type="APT104Message",
    record_tag="AptCancel",
    head_tag=None,
    key_fields=_KEY,
    party_fields=_PARTY,
    receipt_entity="AptCancelReturn",
    receipt_fields=_RECEIPT,
    receipt_assigned=("aptNo",),
    signature_required=True,
    receipt_echo_fields=_ECHO,
    store_checks=_operation(rules.CANCEL, None, _cancel),
    receipt_statuses=OPERATION_STATUSES,
)

FEEDBACK = DocumentKind(
    name="apt_feedback",
    title="declaration-number feedback (预约通关报关单号反馈)",
    message_type="APT105Message",
    receipt_type="APT106Message",
    record_tag="AptFeedback",
    head_tag="AptFeedbackHead",
    key_fields=_KEY,
    party_fields=_PARTY,
    receipt_entity="AptFeedbackReturn",
    receipt_fields=_RECEIPT,
    receipt_assigned=("aptNo",),
    signature_required=True,
    receipt_echo_fields=_ECHO,
    store_checks=_operation(rules.FEEDBACK, "AptFeedbackHead", _feedback),
    receipt_statuses=OPERATION_STATUSES,
)

EXPLANATION = DocumentKind(
    name="apt_explanation",
    title="explanation (情况说明)",
    message_type="APT107Message",
    receipt_type="APT108Message",
    record_tag="AptExplanation",
    head_tag=None,
    key_fields=_KEY,
    party_fields=_PARTY,
    receipt_entity="AptExplanationReturn",
    receipt_fields=_RECEIPT,
    receipt_assigned=("aptNo",),
    signature_required=True,
    receipt_echo_fields=_ECHO,
    store_checks=_operation(rules.EXPLAIN, None, _explanation),
    receipt_statuses=OPERATION_STATUSES,
)

KINDS = (APPOINTMENT, CANCEL, FEEDBACK, EXPLANATION)
