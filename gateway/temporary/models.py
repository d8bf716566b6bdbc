"""Tables of temporary import/export goods: what the rules and queries need of each
exhibition registration and change application, beyond the core's documents.

A row is written with its message in the intake transaction (`kinds`), so it commits or rolls
back with the document. Its status is the document's (`documents.status`), never copied; the
exhibition customs number is the document's too (`customs_numbers`, from customs' receipt).
Schema: `gateway/temporary/migrations` (Alembic branch "temporary").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models import Base, Id, UTCDateTime, utcnow


class TmpExhibition(Base):
    """One exhibition registration (展览会备案), keyed like its document (agentCode, copNo)."""

    __tablename__ = "tmp_exhibitions"
    __table_args__ = (UniqueConstraint("agent_code", "cop_no", name="uq_tmp_exhibition_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    agent_code: Mapped[str] = mapped_column(String(10))
    cop_no: Mapped[str] = mapped_column(String(30))
    #: 展览会预录入编号: "Z" + 主管海关 + year + 7-digit sequence, given at the first save
    pre_entry_no: Mapped[str] = mapped_column(String(16), unique=True)
    customs_code: Mapped[str] = mapped_column(String(4))
    exhibition_name: Mapped[str] = mapped_column(String(200), default="")
    #: the form's values as last taken in (approved changes included), by element name
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: 操作员, 录入单位, 海关十位编码: from the enterprise's registration and card (R-TMP-1)
    operator_name: Mapped[str] = mapped_column(String(50), default="")
    input_code: Mapped[str] = mapped_column(String(18), default="")
    input_name: Mapped[str] = mapped_column(String(200), default="")
    #: 填报日期: when the gateway first took it in
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: 申报日期: when it was last declared (appStatus 2)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_tmp_exhibitions_enterprise", TmpExhibition.enterprise_id, TmpExhibition.filled_at)


class TmpExhibitionChange(Base):
    """One change application (变更) of a registration: the form as it should become, applied
    to the registration when customs approves it."""

    __tablename__ = "tmp_exhibition_changes"
    __table_args__ = (UniqueConstraint("exhibition_id", "seq_no", name="uq_tmp_change_seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    exhibition_id: Mapped[int] = mapped_column(ForeignKey("tmp_exhibitions.id"))
    seq_no: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: when customs' approval was applied to the registration
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
