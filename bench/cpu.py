"""CPU time of the processes behind one benchmark point, by role, over the load's seconds.

Why: on a 2-core machine the gateway, PostgreSQL, RabbitMQ, the simulated customs and the
load generator share the same cores. CPU seconds per declaration, by role, say what a rate
costs and what bounds it: if the roles together use both cores, a higher rate needs less CPU
per declaration, not more concurrency."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psutil

#: a process's role from its command line (None: not ours to count)
Classifier = Callable[[psutil.Process], "str | None"]


def roles_for(config: str, clients_pid: int | None) -> Classifier:
    """The gateway's HTTP and pipeline processes, customs, the clients, PostgreSQL, RabbitMQ."""

    def role(proc: psutil.Process) -> str | None:
        try:
            name = proc.name()
            args = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        if proc.pid == clients_pid:
            return "load generator"
        if config in args:
            if "customs-sim" in args:
                return "customs (simulated)"
            if "--http-fd" in args:
                return "gateway HTTP"
            if "--no-http" in args:
                return "gateway pipeline"
            return "gateway supervisor"
        if name.startswith("postgres") or "postgres:" in args:
            return "PostgreSQL (all)"
        if name == "beam.smp":
            return "RabbitMQ (all)"
        return None

    return role


def _times(role: Classifier) -> dict[int, tuple[str, float]]:
    seen: dict[int, tuple[str, float]] = {}
    for proc in psutil.process_iter():
        which = role(proc)
        if which is None:
            continue
        try:
            t = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seen[proc.pid] = (which, t.user + t.system)
    return seen


@dataclass
class CpuWindow:
    """CPU seconds per role between `start()` and `stop()`; processes started in between
    count from zero, processes gone by the end are lost (few: connections are pooled)."""

    role: Classifier
    before: dict[int, tuple[str, float]] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0  # all cores' busy seconds, every process on the machine
    _machine_before: float = 0.0

    def start(self) -> None:
        self.before = _times(self.role)
        self._machine_before = _busy()

    def stop(self) -> None:
        after = _times(self.role)
        used: dict[str, float] = {}
        for pid, (which, seconds) in after.items():
            _, was = self.before.get(pid, (which, 0.0))
            used[which] = used.get(which, 0.0) + max(0.0, seconds - was)
        self.used = used
        self.machine_busy = _busy() - self._machine_before


def _busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def per_declaration(window: CpuWindow, declarations: int) -> Iterable[tuple[str, float]]:
    """(role, CPU milliseconds per declaration), the largest first."""
    for which, seconds in sorted(window.used.items(), key=lambda kv: -kv[1]):
        yield which, seconds * 1000 / max(1, declarations)
