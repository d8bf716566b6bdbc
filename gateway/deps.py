"""FastAPI dependencies shared by every router: the gateway, a session, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from gateway import enterprises
from gateway.enterprises import Caller

if TYPE_CHECKING:
    from gateway.runtime import Gateway


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
