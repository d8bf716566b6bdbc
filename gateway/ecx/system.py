"""Cross-border e-commerce export as one business system of the core (`SYSTEM`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.core.system import BusinessSystem, Job
from gateway.ecx import api, checks, cli, console, demo, kinds, kinds_full
from gateway.ecx.sim import four_documents, lifecycle, numbers
from gateway.ecx.sim import summary as sim_summary
from gateway.ecx.status import EcxStatus
from gateway.ecx.summary import api as summary_api
from gateway.ecx.summary import cli as summary_cli
from gateway.ecx.summary import results, schedule


def _sim() -> tuple[dict[str, Callable[..., list[Any]]], list[Callable[[Any], None]]]:
    """How customs answers each export kind, in the order the behaviours build on each
    other: customs' numbers on the generic answer first, then the four-document comparison,
    the lists' lifecycle, and summary mode wrapping the inventory list's behaviour."""
    behaviours: dict[str, Callable[..., list[Any]]] = {}
    ticks: list[Callable[[Any], None]] = []
    numbers.register(behaviours)
    four_documents.register(behaviours, ticks)
    lifecycle.register(behaviours, ticks)
    sim_summary.register(behaviours)
    return behaviours, ticks


_BEHAVIOURS, _TICKS = _sim()

SYSTEM = BusinessSystem(
    name="ecx",
    title="cross-border e-commerce export (跨境电商出口)",
    kinds=(*kinds.KINDS, *kinds_full.KINDS),
    check_tables=checks.TABLES,
    statuses=(EcxStatus,),
    lifecycle=(EcxStatus.FINALISED,),  # after closed (899): merged into a declaration
    sim_behaviours=_BEHAVIOURS,
    sim_ticks=tuple(_TICKS),
    routers=(api.router, summary_api.router),
    commands=(*cli.COMMANDS, *summary_cli.COMMANDS, demo.demo_command),
    jobs=(Job("summary", schedule.run_job, lambda config: config.summary.enabled),),
    results={"CEB792Message": results.apply_summary_result},
    console_panels=console.PANELS,
)
