"""The export system's part of the ops console's dashboard: summary due dates and overdue
cycles (R-ECX-8), read with the same report as `summary due` and `GET /v1/summaries/due`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.core.system import ConsolePanel
from gateway.ecx.summary.due import due_report


def _summary_due(gateway: Any, session: Session, now: datetime) -> list[dict[str, Any]]:
    rows = due_report(session, gateway.config.summary, now=now)
    return [
        {**r.as_dict(), "alert": r.state == "overdue" or (r.state == "due" and r.days_left <= 3)}
        for r in rows
        if r.pending_lists or r.state != "open"
    ]


PANELS = (
    ConsolePanel(
        name="summary_due",
        title="汇总申报到期",
        title_en="Summary declarations due",
        columns=(
            ("enterprise", "企业", "Enterprise"),
            ("cycle", "周期", "Cycle"),
            ("due", "截止日期", "Due"),
            ("pending_lists", "待汇总清单", "Lists pending"),
            ("state", "状态", "State"),
            ("days_left", "剩余天数", "Days left"),
        ),
        rows=_summary_due,
    ),
)
