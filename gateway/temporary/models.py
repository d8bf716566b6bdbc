"""Tables of temporary import/export goods: what the rules and queries need of each
exhibition registration, change application and loaned-exhibit list, beyond the core's
documents, and the customs declarations linked to exhibitions (reference data customs holds).

A row is written with its message in the intake transaction (`kinds`), so it commits or rolls
back with the document. Its status is the document's (`documents.status`), never copied; the
exhibition customs number is the document's too (`customs_numbers`, from customs' receipt).
Schema: `gateway/temporary/migrations` (Alembic branch "temporary").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
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


#: quantities: up to 19 digits, 5 after the point (the declaration's N19_5)
Quantity = Numeric(19, 5)


class DeclarationLine:
    """The columns of one goods line of a customs declaration (报关单) linked to an exhibition,
    as customs holds it: the gateway's copy (`TmpDeclarationGoods`) and the simulated
    customs' own (`sim.SimDeclarationGoods`) are the same rows."""

    #: 展览会海关编号 of the exhibition the declaration is linked to
    exhibition_no: Mapped[str] = mapped_column(String(20), index=True)
    entry_id: Mapped[str] = mapped_column(String(18))  # 报关单海关编号
    item_no: Mapped[int] = mapped_column(Integer)  # 商品序号
    hs_code: Mapped[str] = mapped_column(String(10))  # 商品编码
    name: Mapped[str] = mapped_column(String(250))  # 商品名称
    model: Mapped[str] = mapped_column(String(255), default="")  # 规格型号
    qty: Mapped[Decimal] = mapped_column(Quantity)  # 申报数量
    unit: Mapped[str] = mapped_column(String(3))  # 申报单位
    qty1: Mapped[Decimal | None] = mapped_column(Quantity)  # 法定数量
    unit1: Mapped[str] = mapped_column(String(3), default="")  # 法定单位
    qty2: Mapped[Decimal | None] = mapped_column(Quantity)  # 第二数量
    unit2: Mapped[str] = mapped_column(String(3), default="")  # 第二单位
    price: Mapped[Decimal] = mapped_column(Numeric(19, 4))  # 商品单价
    total: Mapped[Decimal] = mapped_column(Numeric(19, 4))  # 商品总价
    currency: Mapped[str] = mapped_column(String(3))  # 币制
    origin: Mapped[str] = mapped_column(String(3))  # 原产地
    licences: Mapped[str] = mapped_column(String(100), default="")  # 监管证件代码


