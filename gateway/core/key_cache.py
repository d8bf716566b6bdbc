"""API keys this process has recently found valid, so that a client's stream of requests does
not read its key from the database on every one.

Why: authentication took a database session of its own per request (issue 11 #1: it must not
share the handler's), two queries and a commit — a fifth of an HTTP process's time under load
(issue 15). A key found active is trusted for `auth.cache_seconds` (5 s) at most, and never
past its own expiry. A key revoked or rotated through this process is forgotten at once; the
other processes of a `serve --workers N` refuse it within `cache_seconds`. Only successes are
kept: a bad key is looked up every time (and throttled, keys.FailureThrottle). Entries are
keyed by a SHA-256 of the key, so the cache never holds a key itself."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from gateway.core import keys
from gateway.core.enterprises import Caller

#: keys remembered at most (the oldest goes first)
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    caller: Caller
    until: float  # monotonic
    expires_at: datetime | None  # the key's own expiry (naive UTC, as stored)


class KeyCache:
    def __init__(self, seconds: float, *, max_entries: int = MAX_ENTRIES) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, api_key: str) -> Caller | None:
        if self.seconds <= 0:
            return None
        slot = _slot(api_key)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None:
                return None
            if time.monotonic() >= entry.until or keys.expired(entry.expires_at):
                del self._entries[slot]
                return None
            return entry.caller

    def put(self, api_key: str, caller: Caller, expires_at: datetime | None) -> None:
        if self.seconds <= 0:
            return
        entry = _Entry(caller, time.monotonic() + self.seconds, expires_at)
        slot = _slot(api_key)
        with self._lock:
            self._entries[slot] = entry
            self._entries.move_to_end(slot)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget_all(self) -> None:
        """After a revocation or rotation here: every key is looked up again."""
        with self._lock:
            self._entries.clear()


def _slot(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()
