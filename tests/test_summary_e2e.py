"""Summary declarations end to end (R-ECX-8) over the real RabbitMQ with the simulated customs:
summary-mode lists declared, released and closed (899) through the inventory lifecycle →
the summary job → CEB701 applications signed and sent → CEB702 stored (120) with the sumNo →
one CEB792 per customs declaration customs merged (customs announcement 2018 No.194) → every
list finalised (结案) with its entryId. A second run declares nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.core import config as config_mod
from gateway.core.models import Document, Message, utcnow
from gateway.core.runtime import Gateway
from gateway.ecx import samples_lists as ecx
from gateway.ecx.summary.cycles import beijing_day, cycle_of
from gateway.ecx.summary.models import SummaryList
from gateway.ecx.summary.schedule import job_of
from tests.lifecycle_fixtures import (
    NO_SAMPLING,
    parcels,
    send_arrival,
    send_departure,
    send_waybill_list,
)
from tests.stack import Stack, declare_documents, raw_config
from tests.transport_fixtures import unique_prefix

pytestmark = pytest.mark.integration


@pytest.fixture
def summary_stack(tmp_path: Path, keys_dir: Path, broker: None) -> Iterator[Stack]:
    """Gateway workers and customs; two lists to a SummaryApply, so groups split."""
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix(), **NO_SAMPLING)
    raw["summary"] = {"enabled": False, "max_lists_per_apply": 2, "applies_per_message": 1}
    cfg = config_mod.from_dict(raw, tmp_path)
    gw = Gateway(cfg)
    gw.prepare()
    stack = Stack(cfg, gw).start()
    yield stack
    stack.close()


def _closed_b_lists(stack: Stack, count: int) -> list[int]:
    made = [replace(p, statistics_flag=ecx.SUMMARY) for p in parcels(stack, count, 3001)]
    declare_documents(stack, [p.order_no for p in made], [p.logistics_no for p in made])
    docs = [d.id for d in stack.declare_lists(ecx.inventory_message(stack.ebc, made)).documents]
    for doc_id in docs:
        assert stack.wait_status(doc_id, "concluded") == "concluded", stack.view(doc_id)
    nos = [p.logistics_no for p in made]
    send_waybill_list(stack, made, "WBSUM1")
    send_arrival(stack, nos, "ARSUM1")
    send_departure(stack, nos, "DPSUM1")
    for doc_id in docs:
        assert stack.wait_status(doc_id, "closed") == "closed", stack.view(doc_id)["history"]
    return docs


def _summary_docs(stack: Stack) -> list[Document]:
    with stack.gateway.db.session() as session:
        stmt = select(Document).where(Document.kind == "summary").order_by(Document.id)
        return list(session.scalars(stmt))


def test_closed_lists_are_summarised_declared_and_finalised_with_their_entry_id(
    summary_stack: Stack,
) -> None:
    stack = summary_stack
    lists = _closed_b_lists(stack, 5)
    cycle = cycle_of(beijing_day(utcnow()))  # closed just now: this month's cycle
    (run,) = job_of(stack.gateway).tick(cycle=cycle) or []
    assert run.lists == 5 and not run.refused
    assert any(app.msg_count > 1 for app in run.applications)  # some group was split
    docs = _summary_docs(stack)
    assert len(docs) == sum(app.msg_count for app in run.applications)
    for doc in docs:
        assert stack.wait_status(doc.id, "stored", timeout=60) == "stored", stack.view(doc.id)
    for doc_id in lists:
        assert stack.wait_status(doc_id, "finalised", timeout=60) == "finalised", stack.view(
            doc_id
        )["history"]
    _check_declared(stack, lists, docs)
    (again,) = job_of(stack.gateway).tick(cycle=cycle) or []
    assert again.lists == 0 and not again.applications


def _check_declared(stack: Stack, lists: list[int], docs: list[Document]) -> None:
    with stack.gateway.db.session() as session:
        sent = list(session.scalars(select(Message).where(Message.msg_type == "CEB701Message")))
        rows = list(session.scalars(select(SummaryList)))
        views = [stack.view(doc_id) for doc_id in lists]
    assert all(m.channel == "job" and m.state == "sent" for m in sent)
    assert all(m.signed and b"SignatureValue" in m.signed for m in sent)
    sum_nos = {stack.view(d.id)["customs_numbers"]["sumNo"] for d in docs}
    assert all(len(n) == 18 for n in sum_nos)
    assert all(r.entry_id and len(r.entry_id) == 18 for r in rows)
    for view in views:
        entry = view["customs_numbers"]["entryId"]
        finalised = view["history"][-1]
        assert finalised["to"] == "finalised" and entry in finalised["info"]
    # customs merged by the announcement's head key: one declaration per destination here
    countries = {r.country for r in rows}
    assert len({r.entry_id for r in rows}) == len(countries)
