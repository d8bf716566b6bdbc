"""Queries of the export set (R-COM-7, R-ECX-5..7, R-ECX-9; gateway/export_queries.py): status
groups of inventory lists, the one-calendar-month entry-time window, filters kept in the store
and in the XML, paging, B2B lists, and enterprise scoping."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gateway.appointments.codes import CHINA_TZ
from gateway.core.api import create_app
from gateway.core.cli import main as cli
from gateway.core.history import Change, Source, record
from gateway.core.models import Document
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.ecx import queries as eq
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.ecx.status import EcxStatus
from gateway.errors import InvalidMessage
from tests.stack import ADMIN, CARRIER_KEY, EBC_KEY, PLATFORM, make_config, raw_config

JAN = datetime(2026, 1, 15, 10, 0, tzinfo=CHINA_TZ)
FEB = datetime(2026, 2, 10, 10, 0, tzinfo=CHINA_TZ)
ORDERS = samples.order_numbers(8, start=971)
NOS = samples.logistics_numbers(8, start=971)
#: status of each inventory list, by position; the last one was only saved
STATUSES = [Status.PENDING_SIGN, Status.STORED, Status.CONCLUDED, Status.RELEASED,
            Status.CLOSED, EcxStatus.FINALISED, Status.RETURNED]  # fmt: skip
INVT_NO = "29912026E000000971"


@dataclass
class World:
    gw: Gateway
    client: TestClient
    inventories: list[int]  # by position of ORDERS
    b2b: int

    def get(self, path: str, key: str = EBC_KEY, **params: Any) -> Any:
        return self.client.get(path, params=params, headers={"X-API-Key": key})

    def ok(self, path: str, key: str = EBC_KEY, **params: Any) -> dict[str, Any]:
        resp = self.get(path, key, **params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def ids(self, path: str, **params: Any) -> set[int]:
        return {item["id"] for item in self.ok(path, **params)["items"]}


JAN_WINDOW = {"entry_from": "2026-01-01T00:00:00", "entry_to": "2026-02-01T00:00:00"}
FEB_WINDOW = {"entry_from": "2026-01-31T00:00:00", "entry_to": "2026-02-28T00:00:00"}


def _set(
    gw: Gateway, doc_id: int, status: Status | None, created: datetime, **numbers: str
) -> None:
    """Customs' answers, as the receipts would leave them; the entry time of the test."""
    with gw.db.session() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        if status is not None and status.value != doc.status:
            record(session, doc, Change(status, Source.CUSTOMS, "test"), None)
        doc.created_at = created
        doc.customs_numbers = {**(doc.customs_numbers or {}), **numbers}


def _parties(gw: Gateway) -> tuple[samples.Party, samples.Party]:
    e, c = gw.config.enterprises[:2]
    return samples.Party(e.code, e.name, e.dxp_id), samples.Party(c.code, c.name, c.dxp_id)


def _inventories(gw: Gateway) -> tuple[list[int], int]:
    ebc, _carrier = _parties(gw)
    parcels = [ecx.Parcel(o, n, ebc=ebc, ebp=PLATFORM) for o, n in zip(ORDERS, NOS, strict=True)]
    submit = gw.intake.submit
    def send(d: bytes) -> Any:
        return submit(ebc.code, d, "test")

    declared = ecx.save_then_declare(send, ecx.inventory_message(ebc, parcels[:7])).documents
    saved = submit(ebc.code, ecx.inventory_message(ebc, parcels[7:], app_status="1"), "test")
    b2b_parcel = ecx.Parcel("EO2026011500999", "YT9990000000999", ebc=ebc, ebp=PLATFORM)
    b2b_data = ecx.inventory_message(ebc, [b2b_parcel]).replace(b">9610<", b">9710<")
    b2b = ecx.save_then_declare(send, b2b_data).documents[0].id
    ids = [d.id for d in declared] + [saved.documents[0].id]
    for n, (doc_id, status) in enumerate(zip(ids, [*STATUSES, None], strict=True)):
        created = FEB if status is Status.RETURNED else JAN
        _set(gw, doc_id, status, created, **({"invtNo": INVT_NO} if n == 2 else {}))
    _set(gw, b2b, Status.STORED, JAN)
    return ids, b2b


