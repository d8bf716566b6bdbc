"""Declaration terminals (申报终端, R-BDR-1): each registered at a supervised place with the
PC/SC reader its ID cards are read in, and a key of its own.

A terminal proves itself on every request (terminal id + key): a resident's session is
bound to the terminal it began at, so a token carried to another kiosk is refused
(`sessions`). The key is `brt_` + 256 random bits, shown once when an admin registers or
rotates the terminal, and kept as an HMAC under the gateway's API-key secret (the core's
`keys.digest`), so a copy of the database alone does not let anyone test guesses.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.border import registry
from gateway.border.models import BrdPlace
from gateway.border.people_models import BrdTerminal
from gateway.core import keys
from gateway.errors import AccessDenied, InvalidInput, NotFound

PREFIX = "brt_"


@dataclass(frozen=True)
class Terminal:
    """An authenticated terminal, as a request handler sees it."""

    terminal_id: str
    place_code: str
    district: str
    method: str
    reader: str


def _digest(session: Session, key: str) -> str:
    return keys.digest(keys.secret_for(session), key)


def register(session: Session, terminal_id: str, place_code: str, reader: str) -> str:
    """Register (or re-key) a terminal at a place; its new key, shown this once."""
    if not terminal_id or len(terminal_id) > 40 or not terminal_id.isascii():
        raise InvalidInput("terminal id: 1 to 40 ASCII characters")
    registry.place(session, place_code)
    key = PREFIX + secrets.token_urlsafe(32)
    row = session.get(BrdTerminal, terminal_id)
    if row is None:
        row = BrdTerminal(terminal_id=terminal_id)
        session.add(row)
    row.place_code, row.reader, row.enabled = place_code, reader, True
    row.key_hash = _digest(session, key)
    session.flush()
    return key


def disable(session: Session, terminal_id: str) -> None:
    row = session.get(BrdTerminal, terminal_id)
    if row is None:
        raise NotFound(f"no terminal {terminal_id!r}")
    row.enabled = False


def authenticate(session: Session, terminal_id: str | None, key: str | None) -> Terminal:
    """The terminal that holds `key`; AccessDenied (the same for every cause) otherwise."""
    denied = AccessDenied("unknown terminal or wrong terminal key (X-Terminal-Id, X-Terminal-Key)")
    denied.bad_credentials = True  # type: ignore[attr-defined]  # counted by the core's throttle
    if not terminal_id or not key:
        raise denied
    row = session.get(BrdTerminal, terminal_id)
    if (
        row is None
        or not row.enabled
        or not hmac.compare_digest(row.key_hash, _digest(session, key))
    ):
        raise denied
    place = session.get(BrdPlace, row.place_code)
    assert place is not None  # a foreign key
    return Terminal(row.terminal_id, place.place_code, place.district, place.method, row.reader)


def listing(session: Session) -> list[dict[str, Any]]:
    return [
        {"terminal_id": t.terminal_id, "place": t.place_code, "reader": t.reader,
         "enabled": t.enabled, "created_at": t.created_at.isoformat()}
        for t in session.scalars(select(BrdTerminal).order_by(BrdTerminal.terminal_id))
    ]  # fmt: skip
