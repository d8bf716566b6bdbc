"""Exhibition registration end to end, over the real RabbitMQ with the simulated customs.

A registration is saved (pre-entry number), declared, stored and approved by customs (the
exhibition customs number), changed (the approved change becomes its form) and deleted on an
application customs grants; another names a supervising customs customs does not know, is
refused with the reason, corrected and approved. A loaned-exhibit list of an approved
exhibition is approved by customs, one of an unknown exhibition refused, and the exhibition
with a list can no longer be applied for deletion. A review confirmation of an approved
exhibition gets a PDF attached (a non-PDF and an oversized one refused), is approved by
customs with its number, closed (结案) by customs with its date, and keeps its exhibition
from deletion too. Another, approved, is reminded before its re-export date and goes
overdue after it (R-TMP-7), the deadline job driven at chosen times.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.codes import CHINA_TZ
from gateway.core.enterprises import Caller
from gateway.core.models import Enterprise, utcnow
from gateway.errors import InvalidMessage
from gateway.temporary import (
    attachments,
    confirmation_queries,
    deadlines,
    declarations,
    loan_queries,
    queries,
    sim,
)
from gateway.temporary import samples as tmp
from gateway.temporary.models import TmpDeclarationGoods
from gateway.temporary.queries import Conditions
from gateway.temporary.sim import SimDeclarationGoods
from tests.stack import Stack, wait_value
from tests.temporary_fixtures import (
    ENTRY_2,
    pdf_of,
    registry,  # noqa: F401  (installs the system)
)

pytestmark = pytest.mark.integration


def _search(stack: Stack, **cond: Any) -> dict[str, Any]:
    with stack.gateway.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == stack.ebc.code))
        assert ent is not None
        who = Caller(enterprise_id=ent.id, enterprise_code=ent.code)
        return queries.search(session, who, Conditions(**cond))


def _record(stack: Stack, cop_no: str) -> dict[str, Any]:
    (found,) = [r for r in _search(stack)["records"] if r["cop_no"] == cop_no]
    return found


def test_register_change_delete_and_a_refusal(make_stack: Callable[..., Stack]) -> None:
    _lifecycle(make_stack().start())


def test_the_same_on_postgresql(make_stack: Callable[..., Stack], pg_url: str) -> None:
    _lifecycle(make_stack(db_url=pg_url).start())


def _lifecycle(stack: Stack) -> None:
    ebc = stack.ebc
    keep = frozenset(f.name for f in tmp.form.FORM) - {"customsCode"}

    # save (暂存): the pre-entry number, nothing sent
    draft = tmp.Registration("EXPO-1", app_status="1", omit=keep)
    saved = stack.submit(tmp.registration_message(ebc, [draft]))
    doc = saved.documents[0].id
    assert stack.status(doc) == "saved"
    pre_entry_no = _record(stack, "EXPO-1")["pre_entry_no"]
    assert pre_entry_no.startswith("Z2900")

    # declare (申报): signed, sent, stored and approved, with the exhibition customs number
    stack.submit(tmp.registration_message(ebc, [tmp.Registration("EXPO-1")]))
    assert stack.wait_status(doc, "approved") == "approved"
    assert "stored" in stack.path(doc)
    view = _record(stack, "EXPO-1")
    number = view["exhibition_no"]
    assert number.startswith("ZL2900")
    assert view["pre_entry_no"] == pre_entry_no
    assert view["status_name"] == "审核通过"
    assert view["operations"] == ["change", "revoke"]

    # change (变更): approved by customs, the registration takes the new closing date
    change = tmp.Change("EXPO-1", exhibition_no=number, values={"closeDate": "20991231"})
    change_doc = stack.submit(tmp.change_message(ebc, [change])).documents[0].id
    assert stack.wait_status(change_doc, "approved") == "approved"
    changed = wait_value(lambda: _detail(stack, doc), _shows_change, 20.0)
    assert changed["form"]["closeDate"] == "20991231"
    assert changed["status"] == "approved"

    # deletion (备案删除): an application customs grants; the registration is withdrawn
    deletion = stack.submit(tmp.deletion_message(ebc, [tmp.Deletion("EXPO-1", number)]))
    assert stack.wait_status(deletion.documents[0].id, "approved") == "approved"
    assert stack.wait_status(doc, "withdrawn") == "withdrawn"
    assert _record(stack, "EXPO-1")["operations"] == []

    # refused by customs: a supervising customs it does not know (海关入库失败), with the reason
    bad = tmp.Registration("EXPO-2", values={"customsCode": "9999", "regCustomsCode": "2900"})
    refused = stack.submit(tmp.registration_message(ebc, [bad])).documents[0].id
    assert stack.wait_status(refused, "store_failed") == "store_failed"
    reason = _record(stack, "EXPO-2")["status_info"]
    assert "主管海关代码9999不存在" in reason and "customsCode" in reason
    # 海关入库失败 may be edited and declared again: corrected, it is approved
    fixed = tmp.Registration("EXPO-2", app_type="2")
    stack.submit(tmp.registration_message(ebc, [fixed]))
    assert stack.wait_status(refused, "approved") == "approved"

    # the query: no condition lists both; by status, one
    assert _search(stack)["total"] == 2
    assert [r["cop_no"] for r in _search(stack, status="withdrawn")["records"]] == ["EXPO-1"]


def _detail(stack: Stack, doc_id: int) -> dict[str, Any]:
    with stack.gateway.db.session() as session:
        admin = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
        return queries.detail(session, admin, doc_id)


def _shows_change(view: dict[str, Any]) -> bool:
    """The change's form is applied and customs' TMP102 about it is in the history."""
    told = any("变更1审核通过" in (h["info"] or "") for h in view["receipts"])
    return bool(view["form"]["closeDate"] == "20991231" and told)


def test_a_loaned_exhibit_list_keeps_its_exhibition(make_stack: Callable[..., Stack]) -> None:
    _loan_lifecycle(make_stack().start())


def test_the_loan_list_on_postgresql(make_stack: Callable[..., Stack], pg_url: str) -> None:
    _loan_lifecycle(make_stack(db_url=pg_url).start())


def _loan_lifecycle(stack: Stack) -> None:
    """An approved exhibition and customs' declarations of it (loaded on both sides); a list
    filed and approved by customs with its number; one naming an unknown exhibition refused;
    then the exhibition's deletion application refused, since the list uses it."""
    ebc = stack.ebc
    doc = stack.submit(tmp.registration_message(ebc, [tmp.Registration("EXPO-L")])).documents[0]
    assert stack.wait_status(doc.id, "approved") == "approved"
    number = _record(stack, "EXPO-L")["exhibition_no"]
    rows = declarations.parse(tmp.sample_declarations(number))
    assert stack.sim is not None
    for db, model in ((stack.gateway.db, TmpDeclarationGoods), (stack.sim.db, SimDeclarationGoods)):
        with db.session() as session:
            declarations.load(session, model, rows)

    loan = tmp.LoanList("LOAN-1", number, goods=(tmp.LoanGoods(qty="10"),
                                                 tmp.LoanGoods(ENTRY_2, "1", "2.5")))  # fmt: skip
    listed = stack.submit(tmp.loan_list_message(ebc, loan)).documents[0].id
    assert stack.wait_status(listed, "approved") == "approved"
    assert "stored" in stack.path(listed)
    with stack.gateway.db.session() as session:
        admin = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
        view = loan_queries.detail(session, admin, listed)
    assert view["loan_no"].startswith("WJ2900") and view["exhibition_name"].startswith("2027")
    assert [g["name"] for g in view["goods"]] == ["立式加工中心", "三坐标测量机"]
    assert [r["to"] for r in view["receipts"]] == ["stored", "approved"]

    unknown = tmp.LoanList("LOAN-2", "ZL29002026000000")
    with pytest.raises(InvalidMessage) as info:
        stack.submit(tmp.loan_list_message(ebc, unknown))
    (refusal,) = info.value.violations
    assert refusal.rule == "R-TMP-4" and "exhibitionNo" in refusal.field

    with pytest.raises(InvalidMessage) as info:
        stack.submit(tmp.deletion_message(ebc, [tmp.Deletion("EXPO-L", number)]))
    (refusal,) = info.value.violations
    assert refusal.rule == "R-TMP-3" and "in use: loaned-exhibit list LOAN-1" in refusal.message
    assert stack.status(doc.id) == "approved"
    assert _record(stack, "EXPO-L")["operations"] == ["change"]


