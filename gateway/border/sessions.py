"""Terminal login and sessions (R-BDR-1, seed 000 第四篇).

1. The terminal (already authenticated, `terminals`) asks for a card read: the gateway reads
   the resident ID card in the terminal's reader over PC/SC (`devices.idcard`), finds the
   registered person and refuses, with the reason, an unknown card, an expired ID, an expired
   registration, a disabled (停用) resident, one not synced to customs or not in 正常 status.
2. The answer lists the roles the person holds (身份选择): 边民 always, and 互助组 / 合作社 for
   each enabled organisation they represent; with it comes a session token, bound to that
   terminal, that can do nothing until a role is picked.
3. `choose` picks one of the offered roles. From then on the session stands for a
   `identity.Declarant` (`declarant`): the person, in that role, at that terminal's place; a
   representative's declarant carries the organisation's delegating residents as members.
4. Every use checks the terminal (a token carried to another terminal is refused), the idle
   time (`PeopleSettings.idle`; the clock is passed in, so tests need no sleeping) and that the
   person is still allowed in (disabled meanwhile: the session ends).

Tokens are 256 random bits, kept as their SHA-256 only. The declarant is built from the session
alone: no request can name another resident to act for (`require_self`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from devices import pcsc
from devices.idcard import IdCardError, ResidentId, read_id_card
from gateway.border.identity import Declarant, Organisation, Role, mask_id
from gateway.border.people_codes import ResidentStatus
from gateway.border.people_models import BrdMember, BrdOrganisation, BrdResident, BrdSession
from gateway.border.terminals import Terminal
from gateway.errors import AccessDenied, InvalidInput, LoginRefused, SessionExpired

CHINA = ZoneInfo("Asia/Shanghai")
ROLE_LABEL = {Role.RESIDENT: "边民", Role.GROUP_REPRESENTATIVE: "互助组",
              Role.COOPERATIVE_REPRESENTATIVE: "合作社"}  # fmt: skip


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def china_day(now: datetime) -> date:
    """ID and registration validity are dates of the Chinese calendar day."""
    return now.astimezone(CHINA).date()


@dataclass(frozen=True)
class RoleChoice:
    role: Role
    organisation: Organisation | None = None

    def as_dict(self) -> dict[str, Any]:
        org = self.organisation
        return {
            "role": self.role.value,
            "label": ROLE_LABEL[self.role],
            "registration_no": org.registration_no if org else None,
            "organisation": org.name if org else None,
        }


@dataclass(frozen=True)
class Login:
    """What a card read gives the terminal: a token (shown once) and the roles to pick from."""

    token: str
    name: str
    masked_id: str
    roles: tuple[RoleChoice, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"session": self.token, "name": self.name, "id_number": self.masked_id,
                "roles": [r.as_dict() for r in self.roles]}  # fmt: skip


# --- reading and identifying ------------------------------------------------------------------


def read_card(terminal: Terminal) -> ResidentId:
    """The ID card on the terminal's reader (身份证识别), over PC/SC."""
    try:
        return read_id_card(terminal.reader)
    except pcsc.NoCard:
        raise LoginRefused("no_card", "no ID card on the reader: 请将身份证放在阅读器上") from None
    except IdCardError as exc:
        raise LoginRefused(
            "unreadable_card", f"the card could not be read as an ID card: {exc}"
        ) from None
    except pcsc.DeviceError as exc:
        raise LoginRefused("reader", f"the terminal's ID-card reader failed: {exc}") from None


def admit(
    session: Session, id_number: str, today: date, card: ResidentId | None = None
) -> BrdResident:
    """The registered resident with this ID number if they may log in today; LoginRefused
    with the reason otherwise (R-BDR-1, R-BDR-2)."""
    row = session.scalar(select(BrdResident).where(BrdResident.id_number == id_number))
    masked = mask_id(id_number)
    if row is None:
        raise LoginRefused("unknown_card", f"{masked} is not a registered border resident (未备案)")
    card_expired = card is not None and not card.valid_on(today)
    if card_expired or (row.id_valid_to is not None and row.id_valid_to < today):
        raise LoginRefused(
            "id_expired", f"the ID card of {masked} is out of its validity (身份证已过期)"
        )
    if row.registration_valid_to < today:
        raise LoginRefused(
            "registration_expired",
            f"the registration of {masked} ended on {row.registration_valid_to} (备案已过期)",
        )
    if not row.enabled:
        raise LoginRefused("disabled", f"{masked} is disabled (停用)")
    if not row.synced:
        raise LoginRefused("not_synced", f"{masked} is not synced to customs yet (未同步海关)")
    if row.status != ResidentStatus.NORMAL:
        label = ResidentStatus(row.status).label
        raise LoginRefused("status", f"{masked} is in status {label}, not 正常")
    return row


def roles_of(session: Session, resident: BrdResident) -> tuple[RoleChoice, ...]:
    """边民 always; a representative's role for each enabled organisation they represent."""
    orgs = session.scalars(
        select(BrdOrganisation)
        .where(BrdOrganisation.representative_id == resident.id, BrdOrganisation.enabled.is_(True))
        .order_by(BrdOrganisation.kind, BrdOrganisation.registration_no)
    )
    return (RoleChoice(Role.RESIDENT),) + tuple(
        RoleChoice(Role(o.kind), Organisation(o.registration_no, o.name, o.uscc)) for o in orgs
    )


