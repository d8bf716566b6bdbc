"""The ops audit log (issue 11, finding 16): who did which ops action to what, when, and how
it ended — retries, dead-letter replays and discards, API keys, delegations.

Each entry is written in a transaction of its own once the action is over, so a refused or
failed action is recorded too (its own transaction rolled back). Entries never hold a secret:
keys appear by id, actors as `key:<id>` (the API key used) or `cli:<user>` (the operator's
login on the machine running the command).
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEntry
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.core.db import Database
    from gateway.core.enterprises import Caller

log = logging.getLogger(__name__)

#: ok: done as asked; partial: some of what was named was not there; unchanged: nothing to
#: do (a retry of a message not in signing_failed); refused: a GatewayError (bad input, not
#: allowed); failed: anything else (broker down…)
OK, PARTIAL, UNCHANGED, REFUSED, FAILED = "ok", "partial", "unchanged", "refused", "failed"


def actor(who: Caller) -> str:
    """An API caller as the log names it: the id of the key it used."""
    return f"key:{who.key_id}" if who.key_id is not None else "admin"


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


@dataclass
class Action:
    """What the action reports for its entry: `detail` (ids done, counts…) and, when it did
    not do what was asked though nothing was raised, another `outcome`."""

    outcome: str = OK
    detail: dict[str, Any] = field(default_factory=dict)

    def requeued(self, done: bool) -> None:
        """A retry's result (`SigningWorker.retry`)."""
        self.detail = {"requeued": done}
        self.outcome = OK if done else UNCHANGED


@contextmanager
def audited(db: Database, who: str, action: str, target: str) -> Iterator[Action]:
    """Run the `with` body as one ops action and record it, however it ends."""
    done = Action()
    try:
        yield done
    except GatewayError as exc:
        _write(db, who, action, target, REFUSED, {"error": exc.message})
        raise
    except Exception as exc:
        _write(db, who, action, target, FAILED, {"error": type(exc).__name__})
        raise
    _write(db, who, action, target, done.outcome, done.detail)


def _write(
    db: Database, who: str, action: str, target: str, outcome: str, detail: dict[str, Any]
) -> None:
    with db.session() as session:
        session.add(
            AuditEntry(
                actor=who[:100], action=action, target=target[:300], outcome=outcome,
                detail=detail,
            )
        )  # fmt: skip
    log.info("ops action %s on %s by %s: %s", action, target, who, outcome)


def listing(
    session: Session,
    *,
    limit: int = 100,
    action: str | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """The newest entries first."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "outcome": e.outcome,
            "detail": e.detail,
        }
        for e in session.scalars(stmt)
    ]
