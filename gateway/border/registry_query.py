"""The officer's registry query (边民备案查询, seed 001 §3.1, R-BDR-2) and a resident's detail
(详情): filters 同步状态, 关区代码, 姓名, 性别, 生物标识, 启用状态 and 最近操作日期 from/to
(Beijing dates, both ends included); every ID number masked; paged, newest operation first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from gateway.border.identity import mask_id
from gateway.border.people_codes import (
    ENABLED_LABEL,
    SYNCED_LABEL,
    BiometricFlag,
    ResidentStatus,
    Sex,
)
from gateway.border.people_models import BrdResident
from gateway.border.sessions import CHINA
from gateway.errors import InvalidInput

MAX_SIZE = 100


@dataclass(frozen=True)
class Filter:
    synced: bool | None = None
    district: str | None = None
    name: str | None = None
    sex: Sex | None = None
    biometrics: BiometricFlag | None = None
    enabled: bool | None = None
    operated_from: date | None = None
    operated_to: date | None = None
    page: int = 1
    size: int = 20

    def describe(self) -> str:
        """The conditions for the audit log (a name is personal data: only whether it was given)."""
        shown = {k: v for k, v in self.__dict__.items() if v is not None and k != "name"}
        if self.name:
            shown["name"] = "(given)"
        return " ".join(f"{k}={getattr(v, 'value', v)}" for k, v in shown.items()) or "(all)"


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, CHINA)


def search(session: Session, flt: Filter) -> dict[str, Any]:
    if flt.operated_from and flt.operated_to and flt.operated_from > flt.operated_to:
        raise InvalidInput("最近操作日期: the start is after the end")
    if not 1 <= flt.size <= MAX_SIZE or flt.page < 1:
        raise InvalidInput(f"page from 1; size 1 to {MAX_SIZE}")
    where: list[ColumnElement[bool]] = []
    if flt.synced is not None:
        where.append(BrdResident.synced.is_(flt.synced))
    if flt.district:
        where.append(BrdResident.district == flt.district)
    if flt.name:
        where.append(BrdResident.name.contains(flt.name, autoescape=True))
    if flt.sex:
        where.append(BrdResident.sex == flt.sex.value)
    if flt.biometrics:
        where.append(BrdResident.biometrics == flt.biometrics.value)
    if flt.enabled is not None:
        where.append(BrdResident.enabled.is_(flt.enabled))
    if flt.operated_from:
        where.append(BrdResident.last_operation_at >= _start(flt.operated_from))
    if flt.operated_to:
        where.append(BrdResident.last_operation_at < _start(flt.operated_to + timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(BrdResident).where(*where)) or 0
    rows = session.scalars(
        select(BrdResident).where(*where)
        .order_by(BrdResident.last_operation_at.desc(), BrdResident.id.desc())
        .offset((flt.page - 1) * flt.size).limit(flt.size)
    )  # fmt: skip
    return {"total": total, "page": flt.page, "size": flt.size, "rows": [view(r) for r in rows]}


def view(row: BrdResident) -> dict[str, Any]:
    """A registry row as the officer's page shows it: the ID number masked, codes with labels."""
    return {
        "district": row.district,
        "name": row.name,
        "sex": row.sex,
        "sex_label": Sex(row.sex).label,
        "id_number": mask_id(row.id_number),
        "address": row.address,
        "id_valid_from": row.id_valid_from.isoformat(),
        "id_valid_to": row.id_valid_to.isoformat() if row.id_valid_to else "长期",
        "status": row.status,
        "status_label": ResidentStatus(row.status).label,
        "source": row.source,
        "registration_valid_to": row.registration_valid_to.isoformat(),
        "biometrics": row.biometrics,
        "biometrics_label": BiometricFlag(row.biometrics).label,
        "enabled": row.enabled,
        "enabled_label": ENABLED_LABEL[row.enabled],
        "synced": row.synced,
        "synced_label": SYNCED_LABEL[row.synced],
        "last_operation_at": row.last_operation_at.astimezone(CHINA).isoformat(),
        "ref": ref(row),
    }


def ref(row: BrdResident) -> str:
    """How pages and commands name a resident without the full ID number: the row id."""
    return str(row.id)
