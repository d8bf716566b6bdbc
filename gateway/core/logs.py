"""Structured logs: one JSON object per line, with the ids of what is being worked on.

The pipeline's entry points (intake, signing, relay, receipts) put the ids they know —
message, document, receipt, CopMsgId, enterprise — into a context variable (`context`, or
the `with_context` decorator); every line logged inside, by our code or a library's, carries
them. Context variables are per thread (and per asyncio task), so the workers' ids never mix.

Enabled by `customs-gateway --json-logs …` or `CUSTOMS_GATEWAY_JSON_LOGS=1`.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

_IDS: ContextVar[dict[str, Any] | None] = ContextVar("gateway_log_ids", default=None)

P = ParamSpec("P")
R = TypeVar("R")


def current() -> dict[str, Any]:
    """The ids known where the caller runs."""
    return dict(_IDS.get() or {})


@contextmanager
def context(**ids: Any) -> Iterator[None]:
    """Add ids (None values are left out) to every log line inside the block."""
    token = _IDS.set({**current(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _IDS.reset(token)


def with_context(
    ids: Callable[..., dict[str, Any]],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function: `ids(*args, **kwargs)` gives the ids its log lines carry."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                known = ids(*args, **kwargs)
            except Exception:  # noqa: BLE001 - a log field must never break the pipeline
                known = {}
            with context(**known):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, thread, message, ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "msg": record.getMessage(),
        }
        out.update(current())
        # `extra={...}` fields given to a log call come through too.
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def install_json(level: int = logging.INFO) -> logging.Handler:
    """Replace the root handlers with one writing JSON lines to stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
