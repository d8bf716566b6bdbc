"""The export query pages as manual 004 shows them (issue 16, gaps 6, 7 and 8).

- 1.1/1.2, 2.1/2.2: 未审结 / 已审结 orders and waybills by 入库时间 — the time customs stored
  the record, from the 120 receipt's returnTime (Beijing time), not the update time — within
  one calendar month (R-COM-7); one business state (业务状态) of the page at a time.
- 3.3-3.6, 4.2: inventory and return queries by 业务类型 (statisticsFlag A/B), 汇总状态,
  申报地海关 (customsCode) and "not yet closed" (未结关).

Customs is played here: receipts go through the receipt processor over a real SQLite store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from gateway.appointments.codes import CHINA_TZ
from gateway.core.api import create_app
from gateway.core.cli import main as cli
from gateway.core.db import Database
from gateway.core.history import Change, Source, record
from gateway.core.migrate import upgrade
from gateway.core.models import Document
from gateway.core.receipt_processor import ReceiptProcessor
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.ecx.summary.cycles import parse_cycle
from gateway.ecx.summary.job import intake_submit, run_cycle
from gateway.ecx.summary.models import SummaryList
from receipts.build import build_receipt, new_guid, return_time
from tests.stack import CARRIER_KEY, EBC_KEY, PLATFORM, make_config, raw_config
from tests.summary_fixtures import (
    FEBRUARY,
    JANUARY,
    b_parcels,
    close_lists,
    declare_b_lists,
    party,
    quiet_gateway,
    set_closed_at,
)

JAN = datetime(2026, 1, 15, 10, 0, tzinfo=CHINA_TZ)
STORED_FEB = datetime(2026, 2, 20, 10, 0, 0, 123000, tzinfo=CHINA_TZ)
JAN_WINDOW = {"entry_from": "2026-01-01T00:00:00", "entry_to": "2026-02-01T00:00:00"}
FEB_WINDOW = {"entry_from": "2026-02-01T00:00:00", "entry_to": "2026-02-28T00:00:00"}
ORDERS = samples.order_numbers(3, start=881)
NOS = samples.logistics_numbers(2, start=881)


@dataclass
class Pages:
    gw: Gateway
    client: TestClient

    @property
    def ebc(self) -> samples.Party:
        e = self.gw.config.enterprises[0]
        return samples.Party(e.code, e.name, e.dxp_id)

    @property
    def carrier(self) -> samples.Party:
        e = self.gw.config.enterprises[1]
        return samples.Party(e.code, e.name, e.dxp_id)

    def get(self, path: str, key: str = EBC_KEY, **params: Any) -> Any:
        return self.client.get(path, params=params, headers={"X-API-Key": key})

    def ok(self, path: str, key: str = EBC_KEY, **params: Any) -> dict[str, Any]:
        resp = self.get(path, key, **params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def ids(self, path: str, key: str = EBC_KEY, **params: Any) -> list[int]:
        return [i["id"] for i in self.ok(path, key, **params)["items"]]

    def sent(self, sender: samples.Party, data: bytes, *, lists: bool = False) -> list[int]:
        """Submitted and sent to customs, entered on JAN; new inventory `lists` saved first
        (R-ECX-2)."""

        def submit(d: bytes) -> Any:
            return self.gw.intake.submit(sender.code, d, "test")

        result = ecx.save_then_declare(submit, data) if lists else submit(data)
        ids = [d.id for d in result.documents]
        with self.gw.db.session() as session:
            for doc_id in ids:
                doc = session.get(Document, doc_id)
                assert doc is not None
                record(session, doc, Change(Status.SENT, Source.GATEWAY, "test"), None)
                doc.created_at = JAN
        return ids

    def receipt(self, message_type: str, entity: dict[str, str], at: datetime) -> None:
        fields = {"guid": new_guid(), "returnTime": return_time(at), "returnInfo": "test"}
        data = build_receipt(message_type, [{**entity, **fields}])
        outcome = ReceiptProcessor(self.gw.db, None).handle(data)
        assert outcome.applied == 1, outcome


@pytest.fixture
def pages(tmp_path: Path, keys_dir: Path) -> Iterator[Pages]:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="pages."))
    gw.prepare(broker=False)
    with TestClient(create_app(gw)) as client:
        yield Pages(gw, client)
    gw.db.dispose()


# --- gap 6: orders and waybills (manual 1.1, 1.2, 2.1, 2.2) -----------------------------------


def _orders(pages: Pages) -> list[int]:
    """Three orders entered on JAN: the first stored by customs on STORED_FEB, the second
    refused (100), the third not answered yet."""
    ids = pages.sent(pages.ebc, samples.order_message(pages.ebc, PLATFORM, ORDERS))
    key = {"ebpCode": PLATFORM.code, "ebcCode": pages.ebc.code}
    pages.receipt("CEB304Message", {**key, "orderNo": ORDERS[0], "returnStatus": "120"},
                  STORED_FEB)  # fmt: skip
    pages.receipt("CEB304Message", {**key, "orderNo": ORDERS[1], "returnStatus": "100"},
                  STORED_FEB)  # fmt: skip
    return ids


def test_concluded_orders_are_found_by_the_time_customs_stored_them(pages: Pages) -> None:
    stored, refused, waiting = _orders(pages)
    concluded = pages.ok("/v1/export/orders", group="concluded", **FEB_WINDOW)
    (item,) = concluded["items"]
    assert item["id"] == stored and item["status"] == "stored"
    assert item["stored_at"] == "2026-02-20T10:00:00.123000+08:00"  # the 120's returnTime
    assert item["fields"]["orderNo"] == ORDERS[0]
    # entered in January, stored in February: 入库时间 is February's
    assert pages.ids("/v1/export/orders", group="concluded", **JAN_WINDOW) == []
    # not stored yet: placed by the gateway's intake time (January), newest first
    unconcluded = pages.ids("/v1/export/orders", group="unconcluded", **JAN_WINDOW)
    assert unconcluded == [waiting, refused]
    assert pages.ids("/v1/export/orders", orderNo=ORDERS[1], **JAN_WINDOW) == [refused]
    # another enterprise's orders are not its own
    assert pages.ids("/v1/export/orders", CARRIER_KEY, **FEB_WINDOW) == []


def test_the_stored_time_is_the_receipts_not_the_update_time(pages: Pages) -> None:
    stored, _refused, _waiting = _orders(pages)
    with pages.gw.db.session() as session:
        doc = session.get(Document, stored)
        assert doc is not None
        assert doc.stored_at == STORED_FEB
        assert doc.updated_at != STORED_FEB  # the update time is the gateway's clock


def test_waybills_have_the_same_tabs(pages: Pages) -> None:
    carrier, ebc = pages.carrier, pages.ebc
    first, second = pages.sent(carrier, samples.waybill_message(carrier, [(n, ebc) for n in NOS]))
    key = {"logisticsCode": carrier.code, "returnStatus": "120"}
    pages.receipt("CEB506Message", {**key, "logisticsNo": NOS[0]}, STORED_FEB)
    concluded = pages.ok("/v1/export/waybills", CARRIER_KEY, group="concluded", **FEB_WINDOW)
    assert [i["id"] for i in concluded["items"]] == [first]
    assert concluded["items"][0]["fields"]["logisticsNo"] == NOS[0]
    assert pages.ids("/v1/export/waybills", CARRIER_KEY, group="unconcluded", **JAN_WINDOW) == [
        second
    ]
    assert pages.ids("/v1/export/waybills", CARRIER_KEY, logisticsNo=NOS[1], **JAN_WINDOW) == [
        second
    ]


@pytest.mark.parametrize("name", ["orders", "waybills"])
def test_order_and_waybill_windows_are_one_calendar_month(pages: Pages, name: str) -> None:
    resp = pages.get(f"/v1/export/{name}", entry_from="2026-01-01", entry_to="2026-02-02")
    assert resp.status_code == 422
    (v,) = resp.json()["violations"]
    assert (v["rule"], v["field"]) == ("R-COM-7", "entry_to")
    resp = pages.get(f"/v1/export/{name}", entry_from="2020-01-01")  # a missing end is now
    assert resp.status_code == 422
    assert [(v["rule"], v["field"]) for v in resp.json()["violations"]] == [
        ("R-COM-7", "entry_from")
    ]
    # no window at all: the month up to now
    window = pages.ok(f"/v1/export/{name}")["window"]
    start, end = (datetime.fromisoformat(window[k]) for k in ("start", "end"))
    assert end.month - start.month in (1, -11)


def test_cli_order_query(pages: Pages, tmp_path: Path, keys_dir: Path) -> None:
    stored, _refused, _waiting = _orders(pages)
    config = tmp_path / "cli.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="pages.", db_url=pages.gw.config.database_url)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    base = ["--config", str(config), "export-query", "orders", "--from", "2026-02-01"]
    ok = CliRunner().invoke(cli, [*base, "--to", "2026-02-28", "--group", "concluded"])
    assert ok.exit_code == 0, ok.output
    assert f'"id": {stored}' in ok.output and '"stored_at": "2026-02-20T10:00:00.123' in ok.output
    refused = CliRunner().invoke(cli, [*base, "--to", "2026-03-02"])
    assert refused.exit_code == 1 and "R-COM-7" in refused.output and "entry_to" in refused.output


def test_an_order_is_found_by_its_business_state_within_its_page_R_COM_7(pages: Pages) -> None:
    """Manual 1.1: the 业务状态 drop-down of 未审结订单查询 picks one state of the page."""
    stored, refused, waiting = _orders(pages)
    assert pages.ids("/v1/export/orders", group="unconcluded", status="returned",
                     **JAN_WINDOW) == [refused]  # fmt: skip
    assert pages.ids("/v1/export/orders", group="unconcluded", status="sent",
                     **JAN_WINDOW) == [waiting]  # fmt: skip
    found = pages.ok("/v1/export/orders", group="concluded", status="stored", **FEB_WINDOW)
    assert [i["id"] for i in found["items"]] == [stored] and found["status"] == "stored"
    # without a group, any state of the list's pages
    assert pages.ids("/v1/export/orders", status="returned", **JAN_WINDOW) == [refused]


@pytest.mark.parametrize(
    ("group", "status"),
    [
        ("unconcluded", "stored"),  # 已审结's state on the 未审结 page
        ("concluded", "returned"),
        ("saved", "sent"),
        ("all", "deleted"),  # on no page
        ("unconcluded", "concluded"),  # an inventory list's 399, no order's
    ],
)
def test_a_business_state_outside_the_page_is_refused_R_COM_7(
    pages: Pages, group: str, status: str
) -> None:
    for name in ("orders", "waybills"):
        resp = pages.get(f"/v1/export/{name}", group=group, status=status, **JAN_WINDOW)
        assert resp.status_code == 422, resp.text
        (v,) = resp.json()["violations"]
        assert (v["rule"], v["field"], v["value"]) == ("R-COM-7", "status", status)


def test_a_business_state_keeps_the_one_month_window_R_COM_7(pages: Pages) -> None:
    _orders(pages)
    params = {"group": "unconcluded", "status": "returned"}
    resp = pages.get("/v1/export/orders", entry_from="2026-01-01", entry_to="2026-02-02", **params)
    assert resp.status_code == 422
    assert [(v["rule"], v["field"]) for v in resp.json()["violations"]] == [("R-COM-7", "entry_to")]
    resp = pages.get("/v1/export/orders", entry_from="2020-01-01", **params)
    assert [(v["rule"], v["field"]) for v in resp.json()["violations"]] == [
        ("R-COM-7", "entry_from")
    ]


def test_a_waybill_is_found_by_its_business_state_within_its_page(pages: Pages) -> None:
    """Manual 2.1 refers to 1.1 for its fields: the same drop-down."""
    carrier, ebc = pages.carrier, pages.ebc
    first, second = pages.sent(carrier, samples.waybill_message(carrier, [(n, ebc) for n in NOS]))
    key = {"logisticsCode": carrier.code, "returnStatus": "100"}
    pages.receipt("CEB506Message", {**key, "logisticsNo": NOS[0]}, STORED_FEB)

    def found(status: str) -> list[int]:
        return pages.ids("/v1/export/waybills", CARRIER_KEY, group="unconcluded", status=status,
                         **JAN_WINDOW)  # fmt: skip

    assert found("returned") == [first]
    assert found("sent") == [second]
    assert found("store_failed") == []


def test_cli_order_query_by_business_state(pages: Pages, tmp_path: Path, keys_dir: Path) -> None:
    _stored, refused, waiting = _orders(pages)
    config = tmp_path / "cli.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="pages.", db_url=pages.gw.config.database_url)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    base = ["--config", str(config), "export-query", "orders", "--from", "2026-01-01",
            "--to", "2026-02-01"]  # fmt: skip
    ok = CliRunner().invoke(cli, [*base, "--group", "unconcluded", "--status", "returned"])
    assert ok.exit_code == 0, ok.output
    assert f'"id": {refused}' in ok.output and f'"id": {waiting}' not in ok.output
    refused_query = CliRunner().invoke(cli, [*base, "--group", "concluded", "--status", "returned"])
    assert refused_query.exit_code == 1, refused_query.output
    assert "status:" in refused_query.output and "[R-COM-7]" in refused_query.output
    too_long = CliRunner().invoke(cli, [*base[:-1], "2026-02-02", "--status", "returned"])
    assert too_long.exit_code == 1 and "entry_to" in too_long.output


def test_migration_0006_takes_the_stored_time_from_the_history(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        upgrade(db, "0005_tenants_keys_audit")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO enterprises (id, code, name, dxp_id, key_binding, created_at) "
                "VALUES (1, 'E1', 'e', 'D1', '{}', '2026-01-01 00:00:00')"
            ))  # fmt: skip
            for doc_id in (1, 2):
                conn.execute(text(
                    "INSERT INTO documents (id, enterprise_id, kind, business_key, status, "
                    "pre_no, customs_numbers, created_at, updated_at, key_scope) VALUES "
                    f"({doc_id}, 1, 'order', 'E1|O{doc_id}', 'stored', 'P{doc_id}', '{{}}', "
                    "'2026-01-15 02:00:00', '2026-03-01 00:00:00', 0)"
                ))  # fmt: skip
            steps = [
                (1, "stored", "customs", "20260220100000123", 1),  # the step to stored
                (1, "stored", "customs", "20260221100000000", 0),  # not applied: kept only
                (2, "sent", "gateway", None, 1),
            ]
            for doc_id, to, source, at, applied in steps:
                conn.execute(
                    text(
                        "INSERT INTO status_history (document_id, at, to_status, source, "
                        "return_time, applied) VALUES (:d, '2026-03-01 00:00:00', :t, :s, "
                        ":r, :a)"
                    ),
                    {"d": doc_id, "t": to, "s": source, "r": at, "a": applied},
                )
        upgrade(db)
        with db.session() as session:
            found = dict(session.execute(select(Document.id, Document.stored_at)).all())
        assert found == {1: STORED_FEB, 2: None}
    finally:
        db.dispose()


@pytest.mark.integration
def test_orders_and_inventory_filters_on_postgresql(
    tmp_path: Path, keys_dir: Path, pg_url: str
) -> None:
    """The stored-time window (coalesce, keyset) and the summary-state EXISTS on PostgreSQL."""
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="pages.", db_url=pg_url))
    gw.prepare(broker=False)
    try:
        with TestClient(create_app(gw)) as client:
            pg = Pages(gw, client)
            stored, refused, waiting = _orders(pg)
            assert pg.ids("/v1/export/orders", group="concluded", **FEB_WINDOW) == [stored]
            assert pg.ids("/v1/export/orders", **JAN_WINDOW) == [waiting, refused]
            simplified, pending, declared, merged = _lists(pg)
            found = pg.ids("/v1/export/inventories", summaryState="unsummarised", **JAN_WINDOW)
            assert set(found) == {simplified, pending}
            assert pg.ids("/v1/export/inventories", statisticsFlag="A", **JAN_WINDOW) == [
                simplified
            ]
    finally:
        gw.db.dispose()


# --- gap 8: inventory and return filters (manual 3.3-3.6, 4.2) -------------------------------


def _lists(pages: Pages) -> list[int]:
    """Four lists entered on JAN: simplified (A) stored; summary-mode (B) closed, in no
    application; B closed, in an application; B finalised into a customs declaration."""
    ebc = pages.ebc
    flags = ["A", "B", "B", "B"]
    parcels = [
        ecx.Parcel(o, n, ebc=ebc, ebp=PLATFORM, statistics_flag=f)
        for o, n, f in zip(samples.order_numbers(4, start=771),
                           samples.logistics_numbers(4, start=771), flags, strict=True)
    ]  # fmt: skip
    ids = pages.sent(ebc, ecx.inventory_message(ebc, parcels), lists=True)
    invt_nos = ecx.inventory_numbers(4, start=771)
    with pages.gw.db.session() as session:
        for doc_id, invt_no, status in zip(
            ids, invt_nos, [Status.STORED, Status.CLOSED, Status.CLOSED, Status.CLOSED],
            strict=True,
        ):  # fmt: skip
            doc = session.get(Document, doc_id)
            assert doc is not None
            record(session, doc, Change(status, Source.CUSTOMS, "test"), None)
            doc.customs_numbers = {**(doc.customs_numbers or {}), "invtNo": invt_no}
            session.execute(
                update(SummaryList)
                .where(SummaryList.business_key == doc.business_key)
                .values(invt_no=invt_no)
            )
        summary = {ids[2]: ("SA771|1", None), ids[3]: ("SA771|1", "530120260000000771")}
        for doc_id, (key, entry) in summary.items():
            doc = session.get(Document, doc_id)
            assert doc is not None
            session.execute(
                update(SummaryList)
                .where(SummaryList.business_key == doc.business_key)
                .values(summary_key=key, entry_id=entry)
            )
    return ids


def test_inventories_by_business_type_summary_state_and_customs(pages: Pages) -> None:
    simplified, pending, declared, merged = _lists(pages)

    def found(**params: str) -> set[int]:
        return set(pages.ids("/v1/export/inventories", **JAN_WINDOW, **params))

    assert found(statisticsFlag="A") == {simplified}
    assert found(statisticsFlag="B") == {pending, declared, merged}
    assert found(summaryState="unsummarised") == {simplified, pending}
    assert found(summaryState="declared") == {declared}
    assert found(summaryState="summarised") == {merged}
    assert found(statisticsFlag="B", summaryState="unsummarised") == {pending}
    assert found(customsCode=ecx.DEMO_CUSTOMS) == {simplified, pending, declared, merged}
    assert found(customsCode="9999") == set()
    # 未结关: declared and not closed yet
    assert found(group="not_closed") == {simplified}


def test_returns_by_the_business_type_and_summary_state_of_their_list(pages: Pages) -> None:
    _lists(pages)
    ebc = pages.ebc
    invt_nos = ecx.inventory_numbers(4, start=771)
    orders = samples.order_numbers(4, start=771)
    parcels = [
        ecx.Parcel(orders[n], f"RT{n}", ebc=ebc, ebp=PLATFORM, invt_no=invt_nos[n]) for n in (0, 3)
    ]
    of_simplified, of_merged = pages.sent(ebc, ecx.refund_message(ebc, parcels))

    def found(**params: str) -> list[int]:
        return pages.ids("/v1/export/returns", **JAN_WINDOW, **params)

    assert found(statisticsFlag="A") == [of_simplified]
    assert found(statisticsFlag="B") == [of_merged]
    assert found(summaryState="summarised") == [of_merged]
    assert found(summaryState="unsummarised") == [of_simplified]
    assert found(summaryState="declared") == []


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("inventories", "statisticsFlag", "C"),
        ("inventories", "summaryState", "done"),
        ("returns", "statisticsFlag", "b"),
        ("returns", "summaryState", "merged"),
    ],
)
def test_a_business_type_or_summary_state_not_in_the_manual_is_refused(
    pages: Pages, name: str, field: str, value: str
) -> None:
    resp = pages.get(f"/v1/export/{name}", **JAN_WINDOW, **{field: value})
    assert resp.status_code == 422
    assert [(v["rule"], v["field"]) for v in resp.json()["violations"]] == [("R-COM-7", field)]


# --- gap 7: summary results and summary customs declarations (manual 5.3, 5.4) ---------------

SUM_NO = "299120268800000001"
ENTRY = "299120260000088001"
ADMIN_KEY = "test-admin-key"


@pytest.fixture
def summary(tmp_path: Path, keys_dir: Path) -> Iterator[tuple[Pages, list[int], list[str]]]:
    """Two summary-mode lists of the first enterprise, closed in January, declared in one
    summary customs numbered SUM_NO and merged into customs declaration ENTRY (CEB792)."""
    gw = quiet_gateway(tmp_path, keys_dir)
    doc_ids, numbers = _merged(gw)
    with TestClient(create_app(gw)) as client:
        yield Pages(gw, client), doc_ids, numbers
    gw.db.dispose()


def _merged(gw: Gateway) -> tuple[list[int], list[str]]:
    ebc = party(gw)
    parcels = b_parcels(ebc, 2, 11)  # orders 11 and 12 go to one country: one application
    doc_ids = declare_b_lists(gw, parcels)
    numbers = close_lists(gw, doc_ids)
    set_closed_at(gw.db, numbers, JANUARY)
    run = run_cycle(gw.db, gw.config.summary, parse_cycle("2026-01"), intake_submit(gw.intake),
                    now=FEBRUARY)  # fmt: skip
    assert run.lists == 2
    gw.signer.run_once()
    with gw.db.session() as session:
        (application,) = session.scalars(select(Document).where(Document.kind == "summary"))
        cop_no, seq = application.business_key.split("|")
    stored = {
        "agentCode": ebc.code, "ebcCode": ebc.code, "copNo": cop_no, "msgSeqNo": seq,
        "preNo": "299120260000000001", "sumNo": SUM_NO, "returnStatus": "120",
        "returnTime": return_time(datetime.now(CHINA_TZ)), "returnInfo": "[Code:1800]",
    }  # fmt: skip
    assert gw.receipts.handle(build_receipt("CEB702Message", [stored])).outcome == "matched"
    merged = [replace(p, invt_no=n) for p, n in zip(parcels, numbers, strict=True)]
    lines = list(ecx.result_lines(merged))
    result = ecx.summary_result_message(SUM_NO, ENTRY, lines, agent=ecx.DEMO_AGENT)
    assert gw.receipts.handle(result).outcome == "matched"
    return doc_ids, numbers


def _today() -> dict[str, str]:
    """A window around now, when the CEB792 was received (no wall-clock limit: a day wide)."""
    now = datetime.now(CHINA_TZ).replace(tzinfo=None)
    return {"entry_from": (now - timedelta(days=1)).isoformat(),
            "entry_to": (now + timedelta(days=1)).isoformat()}  # fmt: skip


def test_the_enterprise_sees_its_summary_results_with_their_lines(
    summary: tuple[Pages, list[int], list[str]],
) -> None:
    pages, doc_ids, numbers = summary
    found = pages.ok("/v1/summaries/results", **_today())
    (item,) = found["items"]
    assert (item["sumNo"], item["entryId"]) == (SUM_NO, ENTRY)
    head = item["head"]
    assert head["declSeqNo"] == f"{SUM_NO[:-1]}1" and head["decState"] == "10"
    assert head["grossWeight"] and head["netWeight"] and head["customsCode"] == ecx.DEMO_CUSTOMS
    assert {line["invtNo"] for line in item["lines"]} == set(numbers)
    assert all(line["gseqno"] >= 1 and line["gcode"] for line in item["lines"])
    assert item["application"]["status"] == "stored"
    lists = {entry["invtNo"]: entry for entry in item["lists"]}
    assert {lists[n]["document_id"] for n in numbers} == set(doc_ids)
    assert {lists[n]["status"] for n in numbers} == {"finalised"}
    detail = pages.ok(f"/v1/summaries/results/{SUM_NO}")
    assert detail["entry_ids"] == [ENTRY] and detail["results"][0]["lines"] == item["lines"]
    assert pages.ids("/v1/summaries/results", sumNo="299120260000000000", **_today()) == []


def test_the_merged_declarations_show_their_lists_and_items(
    summary: tuple[Pages, list[int], list[str]],
) -> None:
    pages, doc_ids, numbers = summary
    (declaration,) = pages.ok("/v1/summaries/declarations", **_today())["items"]
    assert (declaration["entryId"], declaration["sumNo"]) == (ENTRY, SUM_NO)
    assert declaration["declSeqNo"] == f"{SUM_NO[:-1]}1"
    assert [entry["invtNo"] for entry in declaration["lists"]] == numbers
    assert [entry["document_id"] for entry in declaration["lists"]] == doc_ids
    assert all(len(entry["items"]) == 2 for entry in declaration["lists"])  # two goods each
    assert pages.ok(f"/v1/summaries/declarations/{ENTRY}") == declaration
    assert pages.ok("/v1/summaries/declarations", entryId=ENTRY, **_today())["total"] == 1


def test_another_enterprise_gets_a_404_like_a_missing_one(
    summary: tuple[Pages, list[int], list[str]],
) -> None:
    pages, _doc_ids, _numbers = summary
    for path in ("/v1/summaries/results", "/v1/summaries/declarations"):
        assert pages.ok(path, CARRIER_KEY, **_today())["items"] == []
        assert pages.ok(path, ADMIN_KEY, **_today())["total"] == 1  # an admin sees all
    for path in (f"/v1/summaries/results/{SUM_NO}", f"/v1/summaries/declarations/{ENTRY}"):
        theirs = pages.get(path, CARRIER_KEY)
        missing = pages.get(path.replace("88", "77"), EBC_KEY)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["error"] == missing.json()["error"] == "NotFound"
        assert pages.get(path, ADMIN_KEY).status_code == 200


def test_summary_result_windows_are_one_calendar_month(
    summary: tuple[Pages, list[int], list[str]],
) -> None:
    pages, _doc_ids, _numbers = summary
    for path in ("/v1/summaries/results", "/v1/summaries/declarations"):
        resp = pages.get(path, entry_from="2026-01-01", entry_to="2026-02-02")
        assert resp.status_code == 422
        assert [(v["rule"], v["field"]) for v in resp.json()["violations"]] == [
            ("R-COM-7", "entry_to")
        ]


def test_cli_summary_results_and_declarations(
    summary: tuple[Pages, list[int], list[str]], tmp_path: Path, keys_dir: Path
) -> None:
    pages, _doc_ids, numbers = summary
    config = tmp_path / "cli.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="summary.", db_url=pages.gw.config.database_url)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    base = ["--config", str(config), "summary"]
    window = ["--from", _today()["entry_from"], "--to", _today()["entry_to"]]
    listed = CliRunner().invoke(cli, [*base, "results", *window])
    assert listed.exit_code == 0, listed.output
    assert f'"sumNo": "{SUM_NO}"' in listed.output and '"declSeqNo"' in listed.output
    one = CliRunner().invoke(cli, [*base, "declarations", ENTRY])
    assert one.exit_code == 0 and all(n in one.output for n in numbers), one.output
    theirs = CliRunner().invoke(cli, [*base, "results", SUM_NO, "--enterprise",
                                      pages.carrier.code])  # fmt: skip
    assert theirs.exit_code == 1 and "no summary result" in theirs.output
    refused = CliRunner().invoke(cli, [*base, "declarations", "--from", "2026-01-01",
                                       "--to", "2026-02-02"])  # fmt: skip
    assert refused.exit_code == 1 and "R-COM-7" in refused.output and "entry_to" in refused.output


@pytest.mark.integration
def test_summary_results_on_postgresql(tmp_path: Path, keys_dir: Path, pg_url: str) -> None:
    """The JSON sumNo lookup and the detail's lower bound on PostgreSQL too."""
    gw = quiet_gateway(tmp_path, keys_dir, pg_url)
    try:
        doc_ids, _numbers = _merged(gw)
        with TestClient(create_app(gw)) as client:
            pages = Pages(gw, client)
            (item,) = pages.ok("/v1/summaries/results", **_today())["items"]
            assert item["application"] is not None and item["sumNo"] == SUM_NO
            declaration = pages.ok(f"/v1/summaries/declarations/{ENTRY}")
            assert [entry["document_id"] for entry in declaration["lists"]] == doc_ids
            assert pages.get(f"/v1/summaries/results/{SUM_NO}", CARRIER_KEY).status_code == 404
    finally:
        gw.db.dispose()
