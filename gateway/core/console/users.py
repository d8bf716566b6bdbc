"""The people who may log in to the ops console, and their passwords.

There is one kind of console user: an admin (the console shows every enterprise's records and
acts on dead letters and retries). Users are made on the gateway's machine with
`customs-gateway console-user add NAME` (the password prompted for, or read from
`--password-file`), never over HTTP. Passwords are kept as scrypt hashes (hashlib.scrypt,
RFC 7914: N=2^15, r=8, p=1, a 16-byte random salt per user), never in clear; a login checks
the hash in constant time and spends the same work on an unknown name, so a timing does not
tell which names exist. Changing a password ends the user's open sessions (the session
names the hash it was opened under, `session_tag`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.core.models import Base, Id, UTCDateTime, utcnow
from gateway.errors import AccessDenied, InvalidInput, NotFound

__all__ = ["InvalidInput"]

SCHEME = "scrypt"
N, R, P = 2**15, 8, 1
#: scrypt needs 128 * N * r bytes; a little more than that
MAXMEM = 128 * N * R + 1024 * 1024
MIN_PASSWORD = 12
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class ConsoleUser(Base):
    """One console login (migration console_0001)."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: `scrypt$N$r$p$salt$hash` (base64): never the password
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- hashing ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=max(MAXMEM, 130 * n * r),
        dklen=32,
    )  # fmt: skip


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != SCHEME:
            return False
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(expected))


#: checked against when the name is unknown, so both answers take the same time
_DUMMY = hash_password(secrets.token_hex(16))


def session_tag(user: ConsoleUser) -> str:
    """A short fingerprint of the user's current hash: a session opened under an older
    password (or before the user was disabled and enabled again) no longer matches."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


# --- users -----------------------------------------------------------------------------------


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidInput(
            f"console user name {name!r}: 1 to 64 letters, digits or . _ @ - (console-user)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"console password: at least {MIN_PASSWORD} characters")
    return password


def add(session: Session, name: str, password: str) -> ConsoleUser:
    """A new console user; an existing name is refused (use `set_password`)."""
    check_name(name)
    if session.scalar(select(ConsoleUser).where(ConsoleUser.name == name)) is not None:
        raise InvalidInput(f"console user {name!r} exists: console-user passwd {name}")
    user = ConsoleUser(name=name, password_hash=hash_password(check_password(password)))
    session.add(user)
    session.flush()
    return user


def by_name(session: Session, name: str) -> ConsoleUser:
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if user is None:
        raise NotFound(f"no console user {name!r}")
    return user


def set_password(session: Session, name: str, password: str) -> None:
    user = by_name(session, name)
    user.password_hash = hash_password(check_password(password))
    user.password_set_at = utcnow()


def set_disabled(session: Session, name: str, disabled: bool) -> bool:
    """True when it changed."""
    user = by_name(session, name)
    if (user.disabled_at is not None) == disabled:
        return False
    user.disabled_at = utcnow() if disabled else None
    return True


def listing(session: Session) -> list[dict[str, Any]]:
    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return [
        {
            "name": u.name,
            "created_at": at(u.created_at),
            "password_set_at": at(u.password_set_at),
            "last_login_at": at(u.last_login_at),
            "disabled": u.disabled_at is not None,
        }
        for u in session.scalars(select(ConsoleUser).order_by(ConsoleUser.name))
    ]


@dataclass(frozen=True)
class LoggedIn:
    name: str
    tag: str


def authenticate(session: Session, name: str, password: str) -> LoggedIn:
    """The user, if the password is theirs and they are not disabled; one refusal for every
    reason (which names exist is not told)."""
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name[:64]))
    ok = verify_password(password, user.password_hash if user else _DUMMY)
    if user is None or not ok or user.disabled_at is not None:
        raise AccessDenied("wrong user name or password")
    user.last_login_at = utcnow()
    return LoggedIn(user.name, session_tag(user))


def current(session: Session, name: str, tag: str) -> ConsoleUser | None:
    """The user a session names, if it is still valid (same password, not disabled)."""
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if user is None or user.disabled_at is not None:
        return None
    return user if hmac.compare_digest(session_tag(user), tag) else None
