"""Rows of /work/shared/requirements/coverage.md (seeds 003 and 004) that were built but had no
test that would fail without them (issue 16's coverage map, /work/brief/notes/coverage-map.md).
Each test's docstring names its row; each was seen to fail with the code it guards broken."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from gateway.appointments import queries
from gateway.appointments import samples as apt
from gateway.appointments.codes import CHINA_TZ
from gateway.core.enterprises import Caller
from gateway.core.history import Change, Source, record
from gateway.core.models import Document
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.ecx import batches, samples
from gateway.ecx import queries as eq
from gateway.ecx import samples_lists as ecx
from gateway.errors import InvalidMessage
from tests.apt_fixtures import EBC, AptEnv, bj, make_env, rules_of
from tests.stack import PLATFORM, make_config

SATURDAY = "2026-12-05 10:00"  # outside working hours; the lead time is met from AT
AT = "2026-11-20 09:00"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AptEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _request(cop_no: str, **kw: object) -> bytes:
    return apt.request_message(EBC, [apt.Request(cop_no, bj(SATURDAY), **kw)])  # type: ignore[arg-type]


def _field_refused(env: AptEnv, data: bytes, name: str) -> list[str]:
    """The messages of the violations naming head field `name` (R-APT-1 only)."""
    found = env.refused(data, AT)
    assert set(rules_of(found)) == {"R-APT-1"}, found
    return [v.message for v in found if v.field.endswith(f"/{name}")]


# --- seed 003 (预约通关) ---------------------------------------------------------------------


def test_a_save_needs_only_cop_no_and_declarant_code(env: AptEnv) -> None:
    """coverage 003 #4: yellow fields are required to declare, not to save (暂存)."""
    blank = {"contactName": "", "reason": ""}
    saved = env.submit(_request("S1", app_status="1", extra=blank), AT)
    assert saved.documents[0].status == "saved"
    found = env.refused(_request("S2", extra=blank), AT)
    assert sorted((v.rule, v.field.rsplit("/", 1)[-1]) for v in found) == [
        ("R-COM-2", "contactName"),
        ("R-COM-2", "reason"),
    ]


def test_the_consignee_is_a_10_digit_code_and_its_name_is_looked_up(env: AptEnv) -> None:
    """coverage 003 #12: 收发货人 is typed in as its 10-digit customs code; the rest is looked
    up (the name kept with the appointment)."""
    messages = _field_refused(env, _request("K1", consignee="110191910"), "consigneeCode")
    assert any("10-digit" in m for m in messages)
    env.submit(_request("K2"), AT)
    with env.db.session() as s:
        (row,) = queries.search(s, Caller(1, EBC.code), enterprise_type="A")
    consignee = (row["consignee_code"], row["consignee_name"])
    assert consignee == ("1101919107", "中国山货花卉进出口公司")


@pytest.mark.parametrize("mobile", ["1390571000", "139057100011", "23905710001", "1390571000a"])
def test_the_contact_mobile_is_an_11_digit_number(env: AptEnv, mobile: str) -> None:
    """coverage 003 #13: 联系人手机 (the project's format: 1 and ten digits)."""
    messages = _field_refused(env, _request("M1", extra={"contactMobile": mobile}), "contactMobile")
    assert messages == ["must be an 11-digit mobile no."]


def test_the_transport_mode_is_from_the_code_list(env: AptEnv) -> None:
    """coverage 003 #15: 运输方式 from the customs code list (0-9)."""
    env.submit(_request("T0", traf_mode="9"), AT)
    assert _field_refused(env, _request("T1", traf_mode="A"), "trafMode") == [
        "is not a transport mode code (0-9)"
    ]


def test_the_reason_is_at_most_500_bytes(env: AptEnv) -> None:
    """coverage 003 #17: 预约通关事由 with its byte counter; 500 bytes in GB18030 (250 Chinese
    characters) is the project's limit, the XSD allows 1,000 characters."""
    env.submit(_request("R1", reason="夜" * 250), AT)
    (message,) = _field_refused(env, _request("R2", reason="夜" * 250 + "a"), "reason")
    assert "501 bytes" in message


