"""Tables of summary declarations (汇总申报, R-ECX-8): the inventory lists a summary may merge.

`SummaryList` is what the summary job needs of each inventory list (CEB603), written in the
intake transaction that stores the list (the newest version replaces it and its lines) and
kept current by the list's receipts: invtNo from CEB604, `closed_at` when the 899 (结关)
receipt applied. Its status is the inventory document's (`documents.status`), never copied.
The head fields are the merge key of customs announcement 2018 No.194: consignor (ebcCode,
收发货人), transport mode (trafMode), production/sales unit (ownerCode, 生产销售单位),
destination country (country, 运抵国) and exit customs (portCode, 出境关别); the item lines
carry the item key: final destination country, 10-digit HS code (gcode), currency.

A list is linked to the summary application (CEB701) that names it by that application's
business key (`summary_key` = "copNo|msgSeqNo"), in the transaction that stores the
application — so a list is never declared twice — and to the customs declaration customs
merged it into (`entry_id`, from CEB792). Schema: migration 0003_summary.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models import Base, Id, UTCDateTime, utcnow

AMOUNT = Numeric(19, 5)  # N19,5 of the standard


class SummaryList(Base):
    __tablename__ = "summary_lists"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    #: the inventory document's business key, "agentCode|copNo" (one live list per key)
    business_key: Mapped[str] = mapped_column(String(300), unique=True)
    agent_code: Mapped[str] = mapped_column(String(18))
    agent_name: Mapped[str] = mapped_column(String(100))
    ebc_code: Mapped[str] = mapped_column(String(18))  # consignor (收发货人)
    ebc_name: Mapped[str] = mapped_column(String(100))
    owner_code: Mapped[str] = mapped_column(String(18))  # production/sales unit
    customs_code: Mapped[str] = mapped_column(String(4))  # declaring customs
    port_code: Mapped[str] = mapped_column(String(4))  # exit customs (出境关别)
    traf_mode: Mapped[str] = mapped_column(String(1))
    country: Mapped[str] = mapped_column(String(3))  # destination (运抵国)
    trade_mode: Mapped[str] = mapped_column(String(4))
    statistics_flag: Mapped[str] = mapped_column(String(1))  # B: summary declaration
    logistics_no: Mapped[str] = mapped_column(String(32))
    gross_weight: Mapped[Decimal | None] = mapped_column(AMOUNT)
    net_weight: Mapped[Decimal | None] = mapped_column(AMOUNT)
    invt_no: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary_key: Mapped[str | None] = mapped_column(String(300))
    summarised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_id: Mapped[str | None] = mapped_column(String(18))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The cycle query: closed summary-mode lists not yet in a summary, by closing time. Partial,
# so the index holds only the lists still to declare, however many were declared before.
PENDING_WHERE = "summary_key IS NULL AND entry_id IS NULL"
Index(
    "ix_summary_lists_pending",
    SummaryList.statistics_flag,
    SummaryList.closed_at,
    SummaryList.enterprise_id,
    sqlite_where=text(PENDING_WHERE),
    postgresql_where=text(PENDING_WHERE),
)
Index("ix_summary_lists_invt", SummaryList.invt_no)
Index("ix_summary_lists_summary", SummaryList.summary_key)


class SummaryItem(Base):
    """One item line (InventoryList) of a list, with its place in the customs declaration."""

    __tablename__ = "summary_list_items"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("summary_lists.id", ondelete="CASCADE"))
    gnum: Mapped[int] = mapped_column(Integer)
    gcode: Mapped[str] = mapped_column(String(10))
    country: Mapped[str] = mapped_column(String(3))  # final destination country
    currency: Mapped[str] = mapped_column(String(3))
    qty: Mapped[Decimal | None] = mapped_column(AMOUNT)
    unit: Mapped[str] = mapped_column(String(3))
    #: legal quantity and unit (法定数量/单位): what a customs declaration adds up
    qty1: Mapped[Decimal | None] = mapped_column(AMOUNT)
    unit1: Mapped[str] = mapped_column(String(3))
    total_price: Mapped[Decimal | None] = mapped_column(AMOUNT)
    entry_id: Mapped[str | None] = mapped_column(String(18))
    gseqno: Mapped[int | None] = mapped_column(Integer)


Index("ix_summary_items_list", SummaryItem.list_id)
