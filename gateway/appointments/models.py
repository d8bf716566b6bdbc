"""Tables of appointment clearance: reference data, the appointment projection, job leases.

Reference data (R-APT-1..5, R-APT-11) is kept by the gateway and updated by an admin
command or by customs (`refdata.load`). `Appointment` is what the rules and queries need of
each appointment request, written with the request in the intake transaction; its status is
the request document's (`documents.status`), never copied. Schema: migration 0002_apt.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models import Base, Id, UTCDateTime, utcnow


class AptEnterprise(Base):
    """An enterprise as customs knows it (R-APT-1 look-up, R-APT-2 credit, R-APT-3)."""

    __tablename__ = "apt_enterprises"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)  # 10-digit customs code
    uscc: Mapped[str] = mapped_column(String(18))  # 统一社会信用代码
    ciq_code: Mapped[str] = mapped_column(String(10))  # 检验检疫编码
    name: Mapped[str] = mapped_column(String(200))
    credit_class: Mapped[str] = mapped_column(String(20))  # codes.CreditClass
    qualified: Mapped[bool] = mapped_column(default=True)  # 报关资质
    dishonest: Mapped[bool] = mapped_column(default=False)  # 失信
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AptPort(Base):
    """A port (口岸/关区, 4-digit code) and its usual weekday working hours, Beijing time."""

    __tablename__ = "apt_ports"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    work_start: Mapped[str] = mapped_column(String(5))  # "08:30"
    work_end: Mapped[str] = mapped_column(String(5))  # "17:30"


class AptCalendarDay(Base):
    """A day that differs from the usual week: a public holiday, a working weekend (调休),
    other hours. Days without a row are Monday–Friday working days with the port's hours."""

    __tablename__ = "apt_calendar"

    port_code: Mapped[str] = mapped_column(
        String(4), ForeignKey("apt_ports.code"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column()
    work_start: Mapped[str | None] = mapped_column(String(5))
    work_end: Mapped[str | None] = mapped_column(String(5))
    note: Mapped[str | None] = mapped_column(String(100))


class AptTariff(Base):
    """HS tariff lines (商品编码) with their names (R-APT-1)."""

    __tablename__ = "apt_tariff"

    hs_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class AptDeclaration(Base):
    """A customs declaration (报关单) as customs reports it, to check feedback (R-APT-6)."""

    __tablename__ = "apt_declarations"

    entry_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    ie_flag: Mapped[str] = mapped_column(String(1))
    declarant_code: Mapped[str] = mapped_column(String(10))
    consignee_code: Mapped[str] = mapped_column(String(10))
    decl_port: Mapped[str] = mapped_column(String(4))
    ie_port: Mapped[str] = mapped_column(String(4))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Appointment(Base):
    """One appointment request: the fields rules, the deadline job and queries need."""

    __tablename__ = "apt_appointments"
    __table_args__ = (UniqueConstraint("declarant_code", "cop_no", name="uq_apt_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    declarant_code: Mapped[str] = mapped_column(String(10))
    cop_no: Mapped[str] = mapped_column(String(30))
    declarant_name: Mapped[str] = mapped_column(String(200))
    consignee_code: Mapped[str] = mapped_column(String(10))
    consignee_name: Mapped[str] = mapped_column(String(200))
    decl_port: Mapped[str] = mapped_column(String(4))
    ie_port: Mapped[str] = mapped_column(String(4))
    ie_flag: Mapped[str] = mapped_column(String(1))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: first time the gateway took the request in (申请时间)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: when it was declared (提交), the reference of R-APT-5 and R-APT-6
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_apt_consignee", Appointment.consignee_code)
Index("ix_apt_start", Appointment.start_at)
