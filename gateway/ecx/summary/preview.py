"""The dry run of a cycle (R-ECX-8): the groups the job would declare, and their items.

Everything comes from two GROUP BY queries (`grouping.groups`, `grouping.item_totals`); no
list is loaded, nothing is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.config import SummaryConfig
from gateway.core.models import Enterprise, utcnow
from gateway.ecx.summary import grouping
from gateway.ecx.summary.cycles import Cycle, WorkingCalendar, due_date
from gateway.ecx.summary.grouping import Group, ItemTotal
from gateway.errors import NotFound


@dataclass(frozen=True)
class PreviewGroup:
    enterprise: str
    group: Group
    applications: int  # SummaryApply records (msgCount) the group needs
    items: tuple[ItemTotal, ...]

    def as_dict(self) -> dict[str, Any]:
        key, group = self.group.key, self.group
        return {
            "enterprise": self.enterprise,
            "merge_key": key.announcement_fields(),
            "customsCode": key.customs_code,
            "agentCode": key.agent_code,
            "tradeMode": key.trade_mode,
            "lists": group.lists,
            "msgCount": self.applications,
            "grossWeight": str(group.gross_weight),
            "netWeight": str(group.net_weight),
            "items": [_item(i) for i in self.items],
        }


def _item(item: ItemTotal) -> dict[str, Any]:
    return {
        "country": item.country,
        "gcode": item.gcode,
        "currency": item.currency,
        "lines": item.lines,
        "qty1": str(item.qty1),
        "unit1": item.unit1,
        "totalPrice": str(item.total_price),
    }


@dataclass(frozen=True)
class Preview:
    cycle: Cycle
    due: date
    groups: tuple[PreviewGroup, ...]

    @property
    def lists(self) -> int:
        return sum(g.group.lists for g in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle.label,
            "first_day": self.cycle.first.isoformat(),
            "due": self.due.isoformat(),
            "lists": self.lists,
            "groups": [g.as_dict() for g in self.groups],
        }


def preview(
    session: Session,
    settings: SummaryConfig,
    cycle: Cycle,
    *,
    enterprise: str | None = None,
    now: datetime | None = None,
) -> Preview:
    now = now or utcnow()
    codes = dict(session.execute(select(Enterprise.id, Enterprise.code)).all())
    enterprise_id = _id_of(codes, enterprise)
    found = grouping.groups(session, cycle, enterprise_id=enterprise_id, until=now)
    totals = grouping.item_totals(session, cycle, enterprise_id=enterprise_id, until=now)
    per_apply = settings.max_lists_per_apply
    shown = tuple(
        PreviewGroup(
            codes[g.key.enterprise_id],
            g,
            math.ceil(g.lists / per_apply),
            tuple(totals.get(g.key, ())),
        )
        for g in found
    )
    due = due_date(cycle, WorkingCalendar.from_config(settings), settings.due_day)
    return Preview(cycle, due, shown)


def _id_of(codes: dict[int, str], enterprise: str | None) -> int | None:
    if enterprise is None:
        return None
    for ent_id, code in codes.items():
        if code == enterprise:
            return ent_id
    raise NotFound(f"no enterprise {enterprise!r} in this gateway", enterprise=enterprise)
