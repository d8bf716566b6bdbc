"""API keys (issue 11, finding 5): issued with enough entropy, shown once, stored as a keyed
hash, revocable, rotatable and expiring; and repeated failures from one client slowed down.

A key is `cgw_` + `secrets.token_urlsafe(32)` (256 random bits). The store keeps
HMAC-SHA256(server secret, key): the secret lives in the state directory (`api-key-secret`,
mode 0600, made on first start), never in the database, so a copy of the database alone does
not let anyone test guesses. Every process sharing a database must share that file (copy it
to the other machines' state directory). Keys of the configuration (`api_keys_file`,
`admin_api_keys_file`: files of keys, mode 0600) are for automation: registered at start, and
revoked at the next start once they leave the file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import ApiKey, Enterprise, utcnow
from gateway.errors import ConfigError, NotFound

PREFIX = "cgw_"
SECRET_FILE = "api-key-secret"  # noqa: S105 - a file name, not a secret
#: what `keys create` gives a key when no expiry is asked for
DEFAULT_LIFETIME = timedelta(days=90)
#: characters of a key kept in clear to tell keys apart (prefix + 4 random characters)
SHOWN = len(PREFIX) + 4

_secrets: dict[str, bytes] = {}
_lock = threading.Lock()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


# --- the server secret -----------------------------------------------------------------------


def load_secret(state_dir: Path) -> bytes:
    """The server secret of this state directory, made (0600) on first start."""
    path = Path(state_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by others: chmod 600 it (the API key secret)")
    text = path.read_text().strip()
    if len(text) < 32:
        raise ConfigError(f"{path} holds no API key secret (delete it to make a new one)")
    return text.encode()


def install(session: Session, state_dir: Path) -> bytes:
    """Load the secret of `state_dir` for the session's database (its digests use it). Kept
    by database: a process (a test run) may serve several gateways, each with its own."""
    secret = load_secret(state_dir)
    with _lock:
        _secrets[_database(session)] = secret
    return secret


def secret_for(session: Session) -> bytes:
    found = _secrets.get(_database(session))
    if found is None:
        raise ConfigError("no API key secret loaded for this database (Gateway.prepare)")
    return found


def _database(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=False)


def digest(secret: bytes, api_key: str) -> str:
    return hmac.new(secret, api_key.encode(), hashlib.sha256).hexdigest()


# --- issuing, revoking, rotating -------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """A key just made: `key` is shown this once and kept nowhere."""

    id: int
    key: str
    enterprise: str | None
    is_admin: bool
    expires_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "enterprise": self.enterprise,
            "admin": self.is_admin,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def create(
    session: Session,
    *,
    enterprise: str | None,
    by: str,
    label: str = "",
    lifetime: timedelta | None = DEFAULT_LIFETIME,
) -> Issued:
    """A new key for `enterprise` (None: an admin key)."""
    ent_id = _enterprise_id(session, enterprise) if enterprise else None
    key = new_key()
    row = ApiKey(
        key_hash=digest(secret_for(session), key),
        enterprise_id=ent_id,
        is_admin=enterprise is None,
        prefix=key[:SHOWN],
        label=label,
        created_by=by,
        expires_at=utcnow() + lifetime if lifetime else None,
    )
    session.add(row)
    session.flush()
    return Issued(row.id, key, enterprise, row.is_admin, row.expires_at)


def _enterprise_id(session: Session, code: str) -> int:
    found = session.scalar(select(Enterprise.id).where(Enterprise.code == code))
    if found is None:
        raise NotFound(f"no enterprise {code!r} is registered with the gateway")
    return found


def revoke(session: Session, key_id: int) -> bool:
    """Revoke a key at once; False if it was revoked already."""
    row = _row(session, key_id)
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def rotate(
    session: Session, key_id: int, *, by: str, lifetime: timedelta | None = DEFAULT_LIFETIME
) -> Issued:
    """A new key for the same holder and label; the old one is revoked in the same commit."""
    old = _row(session, key_id)
    if old.revoked_at is not None:
        raise NotFound(f"API key {key_id} is revoked: create a new one instead")
    code = session.scalar(select(Enterprise.code).where(Enterprise.id == old.enterprise_id))
    issued = create(session, enterprise=code, by=by, label=old.label, lifetime=lifetime)
    old.revoked_at = utcnow()
    return issued


def _row(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    return row


def listing(session: Session, enterprise: str | None = None) -> list[dict[str, Any]]:
    """Every key without its digest: id, holder, prefix, label, dates."""
    stmt = select(ApiKey, Enterprise.code).outerjoin(
        Enterprise, Enterprise.id == ApiKey.enterprise_id
    )
    if enterprise:
        stmt = stmt.where(Enterprise.code == enterprise)
    return [_listed(row, code) for row, code in session.execute(stmt.order_by(ApiKey.id))]


def _listed(row: ApiKey, code: str | None) -> dict[str, Any]:
    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": row.id,
        "enterprise": code,
        "admin": row.is_admin,
        "prefix": row.prefix,
        "label": row.label,
        "created_by": row.created_by,
        "created_at": at(row.created_at),
        "expires_at": at(row.expires_at),
        "revoked_at": at(row.revoked_at),
        "state": state(row),
    }


def state(row: ApiKey) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if expired(row.expires_at):
        return "expired"
    return "active"


def expired(expires_at: datetime | None) -> bool:
    """A key's expiry (naive UTC, as stored) has come; None never expires."""
    return expires_at is not None and expires_at <= utcnow()


