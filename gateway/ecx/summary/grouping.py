"""The cycle query (R-ECX-8): closed summary-mode lists grouped by the merge key, in SQL.

The head merge key of customs announcement 2018 No.194 is consignor (ebcCode), transport
mode (trafMode), production/sales unit (ownerCode), destination country (country) and exit
customs (portCode). A group also keeps apart what one application cannot mix: the gateway
enterprise that declares it, the declaring customs it is addressed to (customsCode), the
declaring agent it names (agentCode) and the trade mode (a customs declaration has one).

Nothing here loads every list: `groups` and `item_totals` are GROUP BY queries, and
`stream` yields the invtNos of all groups in key order from a server-side cursor
(`yield_per`), so memory stays flat however many lists a cycle has.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.ecx.summary.cycles import Cycle
from gateway.ecx.summary.lists import pending_filter
from gateway.ecx.summary.models import SummaryItem, SummaryList

#: invtNos fetched per round trip when streaming
STREAM_BATCH = 2000

#: GROUP BY columns, in `MergeKey` field order
KEY_COLUMNS = (
    SummaryList.enterprise_id,
    SummaryList.customs_code,
    SummaryList.agent_code,
    SummaryList.trade_mode,
    SummaryList.ebc_code,
    SummaryList.owner_code,
    SummaryList.traf_mode,
    SummaryList.country,
    SummaryList.port_code,
)


@dataclass(frozen=True, order=True)
class MergeKey:
    enterprise_id: int
    customs_code: str
    agent_code: str
    trade_mode: str
    # the announcement's five head fields
    ebc_code: str  # consignor (收发货人)
    owner_code: str  # production/sales unit (生产销售单位)
    traf_mode: str  # transport mode (运输方式)
    country: str  # destination country (运抵国)
    port_code: str  # exit customs (出境关别)

    def announcement_fields(self) -> dict[str, str]:
        return {
            "ebcCode": self.ebc_code,
            "ownerCode": self.owner_code,
            "trafMode": self.traf_mode,
            "country": self.country,
            "portCode": self.port_code,
        }

    def text(self) -> str:
        return "|".join(str(v) for v in self.__dict__.values())


@dataclass(frozen=True)
class Group:
    key: MergeKey
    lists: int
    agent_name: str
    ebc_name: str
    gross_weight: Decimal
    net_weight: Decimal


@dataclass(frozen=True)
class ItemTotal:
    """The lines of a group with the same item key: country, HS code, currency."""

    country: str
    gcode: str
    currency: str
    lines: int
    qty1: Decimal
    unit1: str
    total_price: Decimal


def decimal(value: Any) -> Decimal:
    """A SUM as Decimal (SQLite sums NUMERIC columns as floats)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.00001"))
    return Decimal(repr(value)).quantize(Decimal("0.00001"))


def cycle_filter(cycle: Cycle, until: datetime | None, enterprise_id: int | None) -> list[Any]:
    """Pending lists closed in `cycle` (and before `until`, for a cycle still open)."""
    end = cycle.end_at if until is None else min(cycle.end_at, until)
    return [
        *pending_filter(enterprise_id),
        SummaryList.closed_at >= cycle.start_at,
        SummaryList.closed_at < end,
    ]


def groups(
    session: Session,
    cycle: Cycle,
    *,
    enterprise_id: int | None = None,
    until: datetime | None = None,
) -> list[Group]:
    """One row per merge key: how many lists, names, weights (one GROUP BY)."""
    stmt = (
        select(
            *KEY_COLUMNS,
            func.count(),
            func.max(SummaryList.agent_name),
            func.max(SummaryList.ebc_name),
            func.sum(SummaryList.gross_weight),
            func.sum(SummaryList.net_weight),
        )
        .where(*cycle_filter(cycle, until, enterprise_id))
        .group_by(*KEY_COLUMNS)
        .order_by(*KEY_COLUMNS)
    )
    return [_group(row) for row in session.execute(stmt)]


def _group(row: Sequence[Any]) -> Group:
    n = len(KEY_COLUMNS)
    count, agent_name, ebc_name, gross, net = row[n:]
    return Group(MergeKey(*row[:n]), count, agent_name, ebc_name, decimal(gross), decimal(net))


def stream(
    session: Session,
    cycle: Cycle,
    *,
    enterprise_id: int | None = None,
    until: datetime | None = None,
    batch: int = STREAM_BATCH,
) -> Iterator[tuple[MergeKey, Iterator[str]]]:
    """Each group's key with its invtNos, in key then invtNo order, from one cursor."""
    stmt = (
        select(*KEY_COLUMNS, SummaryList.invt_no)
        .where(*cycle_filter(cycle, until, enterprise_id))
        .order_by(*KEY_COLUMNS, SummaryList.invt_no)
        .execution_options(yield_per=batch)
    )
    rows: Iterable[Any] = session.execute(stmt)
    n = len(KEY_COLUMNS)
    for key, members in itertools.groupby(rows, key=lambda row: tuple(row[:n])):
        yield MergeKey(*key), (row[n] for row in members)


def item_totals(
    session: Session,
    cycle: Cycle,
    *,
    enterprise_id: int | None = None,
    until: datetime | None = None,
) -> dict[MergeKey, list[ItemTotal]]:
    """Per group, the item lines added up by the announcement's item key (one GROUP BY)."""
    item_key = (SummaryItem.country, SummaryItem.gcode, SummaryItem.currency)
    stmt = (
        select(
            *KEY_COLUMNS,
            *item_key,
            func.count(),
            func.sum(SummaryItem.qty1),
            func.max(SummaryItem.unit1),
            func.sum(SummaryItem.total_price),
        )
        .join(SummaryItem, SummaryItem.list_id == SummaryList.id)
        .where(*cycle_filter(cycle, until, enterprise_id))
        .group_by(*KEY_COLUMNS, *item_key)
        .order_by(*KEY_COLUMNS, *item_key)
    )
    totals: dict[MergeKey, list[ItemTotal]] = {}
    n = len(KEY_COLUMNS)
    rows: Iterable[Any] = session.execute(stmt)
    for row in rows:
        country, gcode, currency, lines, qty1, unit1, price = row[n:]
        total = ItemTotal(country, gcode, currency, lines, decimal(qty1), unit1, decimal(price))
        totals.setdefault(MergeKey(*row[:n]), []).append(total)
    return totals