@pytest.fixture
def world(tmp_path: Path, keys_dir: Path) -> Iterator[World]:
    """Records of every inventory status over a real SQLite store (no broker needed)."""
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="exportq."))
    gw.prepare(broker=False)
    ids, b2b = _inventories(gw)
    with TestClient(create_app(gw)) as client:
        yield World(gw, client, ids, b2b)
    gw.db.dispose()


# --- the window (R-COM-7) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2026-01-31", 1, "2026-02-28"),  # the manual's calendar month, clamped
        ("2028-01-31", 1, "2028-02-29"),  # leap year
        ("2026-03-31", -1, "2026-02-28"),
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-01-15", -1, "2025-12-15"),
    ],
)
def test_a_calendar_month_later(start: str, months: int, end: str) -> None:
    moved = eq.add_months(datetime.fromisoformat(start).replace(tzinfo=CHINA_TZ), months)
    assert moved.date().isoformat() == end


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("2026-01-01", "2026-02-01", True),  # exactly one calendar month
        ("2026-01-31", "2026-02-28", True),  # the example of R-COM-7's brief
        ("2026-07-01", "2026-07-31", True),  # the manual's example (入库时间)
        ("2026-01-01", "2026-02-02", False),  # a month and a day
        ("2026-01-31", "2026-03-01", False),
        ("2026-02-28", "2026-03-31", True),  # a month back from the end (03-31 − 1 month)
        ("2026-02-27", "2026-03-31", False),
        ("2026-02-01", "2026-01-31", False),  # ends before it starts
    ],
)
def test_the_entry_window_is_at_most_one_calendar_month(start: str, end: str, ok: bool) -> None:
    def window() -> eq.Window:
        return eq.entry_window(datetime.fromisoformat(start), datetime.fromisoformat(end))

    if ok:
        assert window().start < window().end
        return
    with pytest.raises(InvalidMessage) as err:
        window()
    (v,) = err.value.violations
    assert (v.rule, v.field) == ("R-COM-7", "entry_to")


def test_a_missing_end_is_now_and_a_missing_start_a_month_before_the_end() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=CHINA_TZ)
    both = eq.entry_window(None, None, now)
    assert (both.start.date().isoformat(), both.end) == ("2026-02-28", now)
    end_only = eq.entry_window(None, datetime(2026, 3, 15), now)
    assert end_only.start.isoformat() == "2026-02-15T00:00:00+08:00"
    start_only = eq.entry_window(datetime(2026, 2, 28, 12, 0), None, now)
    assert start_only.end == now  # a missing end is now, not a month after the start
    assert start_only.start.utcoffset() == CHINA_TZ.utcoffset(None)  # naive = Beijing time
    # a start alone more than a month before now is refused, naming it (issue 16, gap 2)
    for start in (datetime(2026, 2, 28, 11, 59), datetime(2026, 1, 31), datetime(2020, 1, 1)):
        with pytest.raises(InvalidMessage) as err:
            eq.entry_window(start, None, now)
        (v,) = err.value.violations
        assert (v.rule, v.field) == ("R-COM-7", "entry_from")
        assert "entry_to" in v.message and "2026-02-28 12:00:00 at the earliest" in v.message
    with pytest.raises(InvalidMessage) as err:
        eq.entry_window(datetime(2026, 4, 1), None, now)  # after now: give the end
    assert [(v.field, "later than now" in v.message) for v in err.value.violations] == [
        ("entry_from", True)
    ]