def test_a_confirmation_with_its_attachment(make_stack: Callable[..., Stack]) -> None:
    _confirmation_lifecycle(make_stack().start())


def test_the_confirmation_on_postgresql(make_stack: Callable[..., Stack], pg_url: str) -> None:
    _confirmation_lifecycle(make_stack(db_url=pg_url).start())


def _ebc(stack: Stack) -> Caller:
    with stack.gateway.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == stack.ebc.code))
        assert ent is not None
        return Caller(enterprise_id=ent.id, enterprise_code=ent.code)


def _attach(stack: Stack, doc_id: int, name: str, data: bytes) -> dict[str, Any]:
    with stack.gateway.db.session() as session:
        return attachments.add(session, _ebc(stack), doc_id, name, data, utcnow())


def _confirmation_lifecycle(stack: Stack) -> None:
    """An approved exhibition; a confirmation for it saved (G number), a PDF attached, a
    non-PDF named x.pdf and a PDF one byte over 4 MB refused; declared, stored and approved by
    customs with its 确认申请书编号 and remark; one with dates out of order refused by the
    gateway; the exhibition's deletion application refused as used."""
    ebc = stack.ebc
    doc = stack.submit(tmp.registration_message(ebc, [tmp.Registration("EXPO-C")])).documents[0]
    assert stack.wait_status(doc.id, "approved") == "approved"
    number = _record(stack, "EXPO-C")["exhibition_no"]

    draft = tmp.Confirmation("CONF-1", number, app_status="1")
    saved = stack.submit(tmp.confirmation_message(ebc, [draft])).documents[0].id
    assert stack.status(saved) == "saved"
    pdf = pdf_of(4 * 1024 * 1024)
    kept = _attach(stack, saved, "invoice.pdf", pdf)
    assert kept["sha256"] == hashlib.sha256(pdf).hexdigest()
    for name, data in (("x.pdf", b"only a name\n%%EOF\n"), ("big.pdf", pdf_of(len(pdf) + 1))):
        with pytest.raises(InvalidMessage) as info:
            _attach(stack, saved, name, data)
        assert [(v.rule, v.field) for v in info.value.violations] == [("R-COM-6", "attachment")]

    # the file goes to customs (TMP113, signed, over RabbitMQ), which keeps its bytes
    sent = attachments.deliver(stack.gateway, int(kept["id"]), "http", utcnow())
    assert stack.wait_status(sent["document_id"], "stored") == "stored"
    assert stack.sim is not None
    with stack.sim.db.session() as session:
        held = session.get(sim.SimAttachment, (f"{ebc.code}|CONF-1", kept["sha256"]))
        assert held is not None and held.content == pdf
    # one never sent to customs: the declaration naming it cannot be stored there (T503)
    stored_not = tmp.Confirmation("CONF-3", app_status="1")
    conf3 = stack.submit(tmp.confirmation_message(ebc, [stored_not])).documents[0].id
    _attach(stack, conf3, "x.pdf", pdf_of(3000))
    x_digest = hashlib.sha256(pdf_of(3000)).hexdigest()
    other = tmp.Confirmation("CONF-3", app_type="2", documents=(("x.pdf", x_digest),))
    stack.submit(tmp.confirmation_message(ebc, [other]))
    assert stack.wait_status(conf3, "store_failed") == "store_failed"
    with stack.gateway.db.session() as session:
        refused = confirmation_queries.detail(session, _ebc(stack), conf3)
    assert "T503" in refused["status_info"] and x_digest in refused["status_info"], refused

    declared = tmp.Confirmation("CONF-1", number, app_type="2",
                                documents=(("invoice.pdf", kept["sha256"]),))  # fmt: skip
    stack.submit(tmp.confirmation_message(ebc, [declared]))
    assert stack.wait_status(saved, "approved") == "approved"
    assert "stored" in stack.path(saved)
    with stack.gateway.db.session() as session:
        view = confirmation_queries.detail(session, _ebc(stack), saved)
    assert view["pre_entry_no"].startswith("G2900") and view["confirm_no"].startswith("QR2900")
    assert view["review_remarks"].startswith("审核通过") and view["status_name"] == "审核通过"
    assert [a["sha256"] for a in view["attachments"]] == [kept["sha256"]]
    assert [r["to"] for r in view["receipts"]] == ["stored", "approved"]

    # 结案: customs closes it (the simulator's operator command); the query shows the date
    assert stack.sim is not None
    with stack.sim.db.session() as session:
        sim.close(session, f"{ebc.code}|CONF-1", "20270601")
    assert stack.wait_status(saved, "case_closed") == "case_closed"
    with stack.gateway.db.session() as session:
        view = confirmation_queries.detail(session, _ebc(stack), saved)
    assert (view["status_name"], view["close_date"]) == ("结案", "20270601")
    assert view["review_remarks"].startswith("审核通过")  # the review's remark stays

    late = tmp.Confirmation("CONF-2", values={"ieDate": "20270301", "returnDate": "20270301"})
    with pytest.raises(InvalidMessage) as info:
        stack.submit(tmp.confirmation_message(ebc, [late]))
    assert [(v.rule, v.field.split("/")[-1].split(" ")[0]) for v in info.value.violations] == [
        ("R-TMP-5", "returnDate")
    ]

    with pytest.raises(InvalidMessage) as info:
        stack.submit(tmp.deletion_message(ebc, [tmp.Deletion("EXPO-C", number)]))
    (refusal,) = info.value.violations
    assert refusal.rule == "R-TMP-3" and "in use: review confirmation CONF-1" in refusal.message
    assert stack.status(doc.id) == "approved"


