"""Fail points for crash tests: `crash_point(name)` kills the process when asked to.

Set `CUSTOMS_GATEWAY_CRASH_AT=relay.after_publish.declaration` (optionally `name:N` to die
at the N-th pass) to make a worker die exactly there, as `kill -9` would: no cleanup, no
commit. This is how the tests prove that a crash between two steps loses nothing and sends
nothing twice.
Unset, it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import threading

_counts: dict[str, int] = {}
_lock = threading.Lock()


def _armed() -> tuple[str, int] | None:
    spec = os.environ.get("CUSTOMS_GATEWAY_CRASH_AT")
    if not spec:
        return None
    name, _, nth = spec.partition(":")
    return name, int(nth or 1)


def crash_point(name: str) -> None:
    armed = _armed()
    if armed is None or armed[0] != name:
        return
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        if _counts[name] >= armed[1]:
            os._exit(137)  # like SIGKILL: no finally blocks, no atexit, no flush