def test_a_start_alone_reaches_up_to_now_in_a_search(world: World) -> None:
    """JAN's lists entered 2026-01-15 10:00: found a month later, refused a minute after."""
    flt = eq.ExportFilter("concluded", datetime(2026, 1, 15, 10, 0))
    with world.gw.db.session() as session:
        found = eq.search(session, ADMIN, "inventories", flt, now=FEB.replace(day=15))
        assert [i["id"] for i in found["items"]] == [world.inventories[2]]
        with pytest.raises(InvalidMessage) as err:
            eq.search(session, ADMIN, "inventories", flt, now=datetime(2026, 2, 15, 10, 1))
    assert [(v.rule, v.field) for v in err.value.violations] == [("R-COM-7", "entry_from")]


def test_over_http_a_month_is_accepted_and_a_month_and_a_day_refused(world: World) -> None:
    january = world.ok("/v1/export/inventories", **JAN_WINDOW)
    assert january["window"]["start"].startswith("2026-01-01T00:00:00+08:00")
    assert world.ok("/v1/export/inventories", **FEB_WINDOW)["total"] == 1  # the returned one
    resp = world.get("/v1/export/inventories", entry_from="2026-01-01", entry_to="2026-02-02")
    assert resp.status_code == 422
    (v,) = resp.json()["violations"]
    assert (v["rule"], v["field"]) == ("R-COM-7", "entry_to")
    assert "one calendar month" in v["message"] and "2026-02-01 00:00:00" in v["message"]
    # a start alone ends now: years back, it is refused rather than cut to a month
    resp = world.get("/v1/export/inventories", entry_from="2020-01-01")
    assert resp.status_code == 422
    (v,) = resp.json()["violations"]
    assert (v["rule"], v["field"]) == ("R-COM-7", "entry_from")


# --- status groups (R-ECX-5, manual 3.4-3.6) ------------------------------------------------


@pytest.mark.parametrize(
    ("group", "positions"),
    [
        ("unconcluded", {0, 1}),  # declared, not yet 399: pending and stored (the returned
        ("concluded", {2}),  # one entered in February, outside the window)
        ("released", {3}),
        ("closed", {4}),
        ("finalised", {5}),
        ("saved", {7}),
        ("all", {0, 1, 2, 3, 4, 5, 7}),
    ],
)
def test_inventory_status_groups(world: World, group: str, positions: set[int]) -> None:
    found = world.ids("/v1/export/inventories", group=group, **JAN_WINDOW) - {world.b2b}
    assert found == {world.inventories[n] for n in positions}


def test_returned_lists_are_unconcluded(world: World) -> None:
    found = world.ids("/v1/export/inventories", group="unconcluded", **FEB_WINDOW)
    assert found == {world.inventories[6]}


def test_an_unknown_group_or_filter_is_refused_with_the_rule(world: World) -> None:
    resp = world.get("/v1/export/inventories", group="cleared")
    (v,) = resp.json()["violations"]
    assert resp.status_code == 422 and (v["field"], v["rule"]) == ("group", "R-COM-7")
    assert "unconcluded" in v["message"]
    (v,) = world.get("/v1/export/revokes", orderNo=ORDERS[0]).json()["violations"]
    assert (v["field"], v["rule"]) == ("orderNo", "R-COM-7")
    assert world.get("/v1/export/parcels").status_code == 404


# --- filters, paging, B2B (R-ECX-9) -------------------------------------------------------------


