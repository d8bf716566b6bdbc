"""Temporary import/export goods (暂时进出境货物, seed 002) as one business system of the core.

Built: exhibition registration (展览会备案) with its change (变更) and deletion (备案删除)
applications, the loaned-exhibit list (外借展品清单) with the customs declarations linked to
exhibitions (reference data), the review confirmation (暂时进出境审核确认, its 结案 from
customs), the simulated customs' answers and the queries, and the deadline job (R-TMP-7,
`deadlines`) and the confirmation's printed forms (R-TMP-2, `printing`), and the
confirmation's extension (延期申报, `extensions`) with its query, its attachments sent to
customs (TMP113) and downloaded back, the loaned-exhibit list's printed forms, and the demo
(`tmp-demo`, `demo`);
`registrations.USAGE_CHECKS` is where a kind says it uses a registration (the list does).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from gateway.core.system import BusinessSystem, Job
from gateway.temporary import api, cli, console, deadlines, kinds, sim
from gateway.temporary.codes import TmpStatus


def _deadlines(gateway: Any, stop: threading.Event) -> None:
    """R-TMP-7: reminders and overdue marks, one process per round (the job's lease)."""
    deadlines.run_scheduler(gateway.db, gateway.notifier, stop)


SYSTEM = BusinessSystem(
    name="temporary",
    title="temporary import/export goods (暂时进出境货物)",
    kinds=kinds.KINDS,
    statuses=(TmpStatus,),
    # a receipt tie (same returnTime) goes to the later step: approved after stored, and a
    # granted deletion after the approval it ends
    lifecycle=(
        TmpStatus.NOT_APPROVED,
        TmpStatus.APPROVED,
        TmpStatus.CASE_CLOSED,
        TmpStatus.WITHDRAWN,
    ),
    sim_behaviours=sim.behaviours(),
    routers=(api.router,),
    commands=cli.COMMANDS,
    jobs=(Job(deadlines.JOB, _deadlines),),
    migrations=Path(__file__).resolve().parent / "migrations",
    console_panels=console.PANELS,
)
