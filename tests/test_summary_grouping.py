"""The cycle query of summary declarations (R-ECX-8): closed summary-mode lists grouped in
SQL by the head merge key of customs announcement 2018 No.194 — consignor (ebcCode),
transport mode (trafMode), production/sales unit (ownerCode), destination country (country),
exit customs (portCode) — with item totals by final destination country, HS code and
currency; on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.core.db import Database
from gateway.core.migrate import upgrade
from gateway.ecx.summary import grouping
from gateway.ecx.summary.cycles import parse_cycle
from gateway.ecx.summary.grouping import Group
from gateway.ecx.summary.models import SummaryList
from tests.summary_fixtures import BASE_ITEM, add_list, invt_nos

JANUARY = parse_cycle("2026-01")
IN_JANUARY = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)

#: one change per field of the announcement's head merge key
HEAD_CHANGES = {
    "ebc_code": {"ebc_code": "3301960Z09"},
    "owner_code": {"owner_code": "3301968888"},
    "traf_mode": {"traf_mode": "4"},
    "country": {"country": "303"},
    "port_code": {"port_code": "2992"},
}


def _database(url: str) -> Database:
    db = Database(url)
    upgrade(db)
    with db.session() as session:
        from gateway.core.models import Enterprise

        session.add(Enterprise(code="3301960Z01", name="杭州云锦", dxp_id="DXPENT0000458763"))
        session.add(Enterprise(code="3301980W02", name="宁波海捷", dxp_id="DXPENT0000512209"))
    return db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    made = _database(f"sqlite:///{tmp_path / 'gateway.db'}")
    yield made
    made.dispose()


def _groups(db: Database, **kw: object) -> list[Group]:
    with db.session() as session:
        return grouping.groups(session, JANUARY, **kw)  # type: ignore[arg-type]


def _differing_lists(db: Database) -> None:
    for _ in range(2):
        add_list(db, 1, IN_JANUARY)
    for change in HEAD_CHANGES.values():
        add_list(db, 1, IN_JANUARY, **change)


def check_each_key_field_splits(db: Database) -> None:
    _differing_lists(db)
    found = _groups(db)
    assert sorted(g.lists for g in found) == [1, 1, 1, 1, 1, 2]
    base = next(g for g in found if g.lists == 2).key
    for name, change in HEAD_CHANGES.items():
        (group,) = [g for g in found if getattr(g.key, name) == change[name]]
        others = {k: v for k, v in base.__dict__.items() if k != name}
        assert {k: v for k, v in group.key.__dict__.items() if k != name} == others
    assert next(g for g in found if g.lists == 2).gross_weight == Decimal("3.00000")


def test_lists_differing_in_each_merge_key_field_land_in_different_groups(db: Database) -> None:
    check_each_key_field_splits(db)


def test_the_application_keeps_apart_enterprise_customs_agent_and_trade_mode(
    db: Database,
) -> None:
    add_list(db, 1, IN_JANUARY)
    add_list(db, 2, IN_JANUARY)
    add_list(db, 1, IN_JANUARY, customs_code="2992")
    add_list(db, 1, IN_JANUARY, agent_code="3301980B15")
    add_list(db, 1, IN_JANUARY, trade_mode="9710")
    assert [g.lists for g in _groups(db)] == [1] * 5
    assert [g.lists for g in _groups(db, enterprise_id=2)] == [1]


def check_item_totals(db: Database) -> None:
    lines = [
        {**BASE_ITEM, "gnum": 1, "qty1": Decimal("2"), "total_price": Decimal("10.5")},
        {**BASE_ITEM, "gnum": 2, "currency": "502", "total_price": Decimal("3")},
    ]
    add_list(db, 1, IN_JANUARY, lines)
    add_list(db, 1, IN_JANUARY, [{**BASE_ITEM, "total_price": Decimal("0.25")}])
    add_list(db, 1, IN_JANUARY, [{**BASE_ITEM, "gcode": "6109100021"}])
    add_list(db, 1, IN_JANUARY, [{**BASE_ITEM, "country": "303"}])
    with db.session() as session:
        totals = grouping.item_totals(session, JANUARY)
    (items,) = totals.values()
    got = {(i.country, i.gcode, i.currency): (i.lines, i.qty1, i.total_price) for i in items}
    assert got == {
        ("303", "6110110000", "142"): (1, Decimal("1.00000"), Decimal("100.00000")),
        ("502", "6109100021", "142"): (1, Decimal("1.00000"), Decimal("100.00000")),
        ("502", "6110110000", "142"): (2, Decimal("3.00000"), Decimal("10.75000")),
        ("502", "6110110000", "502"): (1, Decimal("1.00000"), Decimal("3.00000")),
    }


def test_item_totals_add_up_lines_with_the_same_country_hs_code_and_currency(
    db: Database,
) -> None:
    check_item_totals(db)


def test_only_closed_pending_summary_lists_of_the_cycle_count(db: Database) -> None:
    kept = add_list(db, 1, IN_JANUARY)
    add_list(db, 1, None)  # not closed
    add_list(db, 1, IN_JANUARY, statistics_flag="A")  # simplified: never summarised
    add_list(db, 1, IN_JANUARY, invt_no=None)  # no customs number yet
    add_list(db, 1, IN_JANUARY, summary_key="SUM1|1")  # in an application already
    add_list(db, 1, IN_JANUARY, entry_id="299120260000000001")  # merged already
    add_list(db, 1, datetime(2026, 2, 1, 0, 0, tzinfo=UTC))  # 08:00 Beijing: February
    add_list(db, 1, datetime(2026, 1, 31, 15, 59, tzinfo=UTC))  # 23:59 Beijing: January
    with db.session() as session:
        streamed = invt_nos(grouping.stream(session, JANUARY))
    (members,) = streamed.values()
    assert kept in members and len(members) == 2
    assert [g.lists for g in _groups(db, until=IN_JANUARY.replace(day=11))] == [1]


def test_the_stream_gives_each_group_its_lists_in_key_order(db: Database) -> None:
    _differing_lists(db)
    with db.session() as session:
        streamed = invt_nos(grouping.stream(session, JANUARY, batch=2))
    assert list(streamed) == sorted(streamed)
    assert [g.key for g in _groups(db)] == list(streamed)
    assert sum(len(v) for v in streamed.values()) == 7


def test_the_pending_index_holds_only_lists_still_to_declare(db: Database) -> None:
    with db.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM summary_lists WHERE statistics_flag = 'B'"
            " AND closed_at >= '2026-01-01' AND summary_key IS NULL AND entry_id IS NULL"
        ).all()
    assert "ix_summary_lists_pending" in " ".join(str(row) for row in plan)
    assert SummaryList.__table__.c.summary_key.nullable


@pytest.mark.integration
def test_grouping_on_postgresql(pg_url: str) -> None:
    db = _database(pg_url)
    try:
        check_each_key_field_splits(db)
        with db.session() as session:
            session.query(SummaryList).delete()
        check_item_totals(db)
    finally:
        db.dispose()