def test_filters_from_the_key_the_customs_numbers_and_the_xml(world: World) -> None:
    first = world.inventories[0]
    by_cop = world.ok("/v1/export/inventories", copNo=ecx.inventory_cop_no(ORDERS[0]), **JAN_WINDOW)
    assert [i["id"] for i in by_cop["items"]] == [first] and by_cop["total"] == 1
    assert world.ids("/v1/export/inventories", invtNo=INVT_NO, **JAN_WINDOW) == {
        world.inventories[2]
    }
    by_order = world.ok("/v1/export/inventories", orderNo=ORDERS[3], **JAN_WINDOW)
    (item,) = by_order["items"]
    assert item["id"] == world.inventories[3] and by_order["total"] is None  # read from XML
    assert item["fields"]["orderNo"] == ORDERS[3] and item["fields"]["tradeMode"] == "9610"
    assert item["fields"]["logisticsNo"] == NOS[3] and item["lines"] == 2
    assert world.ids("/v1/export/inventories", logisticsNo=NOS[1], group="unconcluded",
                     **JAN_WINDOW) == {world.inventories[1]}  # fmt: skip
    assert world.ids("/v1/export/inventories", logisticsNo=NOS[2], group="unconcluded",
                     **JAN_WINDOW) == set()  # fmt: skip
    concluded = world.ok("/v1/export/inventories", group="concluded", **JAN_WINDOW)
    assert concluded["items"][0]["fields"]["invtNo"] == INVT_NO  # customs' number, shown


def test_b2b_lists_are_the_9710_and_9810_ones(world: World) -> None:
    assert world.ids("/v1/export/b2b_lists", **JAN_WINDOW) == {world.b2b}
    assert world.ids("/v1/export/b2b_lists", tradeMode="9810", **JAN_WINDOW) == set()
    assert world.ids("/v1/export/inventories", tradeMode="9710", **JAN_WINDOW) == {world.b2b}
    (v,) = world.get("/v1/export/b2b_lists", tradeMode="9610").json()["violations"]
    assert (v["field"], v["rule"]) == ("tradeMode", "R-ECX-9")


def test_pages_by_sql_and_by_xml(world: World) -> None:
    pages = [world.ok("/v1/export/inventories", page=n, page_size=3, **JAN_WINDOW) for n in (1, 3)]
    assert pages[0]["total"] == 8 and len(pages[0]["items"]) == 3 and pages[0]["has_more"]
    assert len(pages[1]["items"]) == 2 and not pages[1]["has_more"]
    by_xml = [
        world.ok("/v1/export/inventories", tradeMode="9610", page=n, page_size=4, **JAN_WINDOW)
        for n in (1, 2)
    ]
    assert [len(p["items"]) for p in by_xml] == [4, 3] and by_xml[0]["has_more"]
    assert not by_xml[1]["has_more"] and by_xml[0]["total"] is None
    seen = [i["id"] for p in by_xml for i in p["items"]]
    assert len(seen) == len(set(seen)) == 7  # newest first, none twice, none lost


