"""FastAPI dependencies and request helpers shared by every router: the gateway, a session,
the caller, the enterprise a submission is for, a body read within its limits, integer
parameters within the database's range.

No request holds a pooled database connection while it waits on anything else (a client's
body, the intake's own session, the network): authentication reads in a session of its own
and closes it, and a handler's `Db` session is given back before the response is sent
(docs/http-pool.md)."""

from __future__ import annotations

import asyncio
import types
import typing
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gateway.core import enterprises
from gateway.core.api_key import ApiKey
from gateway.core.enterprises import Caller
from gateway.errors import AccessDenied, BodyTooLarge, BodyTooSlow, Violation

if TYPE_CHECKING:
    from gateway.core.runtime import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def session_of(request: Request) -> Iterator[Session]:
    """The handler's session: it takes a connection at its first query and, scoped to the
    handler ("function"), commits and gives it back before the response is sent."""
    with gateway_of(request).db.session() as session:
        yield session


async def caller_of(request: Request, x_api_key: ApiKey = None) -> Caller:
    # Async, so that a key found in the cache costs no hand-over to a worker thread (a sync
    # dependency runs in one: about a fifth of an HTTP process's time under load, issue 15).
    gateway = gateway_of(request)
    known = gateway.key_cache.get(x_api_key) if x_api_key else None
    if known is not None:  # found active within auth.cache_seconds (key_cache.py)
        return known
    return await run_in_threadpool(_look_up, gateway, x_api_key)


def _look_up(gateway: Gateway, x_api_key: str | None) -> Caller:
    # A short session of its own: holding one for the whole request made every submission
    # need two connections at once, and a full pool then waited on itself (issue 11 #1).
    with gateway.db.session() as session:
        caller, expires_at = enterprises.authenticate_until(session, x_api_key)
    assert x_api_key is not None  # authenticate_until refuses a missing key
    gateway.key_cache.put(x_api_key, caller, expires_at)
    return caller


Auth = Annotated[Caller, Depends(caller_of)]
Db = Annotated[Session, Depends(session_of, scope="function")]

#: the database's integer range (BIGINT; ids are BIGINT on PostgreSQL, SQLite's INTEGER is
#: the same 8 bytes): Python takes any int, the driver then overflows (500 before, #13)
BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)


def page_param(max_page_size: int) -> Any:
    """`?page=`: its offset (page - 1) × page_size must fit a BIGINT too."""
    return Query(ge=1, le=BIGINT_MAX // max_page_size)


async def ints_in_range(request: Request) -> None:
    """Refuse (422, naming the parameter) an integer path or query parameter outside the
    database's range, on every route: an app-wide dependency, run before authentication.
    Async: it only looks at the request, and a sync dependency costs every request a hand-over
    to a worker thread."""
    problems = [
        {
            "type": "less_than_equal" if not raw.lstrip().startswith("-") else "greater_than_equal",
            "loc": (where, name),
            "msg": f"Input should be an integer from {BIGINT_MIN} to {BIGINT_MAX}",
            "input": raw if len(raw) <= 40 else raw[:40] + "…",
        }
        for where, name in _int_params(request.scope.get("route"))
        for raw in _raw_values(request, where, name)
        if _out_of_range(raw)
    ]
    if problems:
        raise RequestValidationError(problems)


#: per route (by id, checked by a weak reference: routes are unhashable, ids get reused)
_INT_PARAMS: dict[int, tuple[weakref.ref[Any], list[tuple[str, str]]]] = {}


def _int_params(route: Any) -> list[tuple[str, str]]:
    """("path"|"query", name) of the route's integer parameters, its dependencies' included."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    cached = _INT_PARAMS.get(id(route))
    if cached is not None and cached[0]() is route:
        return cached[1]
    known = sorted(set(_walk(dependant)))
    _INT_PARAMS[id(route)] = (weakref.ref(route), known)
    return known


def _walk(dependant: Any) -> Iterator[tuple[str, str]]:
    for where, fields in (("path", dependant.path_params), ("query", dependant.query_params)):
        for field in fields:
            if _is_int(field.field_info.annotation):
                yield where, field.alias
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, set, Annotated):
        return any(_is_int(arg) for arg in typing.get_args(annotation))
    return False


def _raw_values(request: Request, where: str, name: str) -> list[str]:
    if where == "path":
        value = request.path_params.get(name)
        return [str(value)] if value is not None else []
    return request.query_params.getlist(name)


def _out_of_range(raw: str) -> bool:
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        return False  # not a plain integer: the parameter's own validation refuses it
    if len(digits.lstrip("0")) > 19:  # past int() on a 5,000-digit string, too
        return True
    return not BIGINT_MIN <= int(text) <= BIGINT_MAX


def submitter(who: Caller, enterprise: str | None) -> str:
    if who.is_admin:
        if not enterprise:
            raise AccessDenied("an admin key must name the enterprise (?enterprise=CODE)")
        return enterprise
    if enterprise and enterprise != who.enterprise_code:
        raise AccessDenied("an enterprise key submits for its own enterprise only")
    assert who.enterprise_code is not None
    return who.enterprise_code


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it passes the limit (never buffered whole)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    seconds = gateway_of(request).config.http.body_seconds
    try:
        async with asyncio.timeout(seconds):  # a client trickling its body holds nothing long
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTooSlow(
            [Violation("R-COM-1", "(body)", f"request body not received within {seconds} s")]
        ) from None
    return b"".join(chunks)


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge([Violation("R-COM-1", "(body)", f"request body over {limit} bytes")])
