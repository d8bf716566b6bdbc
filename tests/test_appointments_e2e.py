"""Appointment clearance end to end, over the real RabbitMQ with the simulated customs.

One appointment is booked, approved and fed back; another goes overdue (R-APT-9), blocks its
enterprise (R-APT-3) and is unblocked by an explanation (R-APT-8); a third is cancelled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.appointments import refdata
from gateway.appointments import samples as apt
from gateway.appointments.codes import CHINA_TZ
from gateway.appointments.deadlines import run_deadlines
from gateway.appointments.models import AptDeclaration
from gateway.appointments.sim import announce
from tests.stack import Stack, wait_value

pytestmark = pytest.mark.integration


def _next_saturday(weeks: int) -> datetime:
    today = datetime.now(CHINA_TZ).replace(hour=3, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(5 - today.weekday()) % 7 + 7 * weeks)


def _ready(make_stack) -> Stack:  # type: ignore[no-untyped-def]
    stack: Stack = make_stack().start()
    with stack.gateway.db.session() as session:
        refdata.load_sample(session)
    return stack


def _known(stack: Stack, entry: str) -> bool:
    with stack.gateway.db.session() as session:
        return session.get(AptDeclaration, entry) is not None


def _submit(stack: Stack, data: bytes) -> int:
    return int(stack.submit(data).documents[0].id)


def test_book_feed_back_overdue_explain_cancel(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = _ready(make_stack)
    ebc, start = stack.ebc, _next_saturday(2)
    requests = [apt.Request(n, start + timedelta(hours=h)) for n, h in (("FED", 0), ("LATE", 3))]
    result = stack.submit(apt.request_message(ebc, requests))
    fed, late = (d.id for d in result.documents)
    cancel_me = _submit(stack, apt.request_message(ebc, [apt.Request("CXL", start)]))
    for doc in (fed, late, cancel_me):
        assert stack.wait_status(doc, "booked") == "booked"
    view = stack.view(fed)
    assert str(view["customs_numbers"]["aptNo"]).startswith("YY")

    # feedback: customs announces the declaration (APT110), the enterprise feeds it back
    entry = "223320260000000777"
    assert stack.sim is not None
    announce(stack.sim, {"declarations": [{
        "entry_id": entry, "ie_flag": "I", "declarant_code": ebc.code,
        "consignee_code": "1101919107", "decl_port": "2233", "ie_port": "2233",
        "declared_at": datetime.now(UTC) + timedelta(seconds=1),
    }]}, [ebc.dxp_id])  # fmt: skip
    assert wait_value(lambda: _known(stack, entry), bool, 20.0)
    feedback = _submit(stack, apt.feedback_message(ebc, "FED", [entry]))
    assert stack.wait_status(feedback, "stored") == "stored"
    assert stack.wait_status(fed, "cleared") == "cleared"

    # cancel one minute before its time is possible
    cancel = _submit(stack, apt.cancel_message(ebc, "CXL"))
    assert stack.wait_status(cancel, "stored") == "stored"
    assert stack.wait_status(cancel_me, "cancelled") == "cancelled"

    # the other one is not fed back: overdue at the deadline; the enterprise books on (the
    # manual blocks on customs' I-通关完成未反馈 only, seed 003 §4.1)
    late_start = start + timedelta(hours=3)
    run = run_deadlines(stack.gateway.db, late_start + timedelta(days=5), stack.gateway.notifier)
    assert run.overdue == (f"{ebc.code}|LATE",)
    assert stack.status(late) == "overdue"
    later = apt.request_message(ebc, [apt.Request("NEXT", _next_saturday(3))])

    # the explanation customs takes ends the breach
    explanation = _submit(stack, apt.explanation_message(ebc, "LATE", pdfs=[("x.pdf", apt.pdf())]))
    assert stack.wait_status(explanation, "stored") == "stored"
    assert stack.wait_status(late, "explained") == "explained"
    nxt = _submit(stack, later)
    assert stack.wait_status(nxt, "booked") == "booked"
    history = [h["to"] for h in stack.view(late)["history"]]
    assert history[-3:] == ["booked", "overdue", "explained"]
