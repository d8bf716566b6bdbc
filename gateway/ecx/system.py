"""Cross-border e-commerce export as one business system of the core (`SYSTEM`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.core.system import BusinessSystem, Job
from gateway.ecx import (
    api,
    b2b_api,
    b2b_cli,
    checks,
    cli,
    codemessage,
    codetables,
    console,
    declarations,
    demo,
    kinds,
    kinds_full,
    print_cli,
)  # fmt: skip
from gateway.ecx.sim import b2b as sim_b2b
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
    sim_b2b.register(behaviours, ticks)  # B2B lists' customs declarations (R-ECX-9)
    return behaviours, ticks


def _code_tables(gateway: Any, stop: threading.Event) -> None:
    """Every process keeps its copy of the customs code tables in step (no lease)."""
    codetables.run_refresher(gateway.db, stop)


_HERE = Path(__file__).resolve().parent


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
    xsd_dir=_HERE / "xsd",  # ECX910Message, customs' B2B declarations (docs/b2b.md)
    # b2b_api first: /v1/export/b2b is the declarations, not a list of /v1/export/{list}
    routers=(b2b_api.router, api.router, summary_api.router),
    commands=(
        *cli.COMMANDS, *b2b_cli.COMMANDS, *summary_cli.COMMANDS, *print_cli.COMMANDS,
        demo.demo_command,
    ),
    jobs=(
        Job("summary", schedule.run_job, lambda config: config.summary.enabled),
        Job("ecx-codes", _code_tables),
    ),
    # customs' B2B declarations (ECX910) and code tables (ECX110), trusted from customs only
    reference_data=(declarations.handle_envelope, codemessage.handle_envelope),
    results={"CEB792Message": results.apply_summary_result},
    migrations=_HERE / "migrations",
    console_panels=console.PANELS,
)
