"""The temporary-goods system's part of the ops console's dashboard: approved confirmations
and their re-export/re-import date (复运出/进境日期, R-TMP-7), and those already overdue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.models import Document
from gateway.core.system import ConsolePanel
from gateway.temporary.codes import TmpStatus
from gateway.temporary.confirmations import CONFIRMATION
from gateway.temporary.models import TmpConfirmation

SHOWN = 50
#: days before the date from which a row is flagged (the job's nearest default reminder)
SOON = 7


def _deadlines(_gateway: Any, session: Session, now: datetime) -> list[dict[str, Any]]:
    key = TmpConfirmation.agent_code + "|" + TmpConfirmation.cop_no
    stmt = (
        select(TmpConfirmation, Document)
        .join(Document, (Document.kind == CONFIRMATION) & (Document.business_key == key))
        .where(
            Document.status.in_([TmpStatus.APPROVED.value, TmpStatus.RETURN_OVERDUE.value]),
            TmpConfirmation.return_date != "",
        )
        .order_by(TmpConfirmation.return_date, TmpConfirmation.id)
        .limit(SHOWN)
    )
    today = now.astimezone(CHINA_TZ).date()
    out = []
    for row, doc in session.execute(stmt):
        try:
            left = (datetime.strptime(row.return_date, "%Y%m%d").date() - today).days
        except ValueError:
            left = None
        out.append({
            "document_id": doc.id, "business_key": doc.business_key, "status": doc.status,
            "confirm_no": (doc.customs_numbers or {}).get("confirmNo", ""),
            "return_date": row.return_date, "days_left": left,
            "alert": doc.status == TmpStatus.RETURN_OVERDUE.value or (left or 0) <= SOON,
        })  # fmt: skip
    return out


PANELS = (
    ConsolePanel(
        name="temporary_deadlines",
        title="暂时进出境复运期限",
        title_en="Temporary goods re-export deadlines",
        columns=(
            ("business_key", "确认书", "Confirmation"),
            ("confirm_no", "确认申请书编号", "Confirmation no."),
            ("status", "状态", "Status"),
            ("return_date", "复运出/进境日期", "Return date"),
            ("days_left", "剩余天数", "Days left"),
        ),
        rows=_deadlines,
    ),
)
