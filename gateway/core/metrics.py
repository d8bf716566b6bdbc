"""Prometheus metrics (prometheus_client), served at GET /metrics.

    gateway_operations_total{stage, outcome}   intake, signing, publish, receipt: how many,
                                               and how each ended (accepted, duplicate,
                                               refused, signed, published, matched, …)
    gateway_operation_seconds{stage}           how long each took (histogram)
    gateway_errors_total{stage, type}          errors by exception type
    gateway_queue_messages{queue}              ready messages, read from the broker per scrape
    gateway_queue_consumers{queue}
    gateway_queue_dead_letters{queue}

The stages are instrumented with the `timed` decorator (one line on the function), so the
counting never sits inside the pipeline's own logic. Publishing counts outbox rows, not
batches. `/metrics` needs an admin key, as `X-API-Key` or as a bearer token (Prometheus'
`authorization` scrape setting).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from gateway.core import enterprises
from gateway.core.api_key import ApiKey
from gateway.errors import AccessDenied, MisuseError

log = logging.getLogger(__name__)

OPERATIONS = Counter(
    "gateway_operations", "Pipeline operations by stage and outcome", ["stage", "outcome"]
)
SECONDS = Histogram(
    "gateway_operation_seconds",
    "Time per pipeline operation",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ERRORS = Counter("gateway_errors", "Errors by stage and exception type", ["stage", "type"])
QUEUE_MESSAGES = Gauge("gateway_queue_messages", "Ready messages in a queue", ["queue"])
QUEUE_CONSUMERS = Gauge("gateway_queue_consumers", "Consumers of a queue", ["queue"])
QUEUE_DEAD = Gauge("gateway_queue_dead_letters", "Messages in a queue's .dead queue", ["queue"])

P = ParamSpec("P")
R = TypeVar("R")


def timed(
    stage: str,
    outcome: Callable[[Any], str] = lambda _result: "ok",
    count: Callable[..., int] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Count and time each call: `outcome(result)` labels a return, an exception its type
    ("refused" for a misuse error, "error" otherwise); `count(*args)` weighs a batch call."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                _observe(stage, "refused" if isinstance(exc, MisuseError) else "error", started)
                ERRORS.labels(stage, type(exc).__name__).inc()
                raise
            label = _safe(outcome, result)
            _observe(stage, label, started, _safe(count, *args) if count else 1)
            return result

        return wrapper

    return decorate


def _safe(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - a metric must never break the pipeline
        return "unknown"


def _observe(stage: str, outcome: str, started: float, n: Any = 1) -> None:
    SECONDS.labels(stage).observe(time.perf_counter() - started)
    OPERATIONS.labels(stage, str(outcome)).inc(n if isinstance(n, int) and n >= 0 else 1)


def error(stage: str, kind: str, n: int = 1) -> None:
    """Count an error handled without an exception (an unreadable receipt, a failed publish)."""
    ERRORS.labels(stage, kind).inc(n)


def refresh_queues(gateway: Any) -> list[Any] | None:
    """Read queue depths from the broker; a broker that does not answer is an error metric."""
    from gateway.core.ops import queue_stats

    try:
        stats = queue_stats(gateway.config, gateway.topology)
    except Exception as exc:  # noqa: BLE001 - the scrape still answers with the rest
        log.warning("queue depths not available: %s", type(exc).__name__)
        ERRORS.labels("metrics", type(exc).__name__).inc()
        return None
    for s in stats:
        for gauge, value in (
            (QUEUE_MESSAGES, s.messages),
            (QUEUE_CONSUMERS, s.consumers),
            (QUEUE_DEAD, s.dead_letters),
        ):
            gauge.labels(s.queue).set(-1 if value is None else value)
    return stats


def _admin_key(x_api_key: str | None, authorization: str | None) -> str | None:
    if x_api_key:
        return x_api_key
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def router() -> APIRouter:
    """GET /metrics."""
    api = APIRouter(tags=["ops"])

    @api.get("/metrics")
    def metrics(
        request: Request,
        x_api_key: ApiKey = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        gateway = request.app.state.gateway
        with gateway.db.session() as session:
            caller = enterprises.authenticate(session, _admin_key(x_api_key, authorization))
        if not caller.is_admin:
            raise AccessDenied("metrics need an admin key")
        stats = refresh_queues(gateway)
        for hook in getattr(gateway, "scrape_hooks", ()):  # alerts (docs/alerts.md)
            hook(gateway, stats)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return api
