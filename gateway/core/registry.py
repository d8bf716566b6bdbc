"""The installed business systems, and the kinds, checks and hooks the core finds through them.

The core never imports a business system. The configuration names the systems to install
(`systems:`, by module; `DEFAULT_SYSTEMS` when it says nothing); each module exports one
`BusinessSystem` named `SYSTEM`, and `install` indexes it and hands the lower layers what
they need of it (receipt kinds to `receipts.parse`, an XSD folder to `schemas.loader`,
check tables to `gateway.core.checks`, statuses to `gateway.core.status`). The first lookup
installs the defaults, so a process that never reads a configuration (a test, a bench)
sees the same systems as `serve`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from gateway.core import checks, status
from gateway.core.kinds import DocumentKind
from gateway.core.system import (
    BusinessSystem,
    Job,
    ReferenceHandler,
    ResultHandler,
    SimBehaviour,
    SimTick,
)
from gateway.errors import ConfigError
from receipts import parse as receipt_parse
from schemas import loader as schemas

#: the business systems this distribution ships, installed unless the configuration names others
DEFAULT_SYSTEMS = (
    "gateway.ecx.system",
    "gateway.appointments.system",
    "gateway.temporary.system",
    "gateway.border.system",
)


class Registry:
    """Installed systems, indexed once at install time."""

    def __init__(self) -> None:
        self.systems: dict[str, BusinessSystem] = {}
        self.by_message: dict[str, DocumentKind] = {}
        self.by_receipt_entity: dict[str, DocumentKind] = {}
        self.by_name: dict[str, DocumentKind] = {}
        self.behaviours: dict[str, SimBehaviour] = {}
        self.results: dict[str, ResultHandler] = {}

    def install(self, system: BusinessSystem) -> None:
        if system.name in self.systems:
            return
        self._refuse_clashes(system)
        if system.xsd_dir is not None:
            schemas.add_directory(system.xsd_dir)
        if system.check_tables is not None:
            checks.register(system.check_tables)
        for enum in system.statuses:
            status.register(enum)
        status.extend_lifecycle(system.lifecycle)
        for kind in system.kinds:
            self._index(kind)
        self.behaviours.update(system.sim_behaviours)
        self.results.update(system.results)
        self.systems[system.name] = system

    def _index(self, kind: DocumentKind) -> None:
        self.by_message[kind.message_type] = kind
        self.by_receipt_entity[kind.receipt_entity] = kind
        self.by_name[kind.name] = kind
        receipt_parse.register(kind.receipt_kind())

    def _refuse_clashes(self, system: BusinessSystem) -> None:
        for kind in system.kinds:
            for index, key in (
                (self.by_name, kind.name),
                (self.by_message, kind.message_type),
                (self.by_receipt_entity, kind.receipt_entity),
            ):
                if key in index:
                    raise ConfigError(
                        f"business system {system.name}: {key} is already declared by "
                        f"another installed system"
                    )

    # --- what the core asks -------------------------------------------------------------------

    def sim_ticks(self) -> list[SimTick]:
        return [tick for s in self.systems.values() for tick in s.sim_ticks]

    def jobs(self) -> list[Job]:
        return [job for s in self.systems.values() for job in s.jobs]

    def reference_handlers(self) -> list[ReferenceHandler]:
        return [h for s in self.systems.values() for h in s.reference_data]


_registry = Registry()
_lock = threading.RLock()
_ready = False
_loading = False


def install(system: BusinessSystem) -> None:
    """Install one system value (a test's own system, or one built at run time)."""
    with _lock:
        _registry.install(system)


def ensure_installed(names: Iterable[str] = ()) -> Registry:
    """The registry, with the default systems and the named ones installed."""
    global _ready, _loading
    names = tuple(names)
    if _ready and not names:
        return _registry
    with _lock:
        if _loading:
            raise ConfigError("a business system looked up the registry while it was imported")
        _loading = True
        try:
            for name in names if _ready else (*DEFAULT_SYSTEMS, *names):
                _registry.install(_system_of(name))
            _ready = True
        finally:
            _loading = False
    return _registry


def _system_of(module_name: str) -> BusinessSystem:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"business system {module_name} cannot be imported: {exc}") from exc
    system = getattr(module, "SYSTEM", None)
    if not isinstance(system, BusinessSystem):
        raise ConfigError(f"{module_name} exports no BusinessSystem named SYSTEM")
    return system


def installed() -> Registry:
    return ensure_installed()


def for_message(message_type: str) -> DocumentKind | None:
    return installed().by_message.get(message_type)


def for_receipt_entity(entity: str) -> DocumentKind | None:
    return installed().by_receipt_entity.get(entity)


def kind(name: str) -> DocumentKind | None:
    return installed().by_name.get(name)


def kinds() -> tuple[DocumentKind, ...]:
    return tuple(installed().by_name.values())


def message_types() -> Mapping[str, DocumentKind]:
    return MappingProxyType(installed().by_message)


def behaviour(kind_name: str) -> SimBehaviour | None:
    return installed().behaviours.get(kind_name)


def result_handler(message_type: str) -> ResultHandler | None:
    return installed().results.get(message_type)


__all__ = [
    "DEFAULT_SYSTEMS",
    "Registry",
    "behaviour",
    "ensure_installed",
    "for_message",
    "for_receipt_entity",
    "install",
    "installed",
    "kind",
    "kinds",
    "message_types",
    "result_handler",
]
