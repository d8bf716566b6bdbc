"""An inventory list is saved before it is declared (R-ECX-2; seed 004 §3.1:
"清单申报之前必须先进行暂存操作"; coverage.md 004 row 24).

A new list (appType 1) arrives saved (appStatus 1) and is declared afterwards: sent again
with appType 1 and appStatus 2 (R-COM-2), or by the batch declare. A new list declared in
its first message is refused, naming the rule and what to do; nothing of the message is
stored. A modification (appType 2) and a deletion (appType 3) are of a list the gateway
already holds, so the rule does not concern them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.codes import AppStatus, AppType
from gateway.core.kinds import DocumentKind, Record, key_text
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status
from gateway.errors import Violation

RULE = "R-ECX-2"
MESSAGE = (
    "清单申报之前必须先进行暂存操作: save the list first (appType 1, appStatus 1), "
    "then declare it (appType 1, appStatus 2, or the batch declare)"
)


def saved_first(session: Session, ent: Enterprise, checked: Any, at: datetime) -> list[Violation]:
    """The `store_checks` part of the inventory list: every new list declared (appType 1,
    appStatus 2) must be one the enterprise saved before."""
    kind: DocumentKind = checked.kind
    declared = [
        r for r in checked.records
        if r.app_type == AppType.ADD and r.app_status == AppStatus.DECLARE
    ]  # fmt: skip
    if not declared:
        return []
    saved = _saved_keys(session, ent, kind, [key_text(r.business_key) for r in declared])
    return [_refusal(kind, r) for r in declared if key_text(r.business_key) not in saved]


def _saved_keys(
    session: Session, ent: Enterprise, kind: DocumentKind, keys: list[str]
) -> set[str]:
    scope = ent.id if kind.key_per_owner else 0
    rows = session.scalars(
        select(Document.business_key).where(
            Document.kind == kind.name,
            Document.business_key.in_(keys),
            Document.key_scope == scope,
            Document.enterprise_id == ent.id,
            Document.status == Status.SAVED.value,
        )
    )
    return set(rows)


def _refusal(kind: DocumentKind, rec: Record) -> Violation:
    key = ", ".join(f"{f}={v}" for f, v in zip(kind.key_fields, rec.business_key, strict=True))
    return Violation(RULE, f"{kind.record_tag}({key})/appStatus", MESSAGE, value=rec.app_status)
