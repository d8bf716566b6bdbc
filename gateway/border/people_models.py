"""Tables of the people side of border trade: the resident registry with its mutual-aid groups
and cooperatives (R-BDR-2), the terminals at supervised places (the places themselves are
the declarations side's `models.BrdPlace`, which also names the place's operator), terminal
and officer sessions (R-BDR-1), officers and their IC cards, and the encrypted biometric
templates (R-BDR-3). Schema: `gateway/border/migrations/brd_reg_*` (Alembic branch "border_people").

An ID number is kept in full (declarations carry it to customs) and shown only masked
(`identity.mask_id`). Secrets (terminal keys, session tokens) are kept as digests only;
templates only as ciphertext of the template vault.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models import Base, Id, UTCDateTime, utcnow


class BrdResident(Base):
    """One registered border resident (边民备案), as local commerce registered them."""

    __tablename__ = "brd_residents"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(1))  # codes.Sex
    district: Mapped[str] = mapped_column(String(4))
    address: Mapped[str] = mapped_column(String(200), default="")
    id_valid_from: Mapped[date] = mapped_column(Date)
    id_valid_to: Mapped[date | None] = mapped_column(Date)  # None: 长期
    status: Mapped[str] = mapped_column(String(1))  # ResidentStatus
    source: Mapped[str] = mapped_column(String(50))  # 数据来源
    registration_valid_to: Mapped[date] = mapped_column(Date)  # 有效期止
    biometrics: Mapped[str] = mapped_column(String(1))  # BiometricFlag
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    synced: Mapped[bool] = mapped_column(Boolean, default=False)  # 已同步海关
    last_operation_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_brd_residents_query", BrdResident.district, BrdResident.last_operation_at)


class BrdOrganisation(Base):
    """A mutual-aid group (互助组) or cooperative (合作社) and its representative."""

    __tablename__ = "brd_organisations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(1))  # identity.Role of its representative
    registration_no: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str | None] = mapped_column(String(18))
    district: Mapped[str] = mapped_column(String(4))
    representative_id: Mapped[int] = mapped_column(ForeignKey("brd_residents.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class BrdMember(Base):
    """A resident who delegates to an organisation's representative (委托边民)."""

    __tablename__ = "brd_members"
    __table_args__ = (UniqueConstraint("organisation_id", "resident_id", name="uq_brd_member"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("brd_organisations.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("brd_residents.id"))


class BrdTerminal(Base):
    """A declaration terminal (申报终端) at a supervised place, with its ID-card reader."""

    __tablename__ = "brd_terminals"

    terminal_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    place_code: Mapped[str] = mapped_column(ForeignKey("brd_places.place_code"))
    #: the PC/SC reader its ID cards are read in
    reader: Mapped[str] = mapped_column(String(100))
    #: HMAC-SHA256 of its key under the server secret (gateway.core.keys)
    key_hash: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BrdSession(Base):
    """A terminal session (after the card read; `role` once the person picked one) or an
    officer session (`officer_id`)."""

    __tablename__ = "brd_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    terminal_id: Mapped[str | None] = mapped_column(ForeignKey("brd_terminals.terminal_id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("brd_residents.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("brd_officers.id"))
    role: Mapped[str | None] = mapped_column(String(1))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("brd_organisations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))


class BrdOfficer(Base):
    """A customs officer and the IC card (made by the data centre) they log in with."""

    __tablename__ = "brd_officers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    officer_no: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    district: Mapped[str] = mapped_column(String(4))
    card_number: Mapped[str] = mapped_column(String(30), unique=True)
    #: SHA-256 of the card certificate's DER: a card re-made with another key is refused
    cert_sha256: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class BrdTemplate(Base):
    """One enrolled biometric template, encrypted by the template vault (R-BDR-3)."""

    __tablename__ = "brd_templates"
    __table_args__ = (UniqueConstraint("resident_id", "slot", name="uq_brd_template_slot"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("brd_residents.id"))
    #: finger1, finger2, face
    slot: Mapped[str] = mapped_column(String(10))
    finger: Mapped[int | None] = mapped_column(Integer)  # the finger's position, if known
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enrolled_by: Mapped[str] = mapped_column(String(100))
