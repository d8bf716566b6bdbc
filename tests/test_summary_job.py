"""The summary job (R-ECX-8) on a real database with the real intake: summary-mode lists kept
from intake and receipts, CEB701 applications built per merge group (customs announcement
2018 No.194), split with msgCount/msgSeqNo, stored through intake and linked to their lists
in the same transaction — so a second run, or a second application naming a list, never
declares a list twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.core.cli import main
from gateway.core.kinds import head_fields
from gateway.core.models import Document, Message
from gateway.core.runtime import Gateway
from gateway.ecx import samples_lists as ecx
from gateway.ecx.summary.cycles import parse_cycle
from gateway.ecx.summary.job import CycleRun, intake_submit, run_cycle
from gateway.ecx.summary.models import SummaryItem, SummaryList
from gateway.errors import InvalidMessage
from tests.summary_fixtures import (
    FEBRUARY,
    JANUARY,
    b_parcels,
    close_lists,
    declare_b_lists,
    inventory_receipt,
    party,
    quiet_gateway,
    set_closed_at,
)

CYCLE = parse_cycle("2026-01")


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    made = quiet_gateway(tmp_path, keys_dir, max_lists_per_apply=2, applies_per_message=2)
    yield made
    made.db.dispose()


def _closed_in_january(gw: Gateway, count: int, start: int = 1) -> list[str]:
    doc_ids = declare_b_lists(gw, b_parcels(party(gw), count, start))
    numbers = close_lists(gw, doc_ids, first=start)
    set_closed_at(gw.db, numbers, JANUARY)
    return numbers


def _run(gw: Gateway, enterprise: str | None = None) -> CycleRun:
    submit = intake_submit(gw.intake)
    return run_cycle(gw.db, gw.config.summary, CYCLE, submit, enterprise=enterprise, now=FEBRUARY)


def _summaries(gw: Gateway) -> list[Document]:
    with gw.db.session() as session:
        stmt = select(Document).where(Document.kind == "summary").order_by(Document.id)
        return list(session.scalars(stmt))


def _apply_records(gw: Gateway) -> list[dict[str, object]]:
    """Every SummaryApply stored: head fields and invtNos, from the stored messages."""
    from lxml import etree

    found = []
    with gw.db.session() as session:
        for msg in session.scalars(select(Message).where(Message.msg_type == "CEB701Message")):
            assert msg.channel == "job"
            root = etree.fromstring(msg.original)
            for rec in root:
                if etree.QName(rec).localname == "SummaryApply":
                    head = head_fields(rec, "SummaryApplyHead")
                    lists = [head_fields(x, None)["invtNo"] for x in rec[1:]]
                    found.append({**head, "lists": lists})
    return found


def test_intake_and_receipts_keep_the_summary_lists(gw: Gateway) -> None:
    ebc = party(gw)
    simplified = b_parcels(ebc, 1, 50, statistics_flag=ecx.SIMPLIFIED)
    doc_ids = declare_b_lists(gw, [*b_parcels(ebc, 2, 1), *simplified])
    with gw.db.session() as session:
        rows = list(session.scalars(select(SummaryList).order_by(SummaryList.id)))
        lines = session.scalar(select(func.count()).select_from(SummaryItem))
    assert len(rows) == 2 and lines == 4  # the simplified (A) list is not kept
    assert rows[0].invt_no is None and rows[0].closed_at is None
    assert (rows[0].ebc_code, rows[0].traf_mode, rows[0].port_code) == (ebc.code, "5", "2991")
    numbers = close_lists(gw, doc_ids[:2])
    with gw.db.session() as session:
        rows = list(session.scalars(select(SummaryList).order_by(SummaryList.id)))
    assert [r.invt_no for r in rows] == numbers
    assert all(r.closed_at is not None for r in rows)


def test_a_new_version_replaces_the_list_and_a_deletion_removes_it(gw: Gateway) -> None:
    ebc = party(gw)
    parcels = b_parcels(ebc, 2, 1)
    gw.intake.submit(ebc.code, ecx.inventory_message(ebc, parcels, app_status="1"), "t")
    gw.intake.submit(ebc.code, ecx.inventory_message(ebc, parcels[:1], items_per_order=3), "t")
    gw.intake.submit(
        ebc.code, ecx.inventory_message(ebc, parcels[1:], app_type="3", app_status="1"), "t"
    )
    with gw.db.session() as session:
        (row,) = session.scalars(select(SummaryList))
        lines = session.scalars(select(SummaryItem.gnum).where(SummaryItem.list_id == row.id))
        assert sorted(lines) == [1, 2, 3]


def test_a_run_declares_each_group_split_by_msg_count_and_links_its_lists(gw: Gateway) -> None:
    numbers = _closed_in_january(gw, 5)
    run = _run(gw)
    assert run.lists == 5 and not run.refused
    records = _apply_records(gw)
    by_group: dict[str, list[dict[str, object]]] = {}
    for rec in records:
        by_group.setdefault(str(rec["copNo"]), []).append(rec)
    for parts in by_group.values():
        count = len(parts)
        assert sorted(int(str(p["msgSeqNo"])) for p in parts) == list(range(1, count + 1))
        assert {p["msgCount"] for p in parts} == {str(count)}
        assert all(1 <= len(p["lists"]) <= 2 for p in parts)  # type: ignore[arg-type]
    assert sorted(n for r in records for n in r["lists"]) == numbers
    with gw.db.session() as session:
        links = dict(session.execute(select(SummaryList.invt_no, SummaryList.summary_key)).all())
    docs = {d.business_key for d in _summaries(gw)}
    assert set(links.values()) == docs
    assert all(d.status == "pending_sign" for d in _summaries(gw))


def test_running_a_cycle_twice_never_declares_a_list_twice(gw: Gateway) -> None:
    _closed_in_january(gw, 3)
    first = _run(gw)
    again = _run(gw)
    assert first.lists == 3 and again.lists == 0 and not again.applications
    assert len(_summaries(gw)) == len(_apply_records(gw))


def test_an_application_naming_a_list_already_declared_is_refused(gw: Gateway) -> None:
    numbers = _closed_in_january(gw, 1)
    _run(gw)
    (taken,) = _summaries(gw)
    batch = ecx.Batch("MANUAL0001", 1, 1)
    data = ecx.summary_message(party(gw), numbers, batch, ebc=party(gw))
    with pytest.raises(InvalidMessage) as refused:
        gw.intake.submit(party(gw).code, data, "test")
    (violation,) = refused.value.violations
    assert violation.rule == "R-ECX-8" and violation.value == numbers[0]
    assert f"copNo={taken.business_key.split('|')[0]}" in violation.message


def test_an_application_naming_a_list_not_closed_is_refused(gw: Gateway) -> None:
    (doc_id,) = declare_b_lists(gw, b_parcels(party(gw), 1, 1))
    gw.receipts.handle(inventory_receipt(gw, doc_id, "120", "29912026E000000001"))
    data = ecx.summary_message(
        party(gw), ["29912026E000000001"], ecx.Batch("MANUAL0002", 1, 1), ebc=party(gw)
    )
    with pytest.raises(InvalidMessage, match="not closed"):
        gw.intake.submit(party(gw).code, data, "test")


def test_a_returned_application_frees_its_lists_for_the_next_run(gw: Gateway) -> None:
    from receipts.build import build_receipt, return_time

    _closed_in_january(gw, 1)
    _run(gw)
    gw.signer.run_once()
    (doc,) = _summaries(gw)
    cop_no, seq = doc.business_key.split("|")
    entity = {
        "agentCode": party(gw).code, "ebcCode": party(gw).code, "copNo": cop_no,
        "preNo": "299120260000000001", "msgSeqNo": seq, "returnStatus": "100",
        "returnTime": return_time(datetime.now(UTC)), "returnInfo": "[Code:2401;Desc:退单]",
    }  # fmt: skip
    assert gw.receipts.handle(build_receipt("CEB702Message", [entity])).outcome == "matched"
    again = _run(gw)
    assert again.lists == 1
    assert again.applications[0].cop_no.endswith("02")


def test_preview_prints_each_group_with_its_key_counts_and_item_totals(
    gw: Gateway, tmp_path: Path
) -> None:
    _closed_in_january(gw, 3)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(json.dumps(_raw_config(gw)), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--config", str(config_file), "summary", "preview", "--cycle", "2026-01"]
    )
    assert result.exit_code == 0, result.output
    assert "cycle 2026-01 (2026-01-01..2026-01-31), due 2026-02-24" in result.output
    assert "merge key (announcement 2018 No.194): ebcCode=3301960Z01 ownerCode=3301960Z01" in (
        result.output
    )
    assert "3 list(s) to declare" in result.output
    with gw.db.session() as session:
        gcodes = set(session.scalars(select(SummaryItem.gcode)))
    assert all(gcode in result.output for gcode in gcodes)
    as_json = CliRunner().invoke(
        main, ["--config", str(config_file), "summary", "preview", "--cycle", "2026-01", "--json"]
    )
    shown = json.loads(as_json.output)
    assert shown["lists"] == 3 and sum(g["lists"] for g in shown["groups"]) == 3
    assert len(_summaries(gw)) == 0  # a dry run


def _raw_config(gw: Gateway) -> dict[str, object]:
    """The test gateway's configuration as a file the CLI can read (YAML is JSON)."""
    cfg = gw.config
    return {
        "database": {"url": cfg.database_url},
        "amqp": {"url": cfg.amqp.url, "prefix": cfg.amqp.prefix},
        "enterprises": [_enterprise(e) for e in cfg.enterprises],
        "summary": {
            "enabled": False,
            "max_lists_per_apply": 2,
            "holidays": ["2026-02-15..2026-02-23"],
        },
    }


