"""Tables of the declarations side of border trade: supervised places, the goods catalogue,
each declaration beyond the core's document, and the residents a representative declares for.

A declaration's row is written with its message in the intake transaction (`kinds`), so it
commits or rolls back with the document; it is keyed like the document (its business key is
the pre-entry number). Its status is the document's (`documents.status`),
never copied; customs' declaration number is the document's too (`customs_numbers`).
Schema: `gateway/border/migrations` (Alembic branch "border"; the people side's tables are
branch "border_people" in the same folder).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models import Base, Id, UTCDateTime, utcnow


class BrdPlace(Base):
    """A supervised place (监管场所) with terminals: its district, the operator whose key signs
    the declarations made there, and the biometric method customs configured for it
    (认证方式在监管应用维护)."""

    __tablename__ = "brd_places"

    place_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(4))
    #: the gateway enterprise (监管场所经营人) whose key signs this place's declarations
    operator_code: Mapped[str] = mapped_column(String(18))
    method: Mapped[str] = mapped_column(String(12))  # identity.BiometricMethod


class BrdCatalogue(Base):
    """One entry of the goods catalogue (商品分类表) customs publishes: goods lines must name
    one (R-BDR-4, R-BDR-9)."""

    __tablename__ = "brd_goods_catalogue"

    goods_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(10))


class BrdDeclaration(Base):
    """One entry or import declaration, change or revoke record (an application record)."""

    __tablename__ = "brd_declarations"
    __table_args__ = (UniqueConstraint("pre_entry_no", name="uq_brd_pre_entry_no"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    form: Mapped[str] = mapped_column(String(2))  # codes.Form
    decl_type: Mapped[str] = mapped_column(String(2))  # codes.DeclType
    pre_entry_no: Mapped[str] = mapped_column(String(18))
    district: Mapped[str] = mapped_column(String(4))
    place_code: Mapped[str] = mapped_column(String(20))
    business_mode: Mapped[str] = mapped_column(String(2), default="")
    transport_mode: Mapped[str] = mapped_column(String(1), default="")
    declarant_type: Mapped[str] = mapped_column(String(1))
    #: the full ID number: customs receives it; pages and answers show it masked (R-BDR-2)
    id_number: Mapped[str] = mapped_column(String(18))
    declarant_name: Mapped[str] = mapped_column(String(50))
    terminal_id: Mapped[str] = mapped_column(String(30))
    #: the record a change or revoke is made of
    original_id: Mapped[int | None] = mapped_column(ForeignKey("brd_declarations.id"))
    #: the form as declared: head fields, goods, vehicles, attachments (element names)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the biometric check's outcome, as signed into the message (never a template)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: 申报单编号: customs' number, from its first receipt (a copy of the document's)
    decl_no: Mapped[str | None] = mapped_column(String(18), index=True)
    #: 监管审核意见: customs' last opinion (a return's reasons)
    review_opinion: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 认证截止: when a 待认证 declaration times out (R-BDR-7)
    auth_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_brd_declarations_person", BrdDeclaration.id_number, BrdDeclaration.form)


class BrdAttachment(Base):
    """A PDF a declarant uploaded for their entry declarations (随附单证), by digest."""

    __tablename__ = "brd_attachments"
    __table_args__ = (
        UniqueConstraint("id_number", "declarant_type", "sha256", name="uq_brd_attachment"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18))
    declarant_type: Mapped[str] = mapped_column(String(1))
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(100))
    doc_type: Mapped[str] = mapped_column(String(10))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BrdSequence(Base):
    """The last pre-entry number drawn per year and form (prefix YYYY + 01/03)."""

    __tablename__ = "brd_sequences"

    prefix: Mapped[str] = mapped_column(String(6), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger)


class BrdDelegate(Base):
    """A resident a representative declares for (委托边民): must pass face authentication
    before the declaration goes to customs (R-BDR-7)."""

    __tablename__ = "brd_delegates"
    __table_args__ = (UniqueConstraint("declaration_id", "id_number", name="uq_brd_delegate"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("brd_declarations.id"))
    id_number: Mapped[str] = mapped_column(String(18))
    #: pending / passed / refused
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
