"""Enterprises, their API keys and their key bindings.

API keys are stored as HMAC-SHA256 digests under a server secret (gateway/core/keys.py):
they are long random tokens, so a slow password hash would only cost latency on every
request without adding safety, and the secret makes a stolen table useless for guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import delegations, keys
from gateway.core.config import Config, EnterpriseConfig, KeyConfig
from gateway.core.models import ApiKey, Enterprise
from gateway.errors import AccessDenied


@dataclass(frozen=True)
class Caller:
    """Who is calling: an enterprise (sees only its own records) or an admin (sees all)."""

    enterprise_id: int | None
    enterprise_code: str | None
    is_admin: bool = False
    #: the API key used (its id, for the audit log); None for in-process callers
    key_id: int | None = None


def hash_key(session: Session, api_key: str) -> str:
    return keys.digest(keys.secret_for(session), api_key)


def new_api_key() -> str:
    return keys.new_key()


def binding(key: KeyConfig) -> dict[str, Any]:
    """The key binding kept in the database; paths only, never a password (R-COM-3)."""
    return {
        "backend": key.backend,
        "key_file": str(key.key_file) if key.key_file else None,
        "cert_file": str(key.cert_file) if key.cert_file else None,
        "password_file": str(key.password_file) if key.password_file else None,
        "suite": key.suite,
        "key_type": key.key_type,
        "reader": key.reader,
        "card_number": key.card_number,
        "pin_file": str(key.pin_file) if key.pin_file else None,
        "cards": list(key.cards),
        "card_timeout": key.card_timeout,
    }


def upsert(session: Session, ent: EnterpriseConfig) -> Enterprise:
    row = session.scalar(select(Enterprise).where(Enterprise.code == ent.code))
    if row is None:
        row = Enterprise(code=ent.code, name=ent.name, dxp_id=ent.dxp_id)
        session.add(row)
    row.name, row.dxp_id, row.webhook = ent.name, ent.dxp_id, ent.webhook
    row.key_binding = binding(ent.key)
    cert = ent.key.cert_file
    row.certificate_pem = cert.read_text() if cert and Path(cert).exists() else None
    session.flush()
    delegations.sync(session, row, ent.declares_for)
    return row


def register_keys(session: Session, config: Config) -> None:
    """Load the server secret; register the configuration's keys, revoke those it dropped."""
    keys.install(session, config.state_dir)
    ids = {code: ent_id for code, ent_id in session.execute(select(Enterprise.code, Enterprise.id))}
    wanted = [(k, ids[e.code]) for e in config.enterprises for k in e.api_keys]
    keys.sync_config(session, wanted + [(k, None) for k in config.admin_api_keys])


def authenticate(session: Session, api_key: str | None) -> Caller:
    return authenticate_until(session, api_key)[0]


def authenticate_until(session: Session, api_key: str | None) -> tuple[Caller, datetime | None]:
    """The caller of an active key, and when the key expires (None: never)."""
    if not api_key:
        raise bad_key("missing API key (header X-API-Key)")
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(session, api_key)))
    if row is None or keys.state(row) != "active":
        raise bad_key("unknown, revoked or expired API key")
    if row.is_admin:
        admin = Caller(enterprise_id=None, enterprise_code=None, is_admin=True, key_id=row.id)
        return admin, row.expires_at
    ent = session.get(Enterprise, row.enterprise_id)
    assert ent is not None  # foreign key
    return Caller(enterprise_id=ent.id, enterprise_code=ent.code, key_id=row.id), row.expires_at


def bad_key(message: str) -> AccessDenied:
    """A refusal of the credentials themselves: the HTTP app counts these per client address
    and slows a client down that keeps failing (`keys.FailureThrottle`)."""
    exc = AccessDenied(message)
    exc.bad_credentials = True  # type: ignore[attr-defined]
    return exc


def by_code(session: Session, code: str) -> Enterprise:
    row = session.scalar(select(Enterprise).where(Enterprise.code == code))
    if row is None:
        raise AccessDenied(f"enterprise {code!r} is not registered with the gateway")
    return row
