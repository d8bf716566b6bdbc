"""Helpers of the summary declaration tests (R-ECX-8): a gateway without workers on a fresh
database, summary-mode (statisticsFlag B) inventory lists through intake, customs' receipts
that number and close them, and lists written straight into `summary_lists` for the
grouping tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from gateway.core import config as config_mod
from gateway.core.config import Config
from gateway.core.db import Database
from gateway.core.models import Document, Enterprise
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.ecx.summary.models import SummaryItem, SummaryList
from receipts.build import build_receipt, return_time
from tests.stack import PLATFORM, raw_config

#: a moment in January 2026 (Beijing time), so the January cycle is the one closed in tests
JANUARY = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)
FEBRUARY = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)


def summary_config(base: Path, keys: Path, db_url: str | None = None, **summary: Any) -> Config:
    raw = raw_config(base, keys, prefix="summary.", db_url=db_url)
    raw["summary"] = {"enabled": False, **summary}
    return config_mod.from_dict(raw, base)


def quiet_gateway(base: Path, keys: Path, db_url: str | None = None, **summary: Any) -> Gateway:
    """A gateway with its database migrated and enterprises registered; no broker, no
    workers: tests sign with `signer.run_once()` and feed receipts to `receipts.handle`."""
    gw = Gateway(summary_config(base, keys, db_url, **summary))
    gw.prepare(broker=False)
    return gw


def party(gw: Gateway, n: int = 0) -> samples.Party:
    ent = gw.config.enterprises[n]
    return samples.Party(ent.code, ent.name, ent.dxp_id)


def b_parcels(ebc: samples.Party, count: int, start: int, **changes: Any) -> list[ecx.Parcel]:
    orders = samples.order_numbers(count, start=start)
    nos = samples.logistics_numbers(count, start=start)
    return [
        replace(ecx.Parcel(o, n, ebc=ebc, ebp=PLATFORM, statistics_flag=ecx.SUMMARY), **changes)
        for o, n in zip(orders, nos, strict=True)
    ]


def declare_b_lists(gw: Gateway, parcels: Sequence[ecx.Parcel], **kw: Any) -> list[int]:
    """Summary-mode lists through intake, signed (as if sent): their document ids."""
    ebc = party(gw)
    data = ecx.inventory_message(ebc, parcels, **kw)
    result = ecx.save_then_declare(lambda d: gw.intake.submit(ebc.code, d, "test"), data)
    gw.signer.run_once()
    return [d.id for d in result.documents]


def invt_no_of(n: int) -> str:
    return f"29912026E{n:09d}"


def inventory_receipt(gw: Gateway, doc_id: int, status: str, invt_no: str) -> bytes:
    """A CEB604 for the list `doc_id` from customs, with its invtNo."""
    with gw.db.session() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        agent, cop_no = doc.business_key.split("|")
    info = "[Code:2899;Desc:结关]" if status == "899" else "[Code:1800;Desc:逻辑校验通过]"
    entity = {
        "agentCode": agent, "copNo": cop_no, "preNo": f"2991202600{doc_id:08d}",
        "invtNo": invt_no, "ebcCode": agent, "ebpCode": PLATFORM.code,
        "orderNo": cop_no[2:], "statisticsFlag": "B", "returnStatus": status,
        "returnTime": return_time(datetime.now(UTC)), "returnInfo": info,
    }  # fmt: skip
    return build_receipt("CEB604Message", [entity])


def close_lists(gw: Gateway, doc_ids: Sequence[int], first: int = 1) -> list[str]:
    """Customs stores (120, with the invtNo) and closes (899) each list: their invtNos."""
    numbers = [invt_no_of(first + n) for n in range(len(doc_ids))]
    for doc_id, invt_no in zip(doc_ids, numbers, strict=True):
        for status in ("120", "899"):
            outcome = gw.receipts.handle(inventory_receipt(gw, doc_id, status, invt_no))
            assert outcome.outcome == "matched", outcome
    return numbers


def set_closed_at(db: Database, invt_nos: Sequence[str], at: datetime) -> None:
    with db.session() as session:
        session.execute(
            update(SummaryList).where(SummaryList.invt_no.in_(invt_nos)).values(closed_at=at)
        )


# --- lists written directly (grouping tests) ---------------------------------------------------

BASE_LIST: dict[str, Any] = {
    "agent_code": "3301960Z01", "agent_name": "杭州云锦跨境电子商务有限公司",
    "ebc_code": "3301960Z01", "ebc_name": "杭州云锦跨境电子商务有限公司",
    "owner_code": "3301960Z01", "customs_code": "2991", "port_code": "2991",
    "traf_mode": "5", "country": "502", "trade_mode": "9610", "statistics_flag": "B",
    "gross_weight": Decimal("1.5"), "net_weight": Decimal("1.2"),
}  # fmt: skip
BASE_ITEM: dict[str, Any] = {
    "gnum": 1, "gcode": "6110110000", "country": "502", "currency": "142",
    "qty": Decimal("1"), "unit": "011", "qty1": Decimal("1"), "unit1": "011",
    "total_price": Decimal("100"),
}  # fmt: skip

_counter = iter(range(1, 10**9))


def enterprise_id(db: Database, code: str = "3301960Z01") -> int:
    with db.session() as session:
        found = session.scalar(select(Enterprise.id).where(Enterprise.code == code))
    assert found is not None
    return int(found)


def add_list(
    db: Database,
    ent_id: int,
    closed_at: datetime | None,
    items: Sequence[dict[str, Any]] = (BASE_ITEM,),
    **fields: Any,
) -> str:
    """One list straight into `summary_lists` (as intake and receipts would leave it)."""
    n = next(_counter)
    invt_no = fields.pop("invt_no", invt_no_of(500000 + n))
    row = {**BASE_LIST, **fields, "enterprise_id": ent_id, "business_key": f"T|COP{n:08d}",
           "logistics_no": f"YT{n:013d}", "invt_no": invt_no, "closed_at": closed_at,
           "updated_at": datetime.now(UTC)}  # fmt: skip
    with db.session() as session:
        list_id = session.scalar(insert(SummaryList).returning(SummaryList.id), row)
        lines = [{**BASE_ITEM, **item, "list_id": list_id} for item in items]
        session.execute(insert(SummaryItem), lines)
    return invt_no


def invt_nos(stream: Iterator[tuple[Any, Iterator[str]]]) -> dict[Any, list[str]]:
    return {key: list(members) for key, members in stream}
