"""The simulated customs' own tables of e-commerce export: what the four-document comparison
keeps (R-ECX-2) and the lists it follows after storing them (R-ECX-5, R-ECX-7)."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.customs_sim.state import SimBase
from gateway.core.models import Id


class HeldDocument(SimBase):
    """The fields customs keeps of an accepted order, payment receipt or waybill, for the
    four-document comparison (R-ECX-2): head fields and item lines, as JSON. `match_key` is
    what an inventory list names it by: "ebcCode|orderNo" (order, payment) or
    "logisticsCode|logisticsNo" (waybill)."""

    __tablename__ = "sim_held_documents"
    __table_args__ = (UniqueConstraint("kind", "business_key", name="uq_sim_held_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    business_key: Mapped[str] = mapped_column(String(300))
    match_key: Mapped[str] = mapped_column(String(300), index=True)
    data: Mapped[str] = mapped_column(Text)


class PendingComparison(SimBase):
    """A declared inventory list waiting for a missing document of its four-document
    comparison (R-ECX-2), until `deadline` (epoch seconds); deleted once answered."""

    __tablename__ = "sim_pending_comparisons"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    business_key: Mapped[str] = mapped_column(String(300), unique=True)
    order_key: Mapped[str] = mapped_column(String(300), index=True)
    waybill_key: Mapped[str] = mapped_column(String(300), index=True)
    sender_id: Mapped[str] = mapped_column(String(30))
    deadline: Mapped[float] = mapped_column(Float, index=True)
    #: the inventory's fields and items, and the receipt entity to answer with, as JSON
    data: Mapped[str] = mapped_column(Text)


class Tracked(SimBase):
    """An inventory list (kind "inventory", R-ECX-5) or a return application ("refund",
    R-ECX-7) customs follows after storing it: its current returnStatus and when that step
    took effect (`step_at`, epoch seconds, the step's returnTime). `entity` is the receipt
    entity to answer with, as JSON. Indexed by invtNo and logisticsNo, the numbers waybill
    lists, arrivals, departures and tallies name a parcel by, and by (status, step_at) for
    the steps that only wait for time."""

    __tablename__ = "sim_tracked"
    __table_args__ = (
        UniqueConstraint("kind", "business_key", name="uq_sim_tracked_key"),
        Index("ix_sim_tracked_invt", "kind", "invt_no"),
        Index("ix_sim_tracked_parcel", "kind", "logistics_no"),
        Index("ix_sim_tracked_due", "status", "step_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    business_key: Mapped[str] = mapped_column(String(300))
    sender_id: Mapped[str] = mapped_column(String(30))
    invt_no: Mapped[str] = mapped_column(String(30), default="")
    logistics_no: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(10))
    step_at: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)
    entity: Mapped[str] = mapped_column(Text)


class ManifestLine(SimBase):
    """A parcel on a stored arrival (CEB507), departure (CEB509), total/sub waybill list
    (CEB607) or return tally (CEB215): `kind` is the document's kind, `business_key` the
    record it came on (copNo|msgSeqNo for the batch kinds: each part of a split batch stands
    on its own). `invt_no` is "" unless the line names the inventory list."""

    __tablename__ = "sim_manifest_lines"
    __table_args__ = (
        # invt_no too: a line names a parcel by logisticsNo only when it gives no invtNo
        Index("ix_sim_line_parcel", "kind", "logistics_no", "invt_no"),
        Index("ix_sim_line_invt", "kind", "invt_no"),
        Index("ix_sim_line_record", "kind", "business_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    business_key: Mapped[str] = mapped_column(String(300))
    logistics_no: Mapped[str] = mapped_column(String(80))
    invt_no: Mapped[str] = mapped_column(String(30), default="")