def test_the_ie_flag_is_import_or_export(env: AptEnv) -> None:
    """coverage 003 #18: 进出口标识 进口 (I) / 出口 (E)."""
    env.submit(_request("F1", ie_flag="E"), AT)
    assert _field_refused(env, _request("F2", ie_flag="X"), "ieFlag") == [
        "must be I (import) or E (export)"
    ]


def test_goods_line_numbers_run_from_one(env: AptEnv) -> None:
    """coverage 003 #20: 序号 is filled by the system; sent, it must run 1, 2, 3…"""
    data = _request("G1", goods=[("0603110000", "鲜的玫瑰"), ("0603190000", "鲜的菊花")])
    data = data.replace(b"<apt:gnum>2</apt:gnum>", b"<apt:gnum>3</apt:gnum>")
    found = env.refused(data, AT)
    assert [(v.rule, v.field.rsplit("/", 1)[-1], v.value) for v in found] == [
        ("R-APT-1", "gnum", "3")
    ]


def test_a_goods_name_is_required(env: AptEnv) -> None:
    """coverage 003 #22: 商品名称 (filled from the HS code on screen, editable) must not be
    empty; the XSD lets an empty one through."""
    found = env.refused(_request("N1", goods=[("0603110000", "")]), AT)
    assert [(v.rule, v.field.rsplit("/", 1)[-1]) for v in found] == [("R-COM-2", "goodsName")]


def test_the_enterprise_type_is_a_or_b(env: AptEnv) -> None:
    """coverage 003 #46: 企业类别 is A-申请单位 or B-收发货人, nothing else."""
    with env.db.session() as s, pytest.raises(InvalidMessage) as info:
        queries.search(s, Caller(1, EBC.code), enterprise_type="C")
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-APT-10", "type")]


def test_the_result_columns_of_the_manual(env: AptEnv) -> None:
    """coverage 003 #53: 预录入编号, 申报人名称, 收发货人名称, 申请时间, 预约时间, 状态."""
    env.request("C1", SATURDAY, AT)
    with env.db.session() as s:
        (row,) = queries.search(s, Caller(1, EBC.code), enterprise_type="A")
    assert row["pre_no"] and row["status"] == "pending_sign"
    assert (row["declarant_name"], row["consignee_name"]) == (EBC.name, "中国山货花卉进出口公司")
    assert row["applied_at"] == bj(AT).isoformat()
    assert row["start"] == bj(SATURDAY).isoformat()


# --- seed 004 (跨境电商出口) -----------------------------------------------------------------

JAN = datetime(2026, 1, 15, 10, 0, tzinfo=CHINA_TZ)
JAN_WINDOW = eq.ExportFilter(
    entry_from=datetime(2026, 1, 1, tzinfo=CHINA_TZ), entry_to=datetime(2026, 2, 1, tzinfo=CHINA_TZ)
)


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    """A gateway over a real SQLite store, no broker."""
    gateway = Gateway(make_config(tmp_path, keys_dir, prefix="coverage."))
    gateway.prepare(broker=False)
    yield gateway
    gateway.db.dispose()


def _parties(gw: Gateway) -> tuple[samples.Party, samples.Party]:
    e, c = gw.config.enterprises[:2]
    return samples.Party(e.code, e.name, e.dxp_id), samples.Party(c.code, c.name, c.dxp_id)


def _caller(gw: Gateway, party: samples.Party) -> Caller:
    from gateway.core import enterprises

    with gw.db.session() as session:
        return Caller(enterprise_id=enterprises.by_code(session, party.code).id,
                      enterprise_code=party.code)  # fmt: skip


def _stored_in_january(gw: Gateway, doc_id: int) -> None:
    with gw.db.session() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        record(session, doc, Change(Status.STORED, Source.CUSTOMS, "test"), None)
        doc.created_at = JAN


