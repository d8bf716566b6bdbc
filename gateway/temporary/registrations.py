"""Exhibition registrations as the gateway keeps them: rows written with their message, the
pre-entry number, approved changes applied, and the question whether a registration is in use.

Pre-entry number (展览会预录入编号): the manual gives none for exhibitions, only the pattern of
its siblings (confirmation "G" + customs + year + sequence, extension "Y011020210000024").
Ours follows it: "Z" (展) + the 4-digit supervising customs + the year + a 7-digit sequence per
customs and year, 16 characters, given once at the first save (or at a declare without one).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.kinds import Record, key_text
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status
from gateway.temporary import fields as form
from gateway.temporary.codes import OPEN
from gateway.temporary.models import TmpExhibition, TmpExhibitionChange
from gateway.temporary.rules import bound_values, is_declare

EXHIBITION = "tmp_exhibition"
#: the applications on an approved registration (kinds.CHANGE, kinds.DELETION)
APPLICATIONS = ("tmp_exhibition_change", "tmp_exhibition_deletion")

#: R-TMP-3: who uses an approved registration (a loaned-exhibit list, a confirmation…). Each
#: later kind adds a check returning what uses it, or None; a used one cannot be deleted.
UsageCheck = Callable[[Session, TmpExhibition], str | None]
USAGE_CHECKS: list[UsageCheck] = []


def uses(session: Session, row: TmpExhibition) -> list[str]:
    """What uses the registration (empty: a deletion may be applied for)."""
    return [found for check in USAGE_CHECKS if (found := check(session, row)) is not None]


def open_applications(session: Session, key: str) -> list[Document]:
    """The registration's change and deletion applications still on their way or at
    customs: while one is, no other may be made (one application at a time)."""
    stmt = select(Document).where(
        Document.kind.in_(APPLICATIONS),
        (Document.business_key == key)
        | Document.business_key.startswith(key + "|", autoescape=True),
        Document.status.in_([s.value for s in OPEN]),
    )
    return list(session.scalars(stmt))


def key_of(fields: dict[str, str]) -> str:
    return key_text((fields.get("agentCode", ""), fields.get("copNo", "")))


def live_document(session: Session, kind: str, key: str) -> Document | None:
    """The live (not deleted) document of a kind under a key, locked for this transaction."""
    stmt = select(Document).where(
        Document.kind == kind,
        Document.business_key == key,
        Document.status != Status.DELETED.value,
    )
    return session.scalar(stmt.with_for_update())


def row_of(session: Session, agent_code: str, cop_no: str) -> TmpExhibition | None:
    stmt = select(TmpExhibition).where(
        TmpExhibition.agent_code == agent_code, TmpExhibition.cop_no == cop_no
    )
    return session.scalar(stmt)


def form_values(rec: Record) -> dict[str, str]:
    """The form's values of a record, card fields left to the enterprise's binding."""
    return {
        f.name: rec.fields[f.name]
        for f in form.FORM
        if f.name in rec.fields and f.name not in form.CARD_FIELDS
    }


def take(session: Session, ent: Enterprise, rec: Record, at: datetime) -> TmpExhibition:
    """Write the registration row of a TMP101 record that passed every rule."""
    agent, cop = rec.fields.get("agentCode", ""), rec.fields.get("copNo", "")
    row = row_of(session, agent, cop)
    fresh = live_document(session, EXHIBITION, key_text((agent, cop))) is None
    if row is None or fresh:  # a new registration, or the key again after a local delete
        number = next_pre_entry_no(session, rec.fields.get("customsCode", ""), at)
        if row is None:
            row = TmpExhibition(agent_code=agent, cop_no=cop, pre_entry_no=number)
            session.add(row)
        row.pre_entry_no, row.filled_at, row.declared_at = number, at, None
    bound = bound_values(ent)
    row.enterprise_id = ent.id
    row.customs_code = rec.fields.get("customsCode", "")
    row.exhibition_name = rec.fields.get("exhibitionName", "")
    row.fields = form_values(rec)
    row.operator_name = bound["operatorName"]
    row.input_code, row.input_name = bound["inputCode"], bound["inputName"]
    row.updated_at = at
    if is_declare(rec):
        row.declared_at = at
    session.flush()  # the next record of the message sees this one's pre-entry number
    return row


def next_pre_entry_no(session: Session, customs: str, at: datetime) -> str:
    """The next "Z" + customs + year + 7-digit number. On PostgreSQL, intakes numbering in the
    same customs and year wait for each other (a transaction lock on the prefix), so each
    sees the number the one before it committed; SQLite runs one writer at a time anyway.
    The unique index is the last guard: a clash fails the intake, which runs it again."""
    prefix = f"Z{customs}{at.astimezone(CHINA_TZ):%Y}"
    if session.get_bind().dialect.name == "postgresql":
        lock = zlib.crc32(f"tmp-pre-entry:{prefix}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    last = session.scalar(
        select(func.max(TmpExhibition.pre_entry_no)).where(
            TmpExhibition.pre_entry_no.like(f"{prefix}%")
        )
    )
    number = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{number:07d}"


def take_change(
    session: Session, row: TmpExhibition, rec: Record, at: datetime
) -> TmpExhibitionChange:
    """Write the row of a change application that passed every rule."""
    seq = int(rec.fields.get("seqNo", "0"))
    change = session.scalar(
        select(TmpExhibitionChange).where(
            TmpExhibitionChange.exhibition_id == row.id, TmpExhibitionChange.seq_no == seq
        )
    )
    if change is None:
        change = TmpExhibitionChange(exhibition_id=row.id, seq_no=seq, filled_at=at)
        session.add(change)
    change.reason = rec.fields.get("changeReason", "")
    change.fields = form_values(rec)
    if is_declare(rec):
        change.declared_at = at
    session.flush()
    return change


def apply_change(session: Session, agent: str, cop: str, seq: int, at: datetime) -> bool:
    """Customs approved change `seq`: the registration takes the change's form. False when
    there is no such change (nothing to apply)."""
    row = row_of(session, agent, cop)
    if row is None:
        return False
    change = session.scalar(
        select(TmpExhibitionChange).where(
            TmpExhibitionChange.exhibition_id == row.id, TmpExhibitionChange.seq_no == seq
        )
    )
    if change is None:
        return False
    values: dict[str, Any] = dict(change.fields or {})
    row.fields = values
    row.customs_code = str(values.get("customsCode", row.customs_code))
    row.exhibition_name = str(values.get("exhibitionName", row.exhibition_name))
    row.updated_at = change.applied_at = at
    return True