# --- the session's life -----------------------------------------------------------------------


#: sessions (terminal and officer) last used longer ago than this are deleted at a login
RETENTION = timedelta(days=30)


def purge(session: Session, now: datetime) -> None:
    """Forget sessions unused for RETENTION: the table stays bounded without a job."""
    session.execute(delete(BrdSession).where(BrdSession.last_seen_at < now - RETENTION))


def begin(session: Session, terminal: Terminal, card: ResidentId, now: datetime) -> Login:
    """Steps 1–2: the person on the card, admitted, and a session waiting for a role."""
    resident = admit(session, card.id_number, china_day(now), card)
    purge(session, now)
    token, digest = new_token()
    session.add(BrdSession(token_hash=digest, terminal_id=terminal.terminal_id,
                           resident_id=resident.id, created_at=now, last_seen_at=now))  # fmt: skip
    return Login(token, resident.name, mask_id(resident.id_number), roles_of(session, resident))


def login_by_card(session: Session, terminal: Terminal, now: datetime) -> Login:
    return begin(session, terminal, read_card(terminal), now)


def touch(
    session: Session, terminal: Terminal, token: str | None, now: datetime, idle: timedelta
) -> BrdSession:
    """The live session of `token` at this terminal, its idle clock restarted."""
    row = session.scalar(select(BrdSession).where(BrdSession.token_hash == token_hash(token or "")))
    if row is None or row.terminal_id is None or row.ended_at is not None:
        raise SessionExpired("no such session, or it ended: log in again (X-Border-Session)")
    if row.terminal_id != terminal.terminal_id:
        raise AccessDenied("this session belongs to another terminal (R-BDR-1)")
    if now - row.last_seen_at > idle:
        end(row, now, "timeout")
        raise SessionExpired("长时间不操作系统，提示超时: the session timed out, log in again")
    resident = session.get(BrdResident, row.resident_id)
    try:
        assert resident is not None
        admit(session, resident.id_number, china_day(now))
    except LoginRefused:
        end(row, now, "refused")
        raise
    row.last_seen_at = now
    return row


def end(row: BrdSession, now: datetime, reason: str) -> None:
    row.ended_at, row.end_reason = now, reason


def choose(
    session: Session, terminal: Terminal, token: str, role: str, registration_no: str | None,
    now: datetime, idle: timedelta,
) -> Declarant:  # fmt: skip
    """Step 3 (身份选择): one of the roles the card read offered."""
    row = touch(session, terminal, token, now, idle)
    if row.role is not None:
        raise InvalidInput("a role was picked already in this session: log out to pick another")
    resident = session.get(BrdResident, row.resident_id)
    assert resident is not None
    for offered in roles_of(session, resident):
        org = offered.organisation
        if offered.role.value == role and (org is None or org.registration_no == registration_no):
            row.role = offered.role.value
            if org is not None:
                row.organisation_id = session.scalar(
                    select(BrdOrganisation.id).where(
                        BrdOrganisation.registration_no == org.registration_no
                    )
                )
            return declarant(session, row, terminal)
    raise AccessDenied(
        f"role {role!r} (organisation {registration_no!r}) is not one this person holds"
    )


def declarant(session: Session, row: BrdSession, terminal: Terminal) -> Declarant:
    """The Declarant a session with a picked role stands for (identity.Declarant)."""
    if row.role is None:
        raise AccessDenied("pick a role first (身份选择): POST /v1/border/terminal/role")
    resident = session.get(BrdResident, row.resident_id)
    assert resident is not None
    organisation: Organisation | None = None
    members: tuple[str, ...] = ()
    if row.organisation_id is not None:
        org = session.get(BrdOrganisation, row.organisation_id)
        assert org is not None
        organisation = Organisation(org.registration_no, org.name, org.uscc)
        members = tuple(session.scalars(
            select(BrdResident.id_number)
            .join(BrdMember, BrdMember.resident_id == BrdResident.id)
            .where(BrdMember.organisation_id == org.id)
            .order_by(BrdResident.id_number)
        ))  # fmt: skip
    return Declarant(
        id_number=resident.id_number,
        name=resident.name,
        role=Role(row.role),
        district=terminal.district,
        terminal_id=terminal.terminal_id,
        place_code=terminal.place_code,
        organisation=organisation,
        members=members,
    )


def logout(session: Session, terminal: Terminal, token: str, now: datetime) -> None:
    """退出: the session ends at once (an idle one counts as ended too)."""
    row = session.scalar(select(BrdSession).where(BrdSession.token_hash == token_hash(token)))
    if row is None or row.terminal_id != terminal.terminal_id:
        raise SessionExpired("no such session at this terminal")
    if row.ended_at is None:
        end(row, now, "logout")


def require_self(declarant: Declarant, id_number: str) -> None:
    """A resident acts only for themselves; a representative for themselves and the
    organisation's delegating residents (R-BDR-1, R-BDR-7)."""
    if id_number != declarant.id_number and id_number not in declarant.members:
        raise AccessDenied(f"this session cannot act for {mask_id(id_number)}")
