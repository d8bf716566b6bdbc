"""Appointment clearance as one business system of the core (`SYSTEM`)."""

from __future__ import annotations

import threading
from typing import Any

from gateway.appointments import api, cli, console, deadlines, kinds, print_cli, refmessage, sim
from gateway.appointments.codes import AptStatus
from gateway.core.system import BusinessSystem, Job


def _deadlines(gateway: Any, stop: threading.Event) -> None:
    """R-APT-9: reminders and overdue marks, one process per round (the job's lease)."""
    deadlines.run_scheduler(gateway.db, gateway.notifier, stop)


SYSTEM = BusinessSystem(
    name="appointments",
    title="appointment clearance (预约通关)",
    kinds=kinds.KINDS,
    statuses=(AptStatus,),
    sim_behaviours=sim.behaviours(),
    routers=(api.router,),
    commands=(*cli.COMMANDS, *print_cli.COMMANDS),
    jobs=(Job("apt-deadlines", _deadlines),),
    reference_data=(refmessage.handle_envelope,),
    console_panels=console.PANELS,
)