def test_a_confirmation_past_its_date_goes_overdue(make_stack: Callable[..., Stack]) -> None:
    _deadline_lifecycle(make_stack().start())


def _deadline_lifecycle(stack: Stack) -> None:
    """R-TMP-7: a confirmation customs approved; the deadline job, driven at chosen times,
    reminds the declarer 7 days before its 复运出/进境日期 (through its notification queue)
    and marks it return_overdue from the first minute after the date, notified too."""
    ebc = stack.ebc
    conf = stack.submit(tmp.confirmation_message(ebc, [tmp.Confirmation("CONF-D")])).documents[0]
    assert stack.wait_status(conf.id, "approved") == "approved"
    with stack.gateway.db.session() as session:
        due = confirmation_queries.detail(session, _ebc(stack), conf.id)["return_date"]
    day = datetime.strptime(due, "%Y%m%d").replace(tzinfo=CHINA_TZ)
    gw = stack.gateway
    run = deadlines.run_deadlines(gw.db, day - timedelta(days=7), gw.notifier, (30, 7, 1))
    assert run.reminded == (f"{ebc.code}|CONF-D",)
    run = deadlines.run_deadlines(gw.db, day + timedelta(days=1), gw.notifier, (30, 7, 1))
    assert run.overdue == (f"{ebc.code}|CONF-D",)
    assert stack.status(conf.id) == "return_overdue"
    seen: list[dict[str, Any]] = []
    wait_value(lambda: _notified(stack, seen), _both_told, 20.0)
    (reminder,) = [n for n in seen if n.get("reminder") == "R-TMP-7"]
    assert (reminder["returnDate"], reminder["lead_days"]) == (due, 7)
    assert reminder["confirmNo"].startswith("QR2900")