def test_the_xml_scan_goes_chunk_by_chunk_without_losing_ties(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every list entered at the same moment: the scan continues after (time, id)."""
    monkeypatch.setattr(eq, "SCAN_CHUNK", 2)
    found = world.ok("/v1/export/inventories", tradeMode="9610", page_size=50, **JAN_WINDOW)
    assert [i["id"] for i in found["items"]] == sorted(
        set(world.inventories) - {world.inventories[6]}, reverse=True
    )


def test_another_enterprise_sees_nothing_and_an_admin_everything(world: World) -> None:
    other = world.ok("/v1/export/inventories", key=CARRIER_KEY, **JAN_WINDOW)
    assert (other["total"], other["items"]) == (0, [])
    assert world.ok("/v1/export/b2b_lists", key=CARRIER_KEY, **JAN_WINDOW)["items"] == []
    assert world.ok("/v1/export/inventories", key="test-admin-key", **JAN_WINDOW)["total"] == 8


# --- the other lists (R-ECX-3, R-ECX-6, R-ECX-7, R-ECX-8) -------------------------------------


def test_revokes_returns_tallies_summaries_and_arrivals_are_queryable(world: World) -> None:
    gw = world.gw
    ebc, carrier = _parties(gw)
    invt = ecx.inventory_numbers(1, start=971)
    parcel = ecx.Parcel(ORDERS[0], NOS[0], ebc=ebc, ebp=PLATFORM, invt_no=invt[0])
    sent = {
        "revokes": (ebc, ecx.invt_cancel_message(ebc, [parcel])),
        "returns": (ebc, ecx.refund_message(ebc, [parcel])),
        "tallies": (carrier, ecx.refund_detail_message(carrier, [parcel])),
        "summaries": (ebc, ecx.summary_message(ebc, invt, ecx.Batch("SA971"), ebc=ebc)),
        "arrivals": (carrier, ecx.arrival_message(carrier, NOS[:3], ecx.Batch("AR971"))),
    }
    for name, (party, data) in sent.items():
        doc_id = gw.intake.submit(party.code, data, "test").documents[0].id
        _set(gw, doc_id, Status.STORED, JAN)
        key = EBC_KEY if party is ebc else CARRIER_KEY
        # stored ends arrivals, tallies and summaries; revokes and returns go on (399, 800)
        group = "unconcluded" if name in ("revokes", "returns") else "concluded"
        listed = world.ok(f"/v1/export/{name}", key, group=group, **JAN_WINDOW)
        assert [i["id"] for i in listed["items"]] == [doc_id], name
    by_invt = world.ok("/v1/export/revokes", invtNo=invt[0], **JAN_WINDOW)["items"]
    assert by_invt[0]["fields"]["invtNo"] == invt[0]
    assert world.ok("/v1/export/returns", coElNo=f"RT{ORDERS[0]}", **JAN_WINDOW)["total"] == 1
    arrivals = world.ok("/v1/export/arrivals", CARRIER_KEY, logisticsNo=NOS[2], **JAN_WINDOW)
    (arrival,) = arrivals["items"]  # a parcel found in the arrival's lines
    assert arrival["lines"] == 3 and arrival["fields"]["copNo"] == "AR971"


# --- the command line -----------------------------------------------------------------------


def test_cli_export_query(world: World, tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "cli.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="exportq.", db_url=world.gw.config.database_url)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    base = ["--config", str(config), "export-query", "inventories", "--from", "2026-01-01"]
    ok = CliRunner().invoke(cli, [*base, "--to", "2026-02-01", "--group", "concluded"])
    assert ok.exit_code == 0, ok.output
    assert f'"id": {world.inventories[2]}' in ok.output
    refused = CliRunner().invoke(cli, [*base, "--to", "2026-02-02"])
    assert refused.exit_code == 1 and "R-COM-7" in refused.output and "entry_to" in refused.output
    alone = CliRunner().invoke(cli, ["--config", str(config), "export-query", "inventories",
                                     "--from", "2020-01-01"])  # fmt: skip
    assert alone.exit_code == 1 and "R-COM-7" in alone.output and "entry_from" in alone.output


def test_the_query_module_directly_for_an_admin(world: World) -> None:
    with world.gw.db.session() as session:
        flt = eq.ExportFilter("closed", datetime(2026, 1, 1), datetime(2026, 2, 1))
        found = eq.search(session, ADMIN, "inventories", flt)
    assert [i["id"] for i in found["items"]] == [world.inventories[4]]


@pytest.mark.integration
def test_the_same_queries_on_postgresql(tmp_path: Path, keys_dir: Path, pg_url: str) -> None:
    """JSON customs numbers, LIKE on the key and the keyset scan on PostgreSQL too."""
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="exportq.", db_url=pg_url))
    gw.prepare(broker=False)
    try:
        ids, b2b = _inventories(gw)
        with gw.db.session() as session:

            def search(**match: str) -> list[int]:
                flt = eq.ExportFilter("all", datetime(2026, 1, 1), datetime(2026, 2, 1), match)
                return [i["id"] for i in eq.search(session, ADMIN, "inventories", flt)["items"]]

            assert search(invtNo=INVT_NO) == [ids[2]]
            assert search(copNo=ecx.inventory_cop_no(ORDERS[5])) == [ids[5]]
            assert search(tradeMode="9710") == [b2b]
    finally:
        gw.db.dispose()
