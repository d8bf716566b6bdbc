"""Database models (SQLAlchemy 2). The schema itself is owned by the Alembic migrations.

A *message* is what an enterprise sent (one CEBxxxMessage, 1..100 business records) and
what the gateway signed and wrapped; a *document* is one business record (an order, a
waybill…) with its business key, current status and history. A document gets a new
*version* each time a message adds or modifies it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

from gateway.errors import InvalidInput

# SQLite has no real BIGINT autoincrement; INTEGER PRIMARY KEY is its rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise InvalidInput("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    dxp_id: Mapped[str] = mapped_column(String(30))
    #: key backend binding (R-COM-3): backend, key/cert paths, card number, suite
    key_binding: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    certificate_pem: Mapped[str | None] = mapped_column(Text)
    webhook: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    #: HMAC-SHA256 of the key under the server secret (gateway/core/keys.py): the key itself
    #: is never stored, and a copy of the table alone does not let anyone test guesses
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the key's first characters, to tell keys apart in lists (never enough to use it)
    prefix: Mapped[str] = mapped_column(String(16), default="", server_default="")
    label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: "config", "key:<id>" of the admin key that made it, or the operator's name (CLI)
    created_by: Mapped[str] = mapped_column(String(100), default="", server_default="")


class AuditEntry(Base):
    """One ops action: who did what to what, when, and how it ended (`customs-gateway
    audit`, `GET /v1/ops/audit`). Never a secret: keys appear by id and prefix only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: "key:<id>" (an admin or enterprise API key) or "cli:<user>"
    actor: Mapped[str] = mapped_column(String(100))
    #: e.g. message.retry, dead_letters.replay, key.revoke, delegation.add
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(300))
    #: ok / refused / failed
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


Index("ix_audit_at", AuditEntry.at)