def _notified(stack: Stack, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The enterprise's notifications so far, read off its queue (kept in `seen`)."""
    import json

    import pika

    from tests.transport_fixtures import AMQP_URL

    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        queue = stack.gateway.topology.notify_queue(stack.ebc.code)
        while True:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return seen
            seen.append(json.loads(body))
    finally:
        connection.close()


def _both_told(seen: list[dict[str, Any]]) -> bool:
    changes = [c["to"] for n in seen for c in n.get("changes", [])]
    return "return_overdue" in changes and any(n.get("reminder") == "R-TMP-7" for n in seen)


def test_an_extension_moves_the_date(make_stack: Callable[..., Stack]) -> None:
    _extension_lifecycle(make_stack().start())


def test_the_extension_on_postgresql(make_stack: Callable[..., Stack], pg_url: str) -> None:
    _extension_lifecycle(make_stack(db_url=pg_url).start())


def test_overdue_on_postgresql(make_stack: Callable[..., Stack], pg_url: str) -> None:
    _deadline_lifecycle(make_stack(db_url=pg_url).start())


def _extension_lifecycle(stack: Stack) -> None:
    """R-TMP-6/7: an approved confirmation; an extension asking two years past its I/E date
    is approved by customs with the most it allows (I/E date + 1 year), which becomes the
    confirmation's 复运出/进境日期; the deadline job then watches the new date (not overdue
    the day after the old one)."""
    ebc = stack.ebc
    conf = stack.submit(tmp.confirmation_message(ebc, [tmp.Confirmation("CONF-X")])).documents[0]
    assert stack.wait_status(conf.id, "approved") == "approved"
    with stack.gateway.db.session() as session:
        view = confirmation_queries.detail(session, _ebc(stack), conf.id)
    ie = datetime.strptime(view["ie_date"], "%Y%m%d")
    old = view["return_date"]
    asked = (ie + timedelta(days=730)).strftime("%Y%m%d")
    most = (ie + timedelta(days=365)).strftime("%Y%m%d")
    ext = tmp.Extension("EXT-1", view["confirm_no"], asked)
    doc = stack.submit(tmp.extension_message(ebc, [ext])).documents[0].id
    assert stack.wait_status(doc, "approved") == "approved"
    assert "stored" in stack.path(doc)
    with stack.gateway.db.session() as session:
        moved = confirmation_queries.detail(session, _ebc(stack), conf.id)["return_date"]
    assert moved == most
    day_after_old = datetime.strptime(old, "%Y%m%d").replace(tzinfo=CHINA_TZ) + timedelta(days=1)
    gw = stack.gateway
    assert deadlines.run_deadlines(gw.db, day_after_old, gw.notifier, (7,)).overdue == ()
    assert stack.status(conf.id) == "approved"

    unknown = tmp.Extension("EXT-2", "QR29009999000000", asked)
    with pytest.raises(InvalidMessage) as info:
        stack.submit(tmp.extension_message(ebc, [unknown]))
    assert [(v.rule, "confirmNo" in v.field) for v in info.value.violations] == [("R-TMP-6", True)]