class TmpDeclarationGoods(DeclarationLine, Base):
    """The gateway's copy of the declaration lines, loaded by `customs-gateway
    tmp-declarations`. Loaned-exhibit lists pick their goods from these lines (R-TMP-4)."""

    __tablename__ = "tmp_declaration_goods"
    __table_args__ = (UniqueConstraint("entry_id", "item_no", name="uq_tmp_decl_goods_line"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)


class TmpLoanList(Base):
    """One loaned-exhibit list (外借展品清单), keyed like its document (agentCode, copNo)."""

    __tablename__ = "tmp_loan_lists"
    __table_args__ = (UniqueConstraint("agent_code", "cop_no", name="uq_tmp_loan_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    agent_code: Mapped[str] = mapped_column(String(10))
    cop_no: Mapped[str] = mapped_column(String(30))
    #: 外借清单预录入号: "W" + 主管海关 + year + 7-digit sequence, given at the first save
    pre_entry_no: Mapped[str] = mapped_column(String(16), unique=True)
    #: the exhibition it names, its name and supervising customs as taken from it
    exhibition_id: Mapped[int] = mapped_column(ForeignKey("tmp_exhibitions.id"), index=True)
    exhibition_no: Mapped[str] = mapped_column(String(20))
    exhibition_name: Mapped[str] = mapped_column(String(200), default="")
    customs_code: Mapped[str] = mapped_column(String(4))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    operator_name: Mapped[str] = mapped_column(String(50), default="")
    input_code: Mapped[str] = mapped_column(String(18), default="")
    input_name: Mapped[str] = mapped_column(String(200), default="")
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_tmp_loan_lists_enterprise", TmpLoanList.enterprise_id, TmpLoanList.filled_at)


class TmpLoanGoods(Base):
    """One goods line of a list: which declaration line, how much of it is lent. Replaced
    whole when the list is taken in again."""

    __tablename__ = "tmp_loan_goods"
    __table_args__ = (UniqueConstraint("loan_list_id", "g_no", name="uq_tmp_loan_goods_no"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    loan_list_id: Mapped[int] = mapped_column(ForeignKey("tmp_loan_lists.id"))
    g_no: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[str] = mapped_column(String(18))
    item_no: Mapped[int] = mapped_column(Integer)
    qty: Mapped[Decimal] = mapped_column(Quantity)


Index("ix_tmp_loan_goods_line", TmpLoanGoods.entry_id, TmpLoanGoods.item_no)


class TmpConfirmation(Base):
    """One review confirmation (暂时进出境审核确认), keyed like its document (agentCode,
    copNo). 确认申请书编号 is the document's customs number (confirmNo); 审核备注 and 结案日期
    are taken from customs' receipts (`confirmations.after_receipt`)."""

    __tablename__ = "tmp_confirmations"
    __table_args__ = (UniqueConstraint("agent_code", "cop_no", name="uq_tmp_confirmation_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    agent_code: Mapped[str] = mapped_column(String(10))
    cop_no: Mapped[str] = mapped_column(String(30))
    #: 预录入确认书编号: "G" + 主管地海关 + year + 7-digit sequence, given at the first save
    pre_entry_no: Mapped[str] = mapped_column(String(16), unique=True)
    customs_code: Mapped[str] = mapped_column(String(4))
    #: the approved exhibition it names, if any (a use of it: no deletion application)
    exhibition_id: Mapped[int | None] = mapped_column(ForeignKey("tmp_exhibitions.id"), index=True)
    exhibition_no: Mapped[str] = mapped_column(String(20), default="")
    ie_date: Mapped[str] = mapped_column(String(8), default="")  # 进出境日期
    return_date: Mapped[str] = mapped_column(String(8), default="")  # 复运出/进境日期
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the goods lines as last taken in (货物信息), each by element name
    goods: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    operator_name: Mapped[str] = mapped_column(String(50), default="")
    input_code: Mapped[str] = mapped_column(String(18), default="")
    input_name: Mapped[str] = mapped_column(String(200), default="")
    #: 审核备注: customs' returnInfo of its last review answer (approved or not)
    review_remarks: Mapped[str] = mapped_column(String(5000), default="")
    #: 结案日期: YYYYMMDD, from customs' closing receipt
    close_date: Mapped[str] = mapped_column(String(8), default="")
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_tmp_confirmations_enterprise", TmpConfirmation.enterprise_id, TmpConfirmation.filled_at)


class TmpConfirmationAttachment(Base):
    """One attached document (随附单证) of a confirmation: a PDF of at most 4 MB, uploaded after
    the first save, kept with its SHA-256 digest (R-COM-6). The same file twice is one row."""

    __tablename__ = "tmp_confirmation_attachments"
    __table_args__ = (
        UniqueConstraint("confirmation_id", "sha256", name="uq_tmp_attachment_digest"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("tmp_confirmations.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))  # hex
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TmpDeadlineNotice(Base):
    """A reminder the deadline job gave (R-TMP-7): `lead_days` before the confirmation's
    复运出/进境日期 `due_date`. Keyed by the date, so a moved date (an approved extension)
    starts its reminders again and an old date's are never given twice."""

    __tablename__ = "tmp_deadline_notices"
    __table_args__ = (
        UniqueConstraint("confirmation_id", "due_date", "lead_days", name="uq_tmp_deadline_notice"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("tmp_confirmations.id"))
    due_date: Mapped[str] = mapped_column(String(8))  # YYYYMMDD, the date reminded of
    lead_days: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TmpExtension(Base):
    """One extension (延期申报) of an approved review confirmation, keyed like its document
    (agentCode, copNo). Customs' answer gives 海关延期审核允许时间 (`allowed_date`), which
    becomes the confirmation's 复运出/进境日期 (`extensions.after_receipt`)."""

    __tablename__ = "tmp_extensions"
    __table_args__ = (UniqueConstraint("agent_code", "cop_no", name="uq_tmp_extension_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    agent_code: Mapped[str] = mapped_column(String(10))
    cop_no: Mapped[str] = mapped_column(String(30))
    #: 预录入延期编号: "Y" + 申请海关 + year + 7-digit sequence, given at the first save
    pre_entry_no: Mapped[str] = mapped_column(String(16), unique=True)
    customs_code: Mapped[str] = mapped_column(String(4))
    #: the approved confirmation it extends (None while a draft names none)
    confirmation_id: Mapped[int | None] = mapped_column(
        ForeignKey("tmp_confirmations.id"), index=True
    )
    confirm_no: Mapped[str] = mapped_column(String(20), default="")  # 确认申请书编号
    extend_date: Mapped[str] = mapped_column(String(8), default="")  # 延期申请期限
    approval_no: Mapped[str] = mapped_column(String(50), default="")  # 延期批文号
    #: the confirmation's date when the extension was last taken in (what it extends)
    previous_date: Mapped[str] = mapped_column(String(8), default="")
    #: 海关延期审核允许时间: YYYYMMDD, from customs' approval
    allowed_date: Mapped[str] = mapped_column(String(8), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    operator_name: Mapped[str] = mapped_column(String(50), default="")
    input_code: Mapped[str] = mapped_column(String(18), default="")
    input_name: Mapped[str] = mapped_column(String(200), default="")
    review_remarks: Mapped[str] = mapped_column(String(5000), default="")  # 审核备注
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_tmp_extensions_enterprise", TmpExtension.enterprise_id, TmpExtension.filled_at)