class Delegation(Base):
    """An enterprise registered to declare for another party's code (R-COM-3): a platform
    for its e-commerce enterprises, an agent for its principals (`customs-gateway
    delegations`)."""

    __tablename__ = "delegations"
    __table_args__ = (UniqueConstraint("enterprise_id", "party_code", name="uq_delegation"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    party_code: Mapped[str] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: who registered it: "config", an admin key id ("key:12") or an operator's name
    created_by: Mapped[str] = mapped_column(String(100))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("enterprise_id", "guid", name="uq_message_guid"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    msg_type: Mapped[str] = mapped_column(String(20))
    guid: Mapped[str] = mapped_column(String(36))
    sha256: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    app_status: Mapped[str] = mapped_column(String(1))
    #: received → pending_sign → signed → sent; or signing_failed / saved
    state: Mapped[str] = mapped_column(String(20))
    original: Mapped[bytes] = mapped_column(LargeBinary)
    signed: Mapped[bytes | None] = mapped_column(LargeBinary)
    envelope: Mapped[bytes | None] = mapped_column(LargeBinary)
    cop_msg_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    versions: Mapped[list[Version]] = relationship(back_populates="message")


Index("ix_messages_state", Message.state)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[str] = mapped_column(String(30))
    business_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(30))
    pre_no: Mapped[str] = mapped_column(String(40))
    #: numbers customs assigns (invtNo, preNo, sumNo…), only ever from receipts (R-COM-2)
    customs_numbers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    last_return_time: Mapped[str | None] = mapped_column(String(17))
    #: when customs stored the record (入库时间): the returnTime of the receipt that moved it
    #: to stored (migration 0006); None until one has
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_info: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: whose namespace the business key lives in: the owner's id for kinds whose standard key
    #: names no enterprise (copNo + msgSeqNo, `DocumentKind.key_per_owner`), 0 for the rest
    key_scope: Mapped[int] = mapped_column(Id, default=0, server_default=text("0"))

    versions: Mapped[list[Version]] = relationship(
        back_populates="document", order_by="Version.number"
    )
    history: Mapped[list[StatusChange]] = relationship(
        back_populates="document", order_by="StatusChange.id"
    )


# One live record per business key (per owner where the key names none, migration 0005):
# deleted records free the key (R-COM-5).
Index(
    "uq_documents_live_key",
    Document.kind,
    Document.business_key,
    Document.key_scope,
    unique=True,
    sqlite_where=text("status != 'deleted'"),
    postgresql_where=text("status != 'deleted'"),
)
Index("ix_documents_enterprise_status", Document.enterprise_id, Document.status)
# Any record of a key, deleted ones included: a late receipt of a deleted record (migration 0004).
Index("ix_documents_key", Document.kind, Document.business_key)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_version_number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    number: Mapped[int] = mapped_column()
    app_type: Mapped[str] = mapped_column(String(1))
    app_status: Mapped[str] = mapped_column(String(1))
    record_guid: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="versions")
    message: Mapped[Message] = relationship(back_populates="versions")


Index("ix_versions_message", Version.message_id)


def documents_of(session: Session, message_id: int, status: str | None = None) -> list[Document]:
    """Documents whose latest version came in this message (and, given one, in `status`):
    what signing, sending and a CEB900 answering the message apply to."""
    newest = (
        select(func.max(Version.number))
        .where(Version.document_id == Document.id)
        .correlate(Document)
        .scalar_subquery()
    )
    stmt = (
        select(Document)
        .join(Version, Version.document_id == Document.id)
        .where(Version.message_id == message_id, Version.number == newest)
        .order_by(Document.id)
    )
    if status is not None:
        stmt = stmt.where(Document.status == status)
    return list(session.scalars(stmt))


MESSAGES: Table = Message.__table__  # type: ignore[assignment]
DOCUMENTS: Table = Document.__table__  # type: ignore[assignment]
VERSIONS: Table = Version.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class DocRef:
    """What a status change needs of a document, read with Core rather than the ORM (the
    pipeline's batch paths: intake, signing, the relay; see `history.record_all`)."""

    id: int
    enterprise_id: int
    kind: str
    business_key: str
    pre_no: str
    #: the current status; None for a document the transaction creates
    status: str | None
    customs_numbers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> DocRef:
        """From a row of `DOC_REF_COLUMNS`."""
        doc_id, enterprise_id, kind, business_key, pre_no, status, numbers = row
        return cls(doc_id, enterprise_id, kind, business_key, pre_no, status, numbers or {})


#: the columns of a `DocRef`, in its order (its fields are named after them)
DOC_REF_COLUMNS = tuple(DOCUMENTS.c[f.name] for f in fields(DocRef))


def document_refs_of(
    session: Session, message_ids: Collection[int], status: str
) -> dict[int, list[DocRef]]:
    """`documents_of` for many messages in one query, by message id: what the signing worker
    and the relay apply a batch of messages to (one query instead of one per message)."""
    if not message_ids:
        return {}
    newest = (
        select(func.max(VERSIONS.c.number))
        .where(VERSIONS.c.document_id == DOCUMENTS.c.id)
        .correlate(DOCUMENTS)
        .scalar_subquery()
    )
    stmt = (
        select(VERSIONS.c.message_id, *DOC_REF_COLUMNS)
        .join(VERSIONS, VERSIONS.c.document_id == DOCUMENTS.c.id)
        .where(VERSIONS.c.message_id.in_(list(message_ids)), VERSIONS.c.number == newest)
        .where(DOCUMENTS.c.status == status)
        .order_by(DOCUMENTS.c.id)
    )
    out: dict[int, list[DocRef]] = {}
    for message_id, *row in session.execute(stmt):
        out.setdefault(message_id, []).append(DocRef.from_row(row))
    return out


class Receipt(Base):
    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    msg_type: Mapped[str | None] = mapped_column(String(20))
    cop_msg_id: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    #: the receipt entities as parsed (or the parse error)
    parsed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    #: matched / partly_matched / unmatched / unreadable
    outcome: Mapped[str] = mapped_column(String(20))


Index("ix_receipts_outcome", Receipt.outcome)
Index("ix_receipts_sha", Receipt.sha256)


class StatusChange(Base):
    __tablename__ = "status_history"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    #: gateway / customs / ops
    source: Mapped[str] = mapped_column(String(10))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    return_status: Mapped[str | None] = mapped_column(String(10))
    return_time: Mapped[str | None] = mapped_column(String(17))
    info: Mapped[str | None] = mapped_column(Text)
    applied: Mapped[bool] = mapped_column(default=True)

    document: Mapped[Document] = relationship(back_populates="history")


Index("ix_history_document", StatusChange.document_id)


class Outbox(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(100))
    routing_key: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_type: Mapped[str] = mapped_column(String(50), default="application/xml")
    #: the gateway message this row sends, when it sends one (None for notifications)
    gateway_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


Index("ix_outbox_unsent", Outbox.sent_at, Outbox.id)
