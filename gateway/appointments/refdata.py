"""Reference data of appointment clearance, kept by the gateway and updatable.

Enterprises (codes, credit class, declaration qualification, dishonest flag), ports with their
usual working hours and a calendar of exceptions (public holidays, working weekends), an HS
tariff subset with names, and the customs declarations customs reports (for feedback checks,
R-APT-6). `load` upserts a document of that shape — the admin command
`customs-gateway apt-refdata FILE` and the simulated customs use it; `SAMPLE` is the data the
demo and the tests start from (realistic codes, not an official list).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.appointments.codes import CHINA_TZ
from gateway.appointments.models import (
    AptCalendarDay,
    AptDeclaration,
    AptEnterprise,
    AptPort,
    AptTariff,
)
from gateway.core.models import utcnow

#: how far back the calendar is searched for the last working day (long holidays are 9 days)
SEARCH_DAYS = 40


class RefData:
    """Read access to the reference data in one session (rules never write through it)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enterprise(self, code: str) -> AptEnterprise | None:
        return self.session.get(AptEnterprise, code)

    def port(self, code: str) -> AptPort | None:
        return self.session.get(AptPort, code)

    def declaration(self, entry_id: str) -> AptDeclaration | None:
        return self.session.get(AptDeclaration, entry_id)

    def tariff_lines(self, prefix: str, limit: int = 20) -> list[AptTariff]:
        """Tariff lines whose code starts with `prefix` (what the form lists after 4 digits)."""
        stmt = select(AptTariff).where(AptTariff.hs_code.startswith(prefix, autoescape=True))
        return list(self.session.scalars(stmt.order_by(AptTariff.hs_code).limit(limit)))

    def working_hours(self, port: AptPort, day: date) -> tuple[datetime, datetime] | None:
        """The port's working hours on `day` (Beijing time), None on a non-working day."""
        special = self.session.get(AptCalendarDay, (port.code, day))
        if special is not None:
            if not special.working:
                return None
            start, end = special.work_start, special.work_end
            return _span(day, start or port.work_start, end or port.work_end)
        if day.weekday() >= 5:
            return None
        return _span(day, port.work_start, port.work_end)

    def last_working_end(self, port: AptPort, before: datetime) -> datetime | None:
        """End of the last working day that ends at or before `before` (R-APT-5)."""
        day = before.astimezone(CHINA_TZ).date()
        for _ in range(SEARCH_DAYS):
            hours = self.working_hours(port, day)
            if hours is not None and hours[1] <= before:
                return hours[1]
            day -= timedelta(days=1)
        return None


def _span(day: date, start: str, end: str) -> tuple[datetime, datetime]:
    return (
        datetime.combine(day, time.fromisoformat(start), CHINA_TZ),
        datetime.combine(day, time.fromisoformat(end), CHINA_TZ),
    )


# --- loading -----------------------------------------------------------------------------------


def load(session: Session, data: Mapping[str, Any]) -> dict[str, int]:
    """Upsert every section present in `data`; returns how many rows each section touched."""
    loaders = {
        "enterprises": _enterprise,
        "ports": _port,
        "calendar": _calendar_day,
        "tariff": _tariff,
        "declarations": _declaration,
    }
    counts: dict[str, int] = {}
    for section, make in loaders.items():
        rows: Iterable[Mapping[str, Any]] = data.get(section) or ()
        for row in rows:
            session.merge(make(row))
            counts[section] = counts.get(section, 0) + 1
    session.flush()
    return counts


def _enterprise(row: Mapping[str, Any]) -> AptEnterprise:
    return AptEnterprise(
        code=str(row["code"]),
        uscc=str(row["uscc"]),
        ciq_code=str(row["ciq_code"]),
        name=str(row["name"]),
        credit_class=str(row.get("credit_class", "general")),
        qualified=bool(row.get("qualified", True)),
        dishonest=bool(row.get("dishonest", False)),
        updated_at=utcnow(),
    )


def _port(row: Mapping[str, Any]) -> AptPort:
    return AptPort(
        code=str(row["code"]),
        name=str(row["name"]),
        work_start=str(row.get("work_start", "08:30")),
        work_end=str(row.get("work_end", "17:30")),
    )


def _calendar_day(row: Mapping[str, Any]) -> AptCalendarDay:
    return AptCalendarDay(
        port_code=str(row["port"]),
        day=_date(row["day"]),
        working=bool(row.get("working", False)),
        work_start=row.get("work_start"),
        work_end=row.get("work_end"),
        note=row.get("note"),
    )


def _tariff(row: Mapping[str, Any]) -> AptTariff:
    return AptTariff(hs_code=str(row["hs_code"]), name=str(row["name"]))


