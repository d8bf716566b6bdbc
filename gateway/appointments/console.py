"""The appointment system's part of the ops console's dashboard: approved appointments whose
feedback deadline (R-APT-9, 5 days after the appointment time) is running or passed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.appointments import rules
from gateway.appointments.codes import AptStatus
from gateway.appointments.deadlines import WATCHED, deadline_of
from gateway.appointments.models import Appointment
from gateway.core.models import Document
from gateway.core.system import ConsolePanel

SHOWN = 50


def _deadlines(_gateway: Any, session: Session, now: datetime) -> list[dict[str, Any]]:
    stmt = (
        select(Appointment, Document)
        .join(Document, Document.business_key == rules.key_sql())
        .where(
            Document.kind == "appointment",
            Document.status.in_([*WATCHED, AptStatus.OVERDUE.value]),
        )
        .order_by(Appointment.start_at)
        .limit(SHOWN)
    )
    out = []
    for apt, doc in session.execute(stmt):
        deadline = deadline_of(apt)
        hours = (deadline - now).total_seconds() / 3600
        out.append({
            "document_id": doc.id, "business_key": doc.business_key, "status": doc.status,
            "appointment": apt.start_at, "deadline": deadline, "hours_left": round(hours, 1),
            "alert": doc.status == AptStatus.OVERDUE.value or hours <= 24,
        })  # fmt: skip
    return out


PANELS = (
    ConsolePanel(
        name="appointment_deadlines",
        title="预约通关反馈期限",
        title_en="Appointment feedback deadlines",
        columns=(
            ("business_key", "预约", "Appointment"),
            ("status", "状态", "Status"),
            ("appointment", "预约时间", "Appointment time"),
            ("deadline", "反馈期限", "Feedback deadline"),
            ("hours_left", "剩余小时", "Hours left"),
        ),
        rows=_deadlines,
    ),
)
