"""B2B报关单查询 (manual 004 §6.1, R-ECX-9; issue #16 gap 5): customs declarations (报关单,
统一编号) customs reports for B2B exports (ECX910Message, gateway/ecx/declarations.py), queried
by the manual's filters within one calendar month of 入库时间 (R-COM-7), with 报关单详情 by
统一编号 — not the inventory lists with trade mode 9710/9810.

End to end over the real RabbitMQ with the simulated customs (gateway/ecx/sim/b2b.py); the
rules of applying and querying against a real SQLite store; the trust of the message
(R-COM-4) against the broker users of a deployment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.cli import main
from gateway.codes import CHINA_TZ
from gateway.core.api import create_app
from gateway.core.config import SimConfig
from gateway.core.customs_sim.state import SimBase
from gateway.core.db import Database
from gateway.core.models import Enterprise, Receipt
from gateway.core.runtime import Gateway
from gateway.ecx import declarations as decl
from gateway.ecx import samples_lists as ecx
from gateway.ecx.sim import b2b as sim_b2b
from gateway.ecx.sim.b2b import SimB2BDeclaration, declaration_numbers
from gateway.ecx.sim.state import Tracked
from gateway.ecx.sim.summary import SimSummaryList, SimSummaryPart
from receipts.build import new_guid
from tests.lifecycle_fixtures import NO_SAMPLING, MakeStack, parcels, release
from tests.lifecycle_fixtures import Listed as LifecycleListed
from tests.stack import (
    AMQP_URL,
    CARRIER_KEY,
    EBC_KEY,
    Stack,
    declare_documents,
    declare_waybills,
    make_config,
    publish_receipt,
    raw_config,
    wait_value,
)
from transports import wrap

ADMIN_KEY = "test-admin-key"
CUSTOMS = "DXPEDCCEB0000003"


def _get(client: TestClient, path: str, key: str = EBC_KEY, **params: Any) -> Any:
    return client.get(path, params=params, headers={"X-API-Key": key})


# --- end to end ------------------------------------------------------------------------------


def _declare(stack: Stack, trade_mode: str, start: int) -> tuple[LifecycleListed, list[str]]:
    """One list of `trade_mode`, concluded; and the HS codes of its lines."""
    (parcel,) = parcels(stack, 1, start)
    declare_documents(stack, [parcel.order_no], [parcel.logistics_no])
    data = ecx.inventory_message(stack.ebc, [parcel]).replace(b">9610<", f">{trade_mode}<".encode())
    (doc,) = stack.declare_lists(data).documents
    assert stack.wait_status(doc.id, "concluded") == "concluded", stack.view(doc.id)["history"]
    invt_no = stack.view(doc.id)["customs_numbers"]["invtNo"]
    gcodes = re.findall(r"<ceb:gcode>([0-9]+)<", data.decode())
    return LifecycleListed(doc.id, replace(parcel, invt_no=invt_no)), gcodes


def _declarations(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    answer = _get(client, "/v1/export/b2b", **params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_customs_reports_a_b2b_list_as_a_declaration_the_query_follows(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(**NO_SAMPLING).start()
    b2b, gcodes = _declare(stack, "9710", 9101)
    _declare(stack, "9610", 9102)  # B2C: customs opens no declaration
    with TestClient(create_app(stack.gateway)) as client:
        found = wait_value(lambda: _declarations(client), lambda items: len(items) >= 1, 60)
        (item,) = found
        assert item["tradeMode"] == "9710" and item["invtNo"] == b2b.parcel.invt_no
        assert len(item["seqNo"]) == 18 and item["entryId"].isdigit()
        assert len(item["entryId"]) == 18 and item["customsCode"] == ecx.DEMO_CUSTOMS
        assert item["consignorCode"] == stack.ebc.code and item["summaryState"] == "unsummarised"
        # the list moves on (released): customs sends the declaration again, status 800
        release(stack, [b2b], "B2B1")
        moved = wait_value(
            lambda: _declarations(client, entryStatus="800"), lambda items: len(items) == 1, 60
        )
        assert [i["seqNo"] for i in moved] == [item["seqNo"]]
        assert _declarations(client, tradeMode="9810") == []
        assert _declarations(client, entryStatus="120") == []
        # 报关单详情: the head customs sent and the list's goods lines
        detail = _get(client, f"/v1/export/b2b/{item['seqNo']}").json()
        assert detail["head"]["consignorName"] == stack.ebc.name
        assert [line["gcode"] for line in detail["lines"]] == gcodes and gcodes
        assert [line["gnum"] for line in detail["lines"]] == [
            str(n + 1) for n in range(len(gcodes))
        ]
        assert detail["receipt_id"]
        # another enterprise sees neither the list nor the detail
        assert _get(client, "/v1/export/b2b", key=CARRIER_KEY).json()["items"] == []
        assert _get(client, f"/v1/export/b2b/{item['seqNo']}", key=CARRIER_KEY).status_code == 404
        # the inventory lists themselves are still listed, under their own name
        lists = _get(client, "/v1/export/b2b_lists").json()["items"]
        assert [i["id"] for i in lists] == [b2b.doc_id]


def test_a_list_stored_once_its_waybill_came_gets_its_declaration_then(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(missing_document_wait=60.0, **NO_SAMPLING).start()
    (parcel,) = parcels(stack, 1, 9103)
    declare_documents(stack, [parcel.order_no], [parcel.logistics_no], waybill=False)
    data = ecx.inventory_message(stack.ebc, [parcel]).replace(b">9610<", b">9810<")
    (doc,) = stack.declare_lists(data).documents
    assert stack.wait_status(doc.id, "declaring") == "declaring"  # customs waits for the waybill
    with TestClient(create_app(stack.gateway)) as client:
        assert _declarations(client) == []
        declare_waybills(stack, [parcel.order_no], [parcel.logistics_no])
        found = wait_value(lambda: _declarations(client), lambda items: len(items) == 1, 60)
    expected = ("9810", ecx.inventory_cop_no(parcel.order_no))
    assert [(i["tradeMode"], i["copNo"]) for i in found] == [expected]


# --- what customs says, applied --------------------------------------------------------------


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    gateway = Gateway(make_config(tmp_path, keys_dir, prefix="b2b."))
    gateway.prepare(broker=False)
    yield gateway
    gateway.db.dispose()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")


def reported(key: str, stored: datetime, **head: str) -> decl.Reported:
    seq_no, entry_id = declaration_numbers("2991", f"{stored.year}", key)
    fields = {
        "guid": new_guid(), "seqNo": seq_no, "entryId": entry_id, "customsCode": "2991",
        "iePort": "2991", "tradeMode": "9710", "statisticsFlag": "A", "entryStatus": "120",
        "summaryState": "unsummarised", "declTime": _stamp(stored), "storeTime": _stamp(stored),
        "updateTime": _stamp(stored), "invtNo": f"29912026E{key:0>9}", "copNo": key,
        "consignorCode": "3301960Z01", "consignorName": "杭州云锦", "agentCode": "3301960Z01",
        "agentName": "杭州云锦", "trafMode": "5", "country": "502", "packNo": "1",
        "grossWeight": "1.5", "netWeight": "1.2", "totalPrice": "30", "currency": "142",
        **head,
    }  # fmt: skip
    line = {"gnum": "1", "gcode": "6109100021", "gname": "T恤", "qty": "3", "unit": "011",
            "totalPrice": "30", "currency": "142", "country": "502"}  # fmt: skip
    return decl.Reported(fields, [line])


def _dxp(gw: Gateway, index: int = 0) -> str:
    return gw.config.enterprises[index].dxp_id


def _take(gw: Gateway, *items: decl.Reported, to: str | None = None) -> Receipt:
    data = decl.build(list(items), new_guid())
    with gw.db.session() as session:
        row = decl.take(session, data, [to or _dxp(gw)], "cop-1")
        session.flush()
        session.expunge(row)
    return row


NOW = datetime(2026, 3, 15, 12, 0, tzinfo=CHINA_TZ)


def test_a_declaration_is_upserted_by_its_seqno_the_newest_update_winning(gw: Gateway) -> None:
    first = reported("B1", NOW - timedelta(days=2))
    assert _take(gw, first).outcome == "matched"
    later = dict(first.head, entryStatus="800", updateTime=_stamp(NOW))
    assert _take(gw, decl.Reported(later, first.lines)).parsed["declarations"] == {
        first.head["seqNo"]: "updated"
    }
    stale = dict(first.head, entryStatus="399", updateTime=_stamp(NOW - timedelta(days=1)))
    kept = _take(gw, decl.Reported(stale, first.lines))
    assert (
        kept.outcome == "unmatched" and "older" in kept.parsed["declarations"][first.head["seqNo"]]
    )
    with gw.db.session() as session:
        (row,) = session.scalars(select(decl.EntryDeclaration))
        assert row.status == "800" and row.head["grossWeight"] == "1.5"


def test_a_declaration_held_for_one_enterprise_is_not_moved_to_another(gw: Gateway) -> None:
    first = reported("B2", NOW)
    _take(gw, first)
    again = dict(first.head, updateTime=_stamp(NOW + timedelta(hours=1)))
    other = _take(gw, decl.Reported(again, first.lines), to=_dxp(gw, 1))
    assert (
        other.outcome == "unmatched"
        and "R-ECX-9" in other.parsed["declarations"][first.head["seqNo"]]
    )
    nobody = _take(gw, reported("B3", NOW), to="DXPENT0000000404")
    assert nobody.outcome == "unmatched" and "ReceiverId" in (nobody.error or "")


def test_a_message_its_schema_refuses_is_kept_unreadable(gw: Gateway) -> None:
    bad = reported("B4", NOW, tradeMode="9610")  # not a B2B trade mode
    row = _take(gw, bad)
    assert row.outcome == "unreadable" and "tradeMode" in (row.error or "")
    with gw.db.session() as session:
        assert session.scalars(select(decl.EntryDeclaration)).all() == []


# --- the query --------------------------------------------------------------------------------


@pytest.fixture
def world(gw: Gateway) -> Iterator[TestClient]:
    _take(gw, reported("Q1", NOW - timedelta(days=1)),
          reported("Q2", NOW - timedelta(days=3), tradeMode="9810", statisticsFlag="B",
                   summaryState="declared", entryStatus="899"),
          reported("Q3", NOW - timedelta(days=40)))  # fmt: skip
    _take(gw, reported("Q4", NOW - timedelta(days=1)), to=_dxp(gw, 1))
    with TestClient(create_app(gw)) as client:
        yield client


WINDOW = {"entry_from": "2026-03-01T00:00:00", "entry_to": "2026-03-31T23:59:59"}


def _seq(client: TestClient, key: str = EBC_KEY, **params: Any) -> list[str]:
    answer = _get(client, "/v1/export/b2b", key=key, **params)
    assert answer.status_code == 200, answer.text
    return [i["copNo"] for i in answer.json()["items"]]


def test_the_query_lists_the_callers_declarations_newest_entry_first(world: TestClient) -> None:
    assert _seq(world, **WINDOW) == ["Q1", "Q2"]  # Q3 entered in February, Q4 not ours
    assert _seq(world, key=CARRIER_KEY, **WINDOW) == ["Q4"]
    assert sorted(_seq(world, key=ADMIN_KEY, **WINDOW)) == ["Q1", "Q2", "Q4"]
    assert _seq(world, entry_from="2026-02-01T00:00:00", entry_to="2026-02-28T00:00:00") == ["Q3"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"statisticsFlag": "B"}, ["Q2"]),  # 业务类型
        ({"entryStatus": "120"}, ["Q1"]),  # 业务状态
        ({"summaryState": "declared"}, ["Q2"]),  # 汇总状态
        ({"tradeMode": "9710"}, ["Q1"]),  # 贸易方式
        ({"invtNo": "29912026E0000000Q1"}, ["Q1"]),
    ],
)
def test_the_manuals_filters(
    world: TestClient, params: dict[str, str], expected: list[str]
) -> None:
    assert _seq(world, **WINDOW, **params) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**WINDOW, "tradeMode": "9610"}, "tradeMode"),
        ({**WINDOW, "entryStatus": "2"}, "entryStatus"),
        ({"entry_from": "2026-01-01T00:00:00", "entry_to": "2026-03-01T00:00:00"}, "entry_to"),
    ],
)
def test_a_bad_filter_or_a_window_over_a_month_is_refused(
    world: TestClient, params: dict[str, str], field: str
) -> None:
    answer = _get(world, "/v1/export/b2b", **params)
    assert answer.status_code == 422
    (v,) = answer.json()["violations"]
    assert v["field"] == field and v["rule"] in ("R-ECX-9", "R-COM-7")


def test_without_a_window_the_default_is_the_month_up_to_now(gw: Gateway) -> None:
    now = datetime.now(CHINA_TZ)
    _take(gw, reported("D1", now - timedelta(days=2)), reported("D2", now - timedelta(days=45)))
    with TestClient(create_app(gw)) as client:
        answer = _get(client, "/v1/export/b2b").json()
    assert [i["copNo"] for i in answer["items"]] == ["D1"]
    assert answer["window"]["end"] >= answer["window"]["start"]


def test_the_detail_is_the_callers_only(world: TestClient) -> None:
    seq_q1 = declaration_numbers("2991", "2026", "Q1")[0]
    seq_q4 = declaration_numbers("2991", "2026", "Q4")[0]
    assert _get(world, f"/v1/export/b2b/{seq_q1}").json()["lines"][0]["gcode"] == "6109100021"
    assert _get(world, f"/v1/export/b2b/{seq_q4}").status_code == 404


# --- only customs may tell ---------------------------------------------------------------------


def test_a_declaration_not_from_customs_is_kept_untrusted_and_applied_to_nothing(
    make_stack: MakeStack,
) -> None:
    stack = make_stack().start(sim=False)
    data = decl.build([reported("T1", NOW)], new_guid())
    env = wrap(data, msg_type=decl.MESSAGE_TYPE, sender_id=CUSTOMS,
               receiver_ids=(stack.ebc.dxp_id,))  # fmt: skip
    publish_receipt(stack, env.body, env.cop_msg_id, url=AMQP_URL)  # not customs' broker user

    def receipts() -> list[tuple[str, str]]:
        with stack.gateway.db.session() as session:
            return [(r.outcome, r.error or "") for r in session.scalars(select(Receipt))]

    (kept,) = wait_value(receipts, lambda rows: len(rows) >= 1, 30)
    assert kept[0] == "untrusted" and "R-COM-4" in kept[1]
    # the same message from customs is taken
    env = wrap(data, msg_type=decl.MESSAGE_TYPE, sender_id=CUSTOMS,
               receiver_ids=(stack.ebc.dxp_id,))  # fmt: skip
    publish_receipt(stack, env.body, env.cop_msg_id)
    rows = wait_value(receipts, lambda rows: len(rows) >= 2, 30)
    assert rows[1][0] == "matched"
    with stack.gateway.db.session() as session:
        owner = session.scalar(select(decl.EntryDeclaration.enterprise_id))
        assert owner == session.scalar(
            select(Enterprise.id).where(Enterprise.code == stack.ebc.code)
        )


def test_declarations_and_their_query_on_postgresql(
    tmp_path: Path, keys_dir: Path, pg_url: str
) -> None:
    gateway = Gateway(make_config(tmp_path, keys_dir, prefix="b2bpg.", db_url=pg_url))
    gateway.prepare(broker=False)
    try:
        first = reported("P1", NOW - timedelta(days=1))
        _take(gateway, first, reported("P2", NOW - timedelta(days=2), statisticsFlag="B"))
        later = dict(first.head, entryStatus="899", updateTime=_stamp(NOW))
        assert _take(gateway, decl.Reported(later, first.lines)).outcome == "matched"
        with TestClient(create_app(gateway)) as client:
            assert _seq(client, **WINDOW) == ["P1", "P2"]
            assert _seq(client, entryStatus="899", **WINDOW) == ["P1"]
            assert _seq(client, statisticsFlag="B", **WINDOW) == ["P2"]
            detail = _get(client, f"/v1/export/b2b/{first.head['seqNo']}").json()
            assert detail["lines"] == first.lines and detail["head"]["totalPrice"] == "30"
    finally:
        gateway.db.dispose()


# --- the commands ------------------------------------------------------------------------------


def test_b2b_query_and_b2b_show_on_the_command_line(tmp_path: Path, keys_dir: Path) -> None:
    raw = raw_config(tmp_path, keys_dir, prefix="b2bcli.")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        return result.exit_code, result.output

    assert run("db", "upgrade")[0] == 0
    gateway = Gateway(make_config(tmp_path, keys_dir, prefix="b2bcli."))
    gateway.prepare(broker=False)
    try:
        now = datetime.now(CHINA_TZ)
        _take(gateway, reported("C1", now - timedelta(days=1), entryStatus="800"))
    finally:
        gateway.db.dispose()
    code, out = run("b2b-query", "--filter", "entryStatus=800")
    assert code == 0, out
    (item,) = json.loads(out)["items"]
    assert item["copNo"] == "C1"
    code, out = run("b2b-show", item["seqNo"])
    assert code == 0 and json.loads(out)["lines"][0]["unit"] == "011"
    code, out = run("b2b-query", "--filter", "tradeMode=9610")
    assert code == 1 and "tradeMode" in out and "R-ECX-9" in out and "Traceback" not in out
    code, out = run("b2b-show", "E00000000000000000")
    assert code == 1 and "统一编号" in out


# --- the simulated customs follows a declaration ------------------------------------------------


class _Customs:
    """What `gateway.ecx.sim.b2b.tick` uses of the simulator: its store, its settings and
    the scheduling of a message (recorded here)."""

    def __init__(self, db: Database) -> None:
        self.db, self.sim = db, SimConfig()
        self.sent: list[tuple[str, list[decl.Reported]]] = []

    def _schedule(self, _session: Any, receiver: str, answer: Any) -> None:
        self.sent.append((receiver, decl.read(answer.body)))


@pytest.fixture
def customs(tmp_path: Path) -> Iterator[_Customs]:
    db = Database(f"sqlite:///{tmp_path / 'sim.db'}")
    SimBase.metadata.create_all(db.engine)
    yield _Customs(db)
    db.dispose()


def _follow(customs: _Customs, key: str, list_status: str, status: str = "120") -> str:
    opened = reported(key, NOW)
    head = opened.head
    with customs.db.session() as session:
        session.add(Tracked(kind="inventory", business_key=key, sender_id="DXPENT1",
                            invt_no=head["invtNo"], status=list_status, step_at=0.0,
                            entity="{}"))  # fmt: skip
        session.add(SimB2BDeclaration(seq_no=head["seqNo"], business_key=key,
                                      invt_no=head["invtNo"], sender_id="DXPENT1",
                                      data=json.dumps({"head": head, "lines": opened.lines}),
                                      status=status, summary_state="unsummarised"))  # fmt: skip
    return head["invtNo"]


def _set_list(customs: _Customs, key: str, status: str) -> None:
    with customs.db.session() as session:
        row = session.scalar(select(Tracked).where(Tracked.business_key == key))
        assert row is not None
        row.status = status


def test_customs_sends_a_declaration_again_when_its_list_moves_or_is_summarised(
    customs: _Customs,
) -> None:
    invt_no = _follow(customs, "S1", "120")
    sim_b2b.tick(customs)
    assert customs.sent == []  # nothing changed since it was opened
    _set_list(customs, "S1", "899")
    sim_b2b.tick(customs)
    ((receiver, (moved,)),) = customs.sent
    assert receiver == "DXPENT1" and moved.head["entryStatus"] == "899"
    with customs.db.session() as session:  # a summary application names the list, merged
        session.add(SimSummaryList(invt_no=invt_no, business_key="S1", sender_id="DXPENT1",
                                   data="{}", sum_no="299120260000000001"))  # fmt: skip
        session.add(SimSummaryPart(cop_no="SA1", msg_seq_no=1, msg_count=1,
                                   sum_no="299120260000000001", sender_id="DXPENT1",
                                   data="{}", merged=True))  # fmt: skip
    sim_b2b.tick(customs)
    summarised = customs.sent[-1][1][0].head
    assert (summarised["entryStatus"], summarised["summaryState"]) == ("899", "summarised")
    sim_b2b.tick(customs)
    assert len(customs.sent) == 2  # told once each


def test_a_pending_declaration_is_opened_when_customs_stores_its_list(customs: _Customs) -> None:
    _follow(customs, "S2", "2", status=sim_b2b.PENDING)  # the comparison waits for a waybill
    sim_b2b.tick(customs)
    assert customs.sent == []
    _set_list(customs, "S2", "120")
    sim_b2b.tick(customs)
    ((_receiver, (opened,)),) = customs.sent
    assert opened.head["entryStatus"] == "120"
    assert opened.head["storeTime"] == opened.head["updateTime"] > opened.head["declTime"]