def _declaration(row: Mapping[str, Any]) -> AptDeclaration:
    return AptDeclaration(
        entry_id=str(row["entry_id"]),
        ie_flag=str(row["ie_flag"]),
        declarant_code=str(row["declarant_code"]),
        consignee_code=str(row["consignee_code"]),
        decl_port=str(row["decl_port"]),
        ie_port=str(row["ie_port"]),
        declared_at=_instant(row["declared_at"]),
    )


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _instant(value: Any) -> datetime:
    """A datetime or ISO text; without an offset it is Beijing time."""
    found = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return found if found.tzinfo else found.replace(tzinfo=CHINA_TZ).astimezone(UTC)


# --- sample data --------------------------------------------------------------------------------

_HOLIDAYS_2026 = {
    "元旦": ("2026-01-01", "2026-01-03"),
    "春节": ("2026-02-15", "2026-02-23"),
    "清明节": ("2026-04-04", "2026-04-06"),
    "劳动节": ("2026-05-01", "2026-05-05"),
    "端午节": ("2026-06-19", "2026-06-21"),
    "中秋节": ("2026-09-25", "2026-09-27"),
    "国庆节": ("2026-10-01", "2026-10-07"),
}
#: weekend days worked instead (调休上班)
_WORKING_WEEKENDS_2026 = ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-10-10")

PORTS = (
    {"code": "2233", "name": "浦东机场海关", "work_start": "08:30", "work_end": "17:30"},
    {"code": "2248", "name": "洋山港区", "work_start": "08:30", "work_end": "17:30"},
    {"code": "2901", "name": "杭州海关", "work_start": "09:00", "work_end": "17:00"},
    {"code": "3104", "name": "北仑海关", "work_start": "08:30", "work_end": "17:00"},
)


def sample_calendar(ports: Iterable[str]) -> list[dict[str, Any]]:
    days: list[dict[str, Any]] = []
    for port in ports:
        for note, (first, last) in _HOLIDAYS_2026.items():
            day = date.fromisoformat(first)
            while day <= date.fromisoformat(last):
                days.append({"port": port, "day": day, "working": False, "note": note})
                day += timedelta(days=1)
        for worked in _WORKING_WEEKENDS_2026:
            days.append({"port": port, "day": worked, "working": True, "note": "调休上班"})
    return days


SAMPLE: dict[str, Any] = {
    "enterprises": [
        # the gateway's test and demo enterprises, as declarants
        {"code": "3301960Z01", "uscc": "91330100MA2H0Z0Z01", "ciq_code": "3300600001",
         "name": "杭州云锦跨境电子商务有限公司", "credit_class": "advanced"},
        {"code": "3301980W02", "uscc": "91330200MA2H0W0W02", "ciq_code": "3300600002",
         "name": "宁波海捷国际物流有限公司", "credit_class": "general"},
        # consignees
        {"code": "1101919107", "uscc": "911101526101115245", "ciq_code": "1100612896",
         "name": "中国山货花卉进出口公司", "credit_class": "advanced"},
        {"code": "3122240001", "uscc": "91310115MA1K3AAA01", "ciq_code": "3100600101",
         "name": "上海浦江机械加工厂", "credit_class": "general_certified"},
        {"code": "3301940002", "uscc": "91330106MA2AAAA002", "ciq_code": "3300600102",
         "name": "杭州西溪食品进出口有限公司", "credit_class": "general"},
        {"code": "3301940003", "uscc": "91330106MA2AAAA003", "ciq_code": "3300600103",
         "name": "杭州失信贸易有限公司", "credit_class": "general", "dishonest": True},
        {"code": "3301940004", "uscc": "91330106MA2AAAA004", "ciq_code": "3300600104",
         "name": "杭州未备案贸易有限公司", "credit_class": "general", "qualified": False},
    ],
    "ports": list(PORTS),
    "calendar": sample_calendar(p["code"] for p in PORTS),
    "tariff": [
        {"hs_code": code, "name": name}
        for code, name in (
            ("0302130000", "鲜或冷的大西洋鲑鱼"),
            ("0603110000", "鲜的玫瑰"),
            ("0603190000", "其他鲜的插花及花蕾"),
            ("0805100000", "鲜或干的橙"),
            ("0901210000", "已焙炒未浸除咖啡碱的咖啡"),
            ("2204210000", "小包装的鲜葡萄酿造的酒"),
            ("3004909099", "其他已配定剂量或零售包装的药品"),
            ("3304990099", "其他美容品或化妆品及护肤品"),
            ("4011100000", "机动小客车用新的充气橡胶轮胎"),
            ("6109100021", "棉制针织或钩编男式T恤衫"),
            ("6403990090", "其他皮革制鞋面的鞋靴"),
            ("8471300000", "重量不超过10千克的便携式自动数据处理设备"),
            ("8517130000", "智能手机"),
            ("8528720000", "彩色的电视接收装置"),
            ("8708299000", "车身的其他零件、附件"),
            ("9018390000", "其他针、导管、插管及类似品"),
            ("9503008900", "其他玩具"),
        )
    ],
}  # fmt: skip


def load_sample(session: Session) -> dict[str, int]:
    """Load `SAMPLE` once: nothing happens when ports are already known."""
    if session.scalar(select(AptPort.code).limit(1)) is not None:
        return {}
    return load(session, SAMPLE)
