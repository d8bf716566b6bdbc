"""Customs' summary result (CEB792, R-ECX-8) at the gateway: parsed in any namespace form,
kept like every receipt, and applied — each listed inventory list gets the customs
declaration number (entryId) and moves from closed to finalised (结案) with history and a
notification; lines the gateway cannot place are kept for ops with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.core.models import Document, Outbox, Receipt
from gateway.core.runtime import Gateway
from gateway.ecx import samples_lists as ecx
from gateway.ecx.summary.cycles import parse_cycle
from gateway.ecx.summary.job import intake_submit, run_cycle
from gateway.ecx.summary.models import SummaryItem, SummaryList
from gateway.errors import ReceiptError
from receipts.build import build_receipt, return_time
from receipts.parse import parse_message, parse_summary_result
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

ENTRY = "299120260000012345"
SUM_NO = "299120261234567890"


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    made = quiet_gateway(tmp_path, keys_dir)
    yield made
    made.db.dispose()


def _declared(gw: Gateway, count: int) -> tuple[list[int], list[ecx.Parcel]]:
    """`count` lists closed in January and declared in one summary stored with SUM_NO."""
    parcels = b_parcels(party(gw), count, 1)
    doc_ids = declare_b_lists(gw, parcels)
    numbers = close_lists(gw, doc_ids)
    set_closed_at(gw.db, numbers, JANUARY)
    run = run_cycle(gw.db, gw.config.summary, parse_cycle("2026-01"), intake_submit(gw.intake),
                    now=FEBRUARY)  # fmt: skip
    assert run.lists == count
    gw.signer.run_once()
    _store_summaries(gw)
    return doc_ids, [replace(p, invt_no=n) for p, n in zip(parcels, numbers, strict=True)]


def _store_summaries(gw: Gateway) -> None:
    with gw.db.session() as session:
        docs = list(session.scalars(select(Document).where(Document.kind == "summary")))
    entities = []
    for doc in docs:
        cop_no, seq = doc.business_key.split("|")
        entities.append({
            "agentCode": party(gw).code, "ebcCode": party(gw).code, "copNo": cop_no,
            "preNo": "299120260000000001", "sumNo": SUM_NO, "msgSeqNo": seq,
            "returnStatus": "120", "returnTime": return_time(datetime.now(UTC)),
            "returnInfo": "[Code:1800;Desc:逻辑校验通过]",
        })  # fmt: skip
    assert gw.receipts.handle(build_receipt("CEB702Message", entities)).outcome == "matched"


def _result(parcels: list[ecx.Parcel], sum_no: str = SUM_NO) -> bytes:
    lines = list(ecx.result_lines(parcels))
    return ecx.summary_result_message(sum_no, ENTRY, lines, agent=ecx.DEMO_AGENT)


def _status(gw: Gateway, doc_id: int) -> Document:
    with gw.db.session() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.history  # noqa: B018 - loaded while the session is open
        return doc


def test_a_summary_result_finalises_its_lists_with_the_declaration_number(gw: Gateway) -> None:
    doc_ids, parcels = _declared(gw, 2)
    outcome = gw.receipts.handle(_result(parcels))
    assert (outcome.outcome, outcome.applied) == ("matched", 2)
    for doc_id in doc_ids:
        doc = _status(gw, doc_id)
        assert doc.status == "finalised" and doc.customs_numbers["entryId"] == ENTRY
        last = doc.history[-1]
        assert (last.from_status, last.to_status, last.source) == ("closed", "finalised", "customs")
        assert "[R-ECX-8] merged into customs declaration 299120260000012345" in last.info
    with gw.db.session() as session:
        assert {r.entry_id for r in session.scalars(select(SummaryList))} == {ENTRY}
        items = list(session.scalars(select(SummaryItem)))
        assert all(i.entry_id == ENTRY and i.gseqno for i in items)
        kept = session.get(Receipt, outcome.receipt_id)
        assert kept is not None and kept.msg_type == "CEB792Message" and kept.raw
        rows = session.scalars(select(Outbox).where(Outbox.content_type == "application/json"))
        notes = [json.loads(o.body) for o in rows]
    finalised = [c for n in notes for c in n.get("changes", []) if c["to"] == "finalised"]
    assert len(finalised) == 2 and finalised[0]["customs_numbers"]["entryId"] == ENTRY


def test_the_same_result_again_is_a_duplicate_and_moves_nothing(gw: Gateway) -> None:
    doc_ids, parcels = _declared(gw, 1)
    data = _result(parcels)
    gw.receipts.handle(data)
    assert gw.receipts.handle(data).outcome == "duplicate"
    assert [h.to_status for h in _status(gw, doc_ids[0]).history].count("finalised") == 1


def test_lines_the_gateway_cannot_place_are_kept_for_ops(gw: Gateway) -> None:
    doc_ids, parcels = _declared(gw, 1)
    stranger = ecx.Parcel("EO2026112299999", "YT7399999999999", invt_no="29912026E999999999")
    outcome = gw.receipts.handle(_result([*parcels, stranger]))
    assert outcome.outcome == "partly_matched"
    with gw.db.session() as session:
        kept = session.get(Receipt, outcome.receipt_id)
        assert kept is not None
        (result,) = kept.parsed["results"]
    assert result["finalised"] == [parcels[0].invt_no]
    assert result["unmatched"] == [
        {
            "invtNo": "29912026E999999999",
            "reason": "no summary-mode inventory list with this invtNo",
        }
    ]


def test_a_result_of_another_summary_does_not_finalise_a_list(gw: Gateway) -> None:
    doc_ids, parcels = _declared(gw, 1)
    outcome = gw.receipts.handle(_result(parcels, sum_no="299120269999999999"))
    assert outcome.outcome == "unmatched"
    assert _status(gw, doc_ids[0]).status == "closed"


def test_a_list_not_closed_is_not_finalised(gw: Gateway) -> None:
    (doc_id,) = declare_b_lists(gw, b_parcels(party(gw), 1, 1))
    gw.receipts.handle(inventory_receipt(gw, doc_id, "120", "29912026E000000001"))
    parcel = ecx.Parcel("EO2026112200001", "YT7300000000001", invt_no="29912026E000000001")
    outcome = gw.receipts.handle(_result([parcel]))
    assert outcome.outcome == "unmatched"
    with gw.db.session() as session:
        kept = session.get(Receipt, outcome.receipt_id)
        assert kept is not None
        assert "not closed (结关)" in kept.parsed["results"][0]["unmatched"][0]["reason"]
    assert _status(gw, doc_id).status == "stored"


def test_ceb792_parses_with_a_default_namespace_and_names_a_bad_field() -> None:
    parcel = ecx.Parcel("EO2026112200001", "YT7300000000001", invt_no="29912026E000000001")
    data = _result([parcel])
    plain = data.replace(b"ceb:", b"").replace(b"xmlns:ceb=", b"xmlns=")
    for form in (data, plain):
        parsed = parse_summary_result(form)
        (result,) = parsed.results
        assert (result.sum_no, result.entry_id) == (SUM_NO, ENTRY)
        assert [line.gnum for line in result.lines] == [1, 2]
    broken = data.replace(b"<ceb:gseqno>1</ceb:gseqno>", b"<ceb:gseqno>one</ceb:gseqno>", 1)
    with pytest.raises(ReceiptError, match=r"SummaryResultList\[1\].*gseqno 'one'"):
        parse_message(broken)
    with pytest.raises(ReceiptError, match="sumNo"):
        parse_message(data.replace(SUM_NO.encode(), b""))