def _enterprise(ent: Any) -> dict[str, object]:
    key = {"key_file": str(ent.key.key_file), "cert_file": str(ent.key.cert_file)}
    return {"code": ent.code, "name": ent.name, "dxp_id": ent.dxp_id, "key": key}


def test_run_and_due_from_the_command_line(gw: Gateway, tmp_path: Path) -> None:
    _closed_in_january(gw, 2)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(json.dumps(_raw_config(gw)), encoding="utf-8")
    cli = ["--config", str(config_file), "summary"]
    due = CliRunner().invoke(main, [*cli, "due"])
    assert "cycle 2026-01  OVERDUE since 2026-02-24" in due.output, due.output
    assert "2 list(s) pending" in due.output
    ran = CliRunner().invoke(main, [*cli, "run", "--cycle", "2026-01"])
    assert ran.exit_code == 0, ran.output
    assert "cycle 2026-01: " in ran.output and " 2 list(s), " in ran.output
    assert "0 refused" in ran.output and "— submitted" in ran.output
    assert "OVERDUE" not in CliRunner().invoke(main, [*cli, "due"]).output


@pytest.mark.integration
def test_a_run_on_postgresql_streams_and_links_like_on_sqlite(
    tmp_path: Path, keys_dir: Path, pg_url: str
) -> None:
    gw = quiet_gateway(tmp_path, keys_dir, pg_url, max_lists_per_apply=2)
    try:
        numbers = _closed_in_january(gw, 5)
        run = _run(gw)
        assert run.lists == 5 and not run.refused
        assert sorted(n for r in _apply_records(gw) for n in r["lists"]) == numbers
        assert _run(gw).lists == 0
    finally:
        gw.db.dispose()
