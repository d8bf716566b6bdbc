"""The one interface between the core and a business system.

A business system (e-commerce export, appointment clearance, temporary goods, border trade)
is one package under `gateway/` that exports one `BusinessSystem` value named `SYSTEM`. The
core never imports a system: `gateway.core.registry` installs the systems the configuration
names and finds everything below through them. A system imports the core, never another
system.

What a system declares, and where the core uses it:

- `kinds`: its document kinds (`gateway.core.kinds.DocumentKind`): message and receipt types,
  business key (declared once: receipt correlation is derived from it), states and the
  operations each state allows, intake hooks (`store_checks`) and receipt hooks
  (`after_change`). Intake, signing, the relay and receipt application find kinds here.
- `check_tables`: its business checks for the table-driven check engine (`gateway.core.checks`).
- `xsd_dir`: a folder of XSDs the system ships itself (the standard's messages live in
  `schemas/xsd`, found by their global elements); `None` when all its XSDs are there.
- `statuses`: enums of its statuses beyond the core's, whose values are stored on records;
  `lifecycle`: their order after the core's lifecycle, to break returnTime ties.
- `sim_behaviours` / `sim_ticks`: how the simulated customs answers its kinds, by kind name,
  and the work the simulator's sender loop runs on every tick.
- `routers`, `commands`: its HTTP routes and CLI commands, mounted by the core's shells.
- `jobs`: periodic batch jobs every gateway process schedules (a database lease decides who
  runs each round).
- `reference_data`: handlers for messages customs sends that are reference data, not receipts
  (APT110): `handler(db, envelope_body) -> bool`, True when it took the message.
- `results`: handlers for customs messages that answer no single record (CEB792), by root
  local name: `handler(session, data, digest, parsed, cop_msg_id, notifier) -> Outcome`.
- `migrations`: a folder of Alembic revisions of the system's own tables, when it has any
  outside the core's history.
- `console_panels`: the system's own parts of the ops console's dashboard (summary due dates,
  appointment and re-export deadlines): `ConsolePanel`s whose `rows(gateway, session, now)`
  the console shows as a table (gateway/core/console/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import click
from fastapi import APIRouter

from gateway.core.checks import CheckTables
from gateway.core.kinds import DocumentKind

#: `behaviour(sim, session, kind, records, cop_msg_id, sender) -> [Answer]`
SimBehaviour = Callable[..., list[Any]]
#: `tick(sim)`: answers that wait for time to pass rather than for a message
SimTick = Callable[[Any], None]
#: `handler(db, envelope_body) -> bool`
ReferenceHandler = Callable[[Any, bytes], bool]
#: `handler(session, data, digest, parsed, cop_msg_id, notifier) -> Outcome`
ResultHandler = Callable[..., Any]


def _always(_config: Any) -> bool:
    return True


@dataclass(frozen=True)
class Job:
    """A periodic job: `run(gateway, stop)` runs until `stop` is set, when `enabled(config)`."""

    name: str
    run: Callable[[Any, threading.Event], None]
    enabled: Callable[[Any], bool] = _always


@dataclass(frozen=True)
class ConsolePanel:
    """A table on the ops console's dashboard: `columns` are (row key, Chinese heading,
    English heading); `rows(gateway, session, now)` gives dicts by those keys, a true `alert`
    key marking a row that needs attention (overdue, due soon)."""

    name: str
    title: str  # Chinese
    title_en: str
    columns: tuple[tuple[str, str, str], ...]
    rows: Callable[[Any, Any, Any], list[dict[str, Any]]]


def _frozen() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class BusinessSystem:
    name: str
    title: str
    kinds: tuple[DocumentKind, ...]
    check_tables: CheckTables | None = None
    xsd_dir: Path | None = None
    statuses: tuple[type[StrEnum], ...] = ()
    lifecycle: tuple[StrEnum, ...] = ()
    sim_behaviours: Mapping[str, SimBehaviour] = field(default_factory=_frozen)
    sim_ticks: tuple[SimTick, ...] = ()
    routers: tuple[Callable[[], APIRouter], ...] = ()
    commands: tuple[click.Command, ...] = ()
    jobs: tuple[Job, ...] = ()
    reference_data: tuple[ReferenceHandler, ...] = ()
    results: Mapping[str, ResultHandler] = field(default_factory=_frozen)
    migrations: Path | None = None
    console_panels: tuple[ConsolePanel, ...] = ()
