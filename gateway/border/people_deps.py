"""FastAPI dependencies of the border terminal and officer routes (R-BDR-1).

A terminal request carries `X-Terminal-Id` and `X-Terminal-Key` (the terminal proves itself)
and, once logged in, `X-Border-Session` (the session token); an officer request carries
`X-Officer-Session`. The declarations side takes `TerminalDeclarant`: the `identity.Declarant`
the session stands for, refused unless the session is live, at this terminal, with a role
picked.

The clock and the settings come from the app's state when a test (or a deployment) put them
there (`app.state.border_clock`, `app.state.border_settings`), else the wall clock and the
environment: idle timeouts are tested by moving the clock, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.border import officers, sessions, terminals
from gateway.border.identity import Declarant
from gateway.border.officers import Officer
from gateway.border.people_settings import PeopleSettings, from_environment
from gateway.border.terminals import Terminal
from gateway.core.deps import gateway_of
from gateway.core.models import utcnow
from gateway.errors import AccessDenied

Clock = Callable[[], datetime]


def clock_of(request: Request) -> Clock:
    clock: Clock = getattr(request.app.state, "border_clock", utcnow)
    return clock


def settings_of(request: Request) -> PeopleSettings:
    found = getattr(request.app.state, "border_settings", None)
    return found if isinstance(found, PeopleSettings) else from_environment()


def terminal_of(
    request: Request,
    x_terminal_id: Annotated[str | None, Header()] = None,
    x_terminal_key: Annotated[str | None, Header()] = None,
) -> Terminal:
    with gateway_of(request).db.session() as session:
        return terminals.authenticate(session, x_terminal_id, x_terminal_key)


AuthTerminal = Annotated[Terminal, Depends(terminal_of)]


def declarant_of(
    request: Request,
    terminal: AuthTerminal,
    x_border_session: Annotated[str | None, Header()] = None,
) -> Declarant:
    """The session's declarant; its idle clock restarts (a short session of its own)."""
    now, idle = clock_of(request)(), settings_of(request).idle
    with gateway_of(request).db.session() as session:
        try:
            row = sessions.touch(session, terminal, x_border_session, now, idle)
        except AccessDenied:
            session.commit()  # a session ended by timeout or refusal stays ended
            raise
        return sessions.declarant(session, row, terminal)


TerminalDeclarant = Annotated[Declarant, Depends(declarant_of)]


def officer_of(
    request: Request, x_officer_session: Annotated[str | None, Header()] = None
) -> Officer:
    now, idle = clock_of(request)(), settings_of(request).officer_idle
    with gateway_of(request).db.session() as session:
        try:
            return officers.touch(session, x_officer_session, now, idle)
        except AccessDenied:
            session.commit()  # a session ended by timeout stays ended
            raise


AuthOfficer = Annotated[Officer, Depends(officer_of)]