# --- keys from the configuration (automation) ------------------------------------------------


def sync_config(session: Session, wanted: list[tuple[str, int | None]]) -> None:
    """Register the configuration's keys (`(key, enterprise id or None for admin)`) and revoke
    the configuration's keys no longer listed: removing a key from its file ends it."""
    secret = secret_for(session)
    digests = {digest(secret, key): ent_id for key, ent_id in wanted}
    for row in session.scalars(select(ApiKey).where(ApiKey.created_by == "config")):
        if row.key_hash not in digests and row.revoked_at is None:
            row.revoked_at = utcnow()
    known = set(session.scalars(select(ApiKey.key_hash).where(ApiKey.key_hash.in_(digests))))
    for key_hash, ent_id in digests.items():
        if key_hash not in known:
            session.add(_config_row(key_hash, ent_id))
    session.flush()


def _config_row(key_hash: str, ent_id: int | None) -> ApiKey:
    return ApiKey(
        key_hash=key_hash,
        enterprise_id=ent_id,
        is_admin=ent_id is None,
        prefix="(config)",
        label="from the configuration",
        created_by="config",
    )


def write_keys_file(path: Path, keys: list[str]) -> Path:
    """A private keys file (demo and tests make their keys at start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(k + "\n" for k in keys))
    os.chmod(path, 0o600)
    return path


# --- slowing down repeated failures ----------------------------------------------------------


class FailureThrottle:
    """Failed authentications per client address in a sliding window: at `limit` failures the
    address gets 429 with Retry-After until the oldest failure leaves the window. Bounded in
    memory (the least recently failing addresses are forgotten first)."""

    def __init__(self, limit: int = 10, window: float = 60.0, addresses: int = 10_000) -> None:
        self.limit, self.window, self.addresses = limit, window, addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._failures.pop(client, None) or deque(maxlen=self.limit)
            times.append(now)
            self._failures[client] = times
            while len(self._failures) > self.addresses:
                self._failures.popitem(last=False)

    def retry_after(self, client: str) -> int:
        """Seconds the client must wait before trying again; 0 when it may go on."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(client)
            if times is None or len(times) < self.limit:
                return 0
            wait = times[0] + self.window - now
        return max(1, int(wait + 0.999)) if wait > 0 else 0
