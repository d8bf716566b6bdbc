"""Delegations and party codes (R-COM-3): who may name which enterprise in a record.

A record names parties (ebcCode, agentCode, logisticsCode, operatorCode, declarantCode…,
`DocumentKind.party_fields`). The authenticated enterprise must be one of them: its own code
or a code it is registered to declare for — a platform for its e-commerce enterprises, an
agent for its principals. A party field in the business key must be, since the key lives in
that party's namespace: otherwise enterprise B could take A's order numbers (issue 11).
Delegations are kept in the store, managed by admins (`customs-gateway delegations`,
`/v1/admin/delegations`) or declared in the configuration (`declares_for`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.core.kinds import DocumentKind, Record
from gateway.core.models import Delegation, Enterprise
from gateway.errors import NotFound, Violation

RULE = "R-COM-3"


def codes_of(session: Session, enterprise_id: int) -> frozenset[str]:
    """The party codes this enterprise is registered to declare for (its own code aside)."""
    stmt = select(Delegation.party_code).where(Delegation.enterprise_id == enterprise_id)
    return frozenset(session.scalars(stmt))


def party_violations(
    session: Session, ent: Enterprise, kind: DocumentKind, records: Sequence[Record]
) -> list[Violation]:
    """Every record whose parties do not include the declarer, one violation each."""
    if not kind.party_fields:
        return []
    own = _Own(session, ent)
    found: list[Violation] = []
    for rec in records:
        found += _record_violations(kind, rec, own)
    return found


class _Own:
    """The declarer's codes; the delegations are read once, and only when needed (most
    records name the declarer itself)."""

    def __init__(self, session: Session, ent: Enterprise) -> None:
        self.session, self.ent = session, ent
        self._delegated: frozenset[str] | None = None

    def __contains__(self, code: object) -> bool:
        if code == self.ent.code:
            return True
        if self._delegated is None:
            self._delegated = codes_of(self.session, self.ent.id)
        return code in self._delegated


def _record_violations(kind: DocumentKind, rec: Record, own: _Own) -> list[Violation]:
    in_key = [f for f in kind.party_fields if f in kind.key_fields]
    if in_key:
        return [_violation(kind, rec, (f,)) for f in in_key if rec.fields.get(f, "") not in own]
    if any(rec.fields.get(f, "") in own for f in kind.party_fields):
        return []
    return [_violation(kind, rec, kind.party_fields)]


def _violation(kind: DocumentKind, rec: Record, names: tuple[str, ...]) -> Violation:
    key = ", ".join(f"{f}={v}" for f, v in zip(kind.key_fields, rec.business_key, strict=True))
    values = [rec.fields.get(f, "") for f in names]
    return Violation(
        rule=RULE,
        field=f"{kind.record_tag}({key})/{'|'.join(names)}",
        message="must be the authenticated enterprise's own code or a code it is registered"
        " to declare for (ask the gateway's admin for a delegation)",
        value=", ".join(values),
    )


# --- managing delegations ---------------------------------------------------------------------


def _enterprise(session: Session, code: str) -> Enterprise:
    row = session.scalar(select(Enterprise).where(Enterprise.code == code))
    if row is None:
        raise NotFound(f"no enterprise {code!r} is registered with the gateway")
    return row


def add(session: Session, enterprise_code: str, party_code: str, *, by: str) -> bool:
    """Register `enterprise_code` to declare for `party_code`; False if it already was."""
    ent = _enterprise(session, enterprise_code)
    if party_code in codes_of(session, ent.id):
        return False
    session.add(Delegation(enterprise_id=ent.id, party_code=party_code, created_by=by))
    session.flush()
    return True


def remove(session: Session, enterprise_code: str, party_code: str) -> bool:
    """Withdraw a delegation; False if there was none."""
    ent = _enterprise(session, enterprise_code)
    done = session.execute(
        delete(Delegation).where(
            Delegation.enterprise_id == ent.id, Delegation.party_code == party_code
        )
    )
    return bool(getattr(done, "rowcount", 0))


def sync(session: Session, ent: Enterprise, codes: Iterable[str]) -> None:
    """The delegations the configuration declares (added, never removed: an admin's stay)."""
    have = codes_of(session, ent.id)
    for code in sorted(set(codes) - have):
        session.add(Delegation(enterprise_id=ent.id, party_code=code, created_by="config"))
    session.flush()


def listing(session: Session, enterprise_code: str | None = None) -> list[dict[str, Any]]:
    stmt = select(Delegation, Enterprise.code).join(
        Enterprise, Enterprise.id == Delegation.enterprise_id
    )
    if enterprise_code:
        stmt = stmt.where(Enterprise.code == enterprise_code)
    rows = session.execute(stmt.order_by(Enterprise.code, Delegation.party_code))
    return [
        {
            "enterprise": code,
            "party_code": d.party_code,
            "created_at": d.created_at.isoformat(),
            "created_by": d.created_by,
        }
        for d, code in rows
    ]
