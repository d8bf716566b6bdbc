"""FastAPI dependencies and request helpers shared by every router: the gateway, a session,
the caller, the enterprise a submission is for, a body read within its limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from gateway.core import enterprises
from gateway.core.enterprises import Caller
from gateway.errors import AccessDenied, BodyTooLarge, BodyTooSlow, Violation

if TYPE_CHECKING:
    from gateway.core.runtime import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def session_of(request: Request) -> Iterator[Session]:
    with gateway_of(request).db.session() as session:
        yield session


def caller_of(
    session: Annotated[Session, Depends(session_of)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    return enterprises.authenticate(session, x_api_key)


Auth = Annotated[Caller, Depends(caller_of)]
Db = Annotated[Session, Depends(session_of)]


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