def _listed(gw: Gateway, caller: Caller, name: str, group: str) -> list[int]:
    flt = eq.ExportFilter(group=group, entry_from=JAN_WINDOW.entry_from,
                          entry_to=JAN_WINDOW.entry_to)  # fmt: skip
    with gw.db.session() as session:
        return [i["id"] for i in eq.search(session, caller, name, flt)["items"]]


def test_arrivals_departures_and_total_sub_waybill_lists_are_queryable(gw: Gateway) -> None:
    """coverage 004 #15 (运抵单申报: the saved arrivals to declare), #18/#19, #20/#21
    (未审结/已审结离境单查询) and #43 (清单总分单查询): the logistics enterprise's saved
    records, then unconcluded until customs stores them (120), then concluded."""
    ebc, carrier = _parties(gw)
    nos = samples.logistics_numbers(2, start=981)
    parcels = [ecx.Parcel(o, n, ebc=ebc, ebp=PLATFORM, carrier=carrier)
               for o, n in zip(samples.order_numbers(2, start=981), nos, strict=True)]  # fmt: skip
    sent = {
        "arrivals": lambda s: ecx.arrival_message(carrier, nos, ecx.Batch("AR981"),
                                                  carrier=carrier, app_status=s),
        "departures": lambda s: ecx.departure_message(carrier, nos, ecx.Batch("DP981"),
                                                      app_status=s),
        "waybill_totals": lambda s: ecx.waybill_list_message(carrier, parcels, ecx.Batch("WB981"),
                                                             carrier=carrier, app_status=s),
    }  # fmt: skip
    me = _caller(gw, carrier)
    for name, message in sent.items():
        doc_id = gw.intake.submit(carrier.code, message("1"), "test").documents[0].id
        with gw.db.session() as session:
            session.get(Document, doc_id).created_at = JAN  # type: ignore[union-attr]
        assert _listed(gw, me, name, "saved") == [doc_id], name
        assert _listed(gw, me, name, "unconcluded") == [], name
        gw.intake.submit(carrier.code, message("2"), "test")
        assert _listed(gw, me, name, "saved") == [], name
        assert _listed(gw, me, name, "unconcluded") == [doc_id], name
        assert _listed(gw, me, name, "concluded") == [], name
        _stored_in_january(gw, doc_id)
        assert _listed(gw, me, name, "concluded") == [doc_id], name
        assert _listed(gw, _caller(gw, ebc), name, "concluded") == [], name


def test_saved_revokes_returns_and_summaries_are_batch_declared_and_deleted(gw: Gateway) -> None:
    """coverage 004 #39 (撤销申请单 批量申报/批量删除), #46 (退货单) and #52 (汇总申请单):
    the export batches take these kinds too, each record with its own outcome."""
    ebc, _carrier = _parties(gw)
    me = _caller(gw, ebc)

    def saved(n: int) -> list[int]:
        invt = ecx.inventory_numbers(1, start=990 + n)
        (order,), (no,) = (f(1, start=990 + n) for f in (samples.order_numbers,
                                                          samples.logistics_numbers))  # fmt: skip
        parcel = ecx.Parcel(order, no, ebc=ebc, ebp=PLATFORM, invt_no=invt[0])
        messages = (
            ecx.invt_cancel_message(ebc, [parcel], app_status="1"),
            ecx.refund_message(ebc, [parcel], app_status="1"),
            ecx.summary_message(ebc, invt, ecx.Batch(f"SA99{n}"), ebc=ebc, app_status="1"),
        )
        return [gw.intake.submit(ebc.code, m, "test").documents[0].id for m in messages]

    for action, n, status in ((batches.DECLARE, 1, "pending_sign"), (batches.DELETE, 2, "deleted")):
        ids = saved(n)
        report = batches.run(gw.intake, me, action, ids)
        got = [(o.id, o.ok, o.status) for o in report.outcomes]
        assert got == [(i, True, status) for i in ids], report
