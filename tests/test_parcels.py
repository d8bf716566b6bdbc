"""Many parcels at once (R-ECX-3, R-ECX-4, R-ECX-6; gateway/parcels.py): a head and thousands
of parcels split over messages with one copNo and msgCount/msgSeqNo, valid against the XSDs
and the business checks; the intake checks of such messages (gateway/ecx/checks.py); and a
2,500-parcel arrival that reaches customs over the real RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from gateway.codes import CEB_NS
from gateway.core import checks
from gateway.core.api import create_app
from gateway.core.intake import check
from gateway.ecx import parcels, samples
from gateway.ecx import samples_lists as ecx
from gateway.errors import InvalidMessage, Violation
from gateway.xmlsafe import parse
from schemas import validate
from tests.stack import CARRIER_KEY, EBC_KEY, Stack

SENDER = parcels.Sender("3301960J88", "杭州综保跨境监管仓储有限公司", "DXPENT0000702356")
ARRIVAL_HEAD = {
    "customsCode": "2991", "copNo": "AR20261122001", "operatorCode": "3301960J88",
    "operatorName": "杭州综保跨境监管仓储有限公司", "loctNo": "2991W00001", "ieFlag": "E",
    "trafMode": "4", "billNo": "784-20261122", "domesticTrafNo": "浙A·7F352",
    "logisticsCode": "3301980L07", "logisticsName": "杭州速达国际物流有限公司",
}  # fmt: skip
DEPARTURE_HEAD = {
    "customsCode": "2991", "copNo": "DP20261122001", "logisticsCode": "3301980L07",
    "logisticsName": "杭州速达国际物流有限公司", "trafMode": "5", "trafName": "CZ3081",
    "voyageNo": "CZ3081/22NOV", "billNo": "784-20261122", "leaveTime": "20261122160000",
}  # fmt: skip
WAYBILL_HEAD = {
    "customsCode": "2991", "copNo": "WB20261122001", "agentCode": "3301980B15",
    "agentName": "杭州关通报关有限公司", "trafMode": "5", "trafName": "CZ3081",
    "voyageNo": "CZ3081/22NOV", "billNo": "784-20261122", "grossWeight": "3120.5",
    "logisticsCode": "3301980L07", "logisticsName": "杭州速达国际物流有限公司",
}  # fmt: skip
HEADS = {"arrival": ARRIVAL_HEAD, "departure": DEPARTURE_HEAD, "waybill_total": WAYBILL_HEAD}


def _q(name: str) -> str:
    return f"{{{CEB_NS}}}{name}"


def _texts(root: etree._Element, name: str) -> list[str]:
    return [e.text or "" for e in root.iter(_q(name))]


def _split(
    kind: str, items: list[Any], per: int = parcels.DEFAULT_PER_MESSAGE
) -> list[parcels.Part]:
    return parcels.split(parcels.SHAPES[kind], SENDER, HEADS[kind], items, per_message=per)


# --- splitting ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["arrival", "departure", "waybill_total"])
def test_5000_parcels_become_valid_numbered_messages_losing_none(kind: str) -> None:
    nos = samples.logistics_numbers(5000, start=100_001)
    items = [{"logisticsNo": n, "totalPackageNo": "784-20261122"} for n in nos]
    parts = _split(kind, items)
    assert len(parts) == 5 and [p.msg_seq_no for p in parts] == [1, 2, 3, 4, 5]
    seen: list[str] = []
    for part in parts:
        root = parse(part.data).getroot()
        assert validate(root) == []  # the XSD of the kind (R-COM-1)
        assert checks.check_message(root) == []  # and the business checks
        assert check(part.data).kind.name == kind
        assert _texts(root, "copNo") == [HEADS[kind]["copNo"]]  # one batch, one copNo
        assert _texts(root, "msgCount") == ["5"]  # R-ECX-3: every part knows the count
        assert _texts(root, "msgSeqNo") == [str(part.msg_seq_no)]
        assert _texts(root, "gnum") == [str(n) for n in range(1, 1001)]  # restarts per part
        seen += _texts(root, "logisticsNo")
    assert seen == nos  # none lost, none repeated, in the caller's order


def test_the_limit_per_message_is_configurable_and_the_last_part_takes_the_rest() -> None:
    nos = samples.logistics_numbers(5000, start=200_001)
    parts = _split("arrival", nos, per=750)
    assert [p.parcels for p in parts] == [750] * 6 + [500]
    assert {_texts(parse(p.data).getroot(), "msgCount")[0] for p in parts} == {"7"}
    assert [p.first for p in parts] == [750 * n for n in range(7)]


def test_a_batch_that_fits_is_one_message_and_every_message_gets_new_guids() -> None:
    first, again = _split("arrival", ["YT1", "YT2"]), _split("arrival", ["YT1", "YT2"])
    assert len(first) == 1 and first[0].msg_count == 1
    one, two = (parse(p[0].data).getroot() for p in (first, again))
    assert one.get("guid") != two.get("guid")
    assert _texts(one, "guid") != _texts(two, "guid")


def test_worst_case_lines_keep_a_message_far_under_the_size_limit() -> None:
    """The reason for the default of 1,000: the longest lines the XSD allows (a note of
    1,000 Chinese characters) still make a message under 4 MB, against 10 MB allowed."""
    long_note = "包" * 1000
    items = [
        {"logisticsNo": f"YT{n:030d}", "totalPackageNo": "T" * 60, "invtNo": f"{n:020d}",
         "note": long_note}
        for n in range(1000)
    ]  # fmt: skip
    (part,) = _split("waybill_total", items)
    assert len(part.data) < 4 * 1024 * 1024 < samples_limit()
    assert validate(parse(part.data, max_bytes=samples_limit()).getroot()) == []


def samples_limit() -> int:
    from gateway.core.config import IntakeConfig

    return IntakeConfig.max_bytes


# --- refusals in the caller's terms ------------------------------------------------------------


def _refused(call: Callable[[], object]) -> list[Violation]:
    with pytest.raises(InvalidMessage) as err:
        call()
    return err.value.violations


def test_a_parcel_twice_in_a_batch_is_refused_even_across_parts() -> None:
    nos = samples.logistics_numbers(1500, start=300_001)
    nos[1400] = nos[3]  # part 2 repeats a parcel of part 1: intake alone could not see it
    (v,) = _refused(lambda: _split("arrival", nos))
    assert (v.rule, v.field, v.value) == ("R-ECX-3.duplicate", "parcels[1400].logisticsNo", nos[3])
    assert "parcels[3]" in v.message


def test_the_gateway_numbers_the_parts_itself() -> None:
    head = {**ARRIVAL_HEAD, "msgCount": "9", "msgSeqNo": "1", "colour": "red"}
    found = {(v.field, v.rule) for v in _refused(lambda: parcels.split(
        parcels.SHAPES["arrival"], SENDER, head, ["YT1"]))}  # fmt: skip
    assert found == {
        ("head.msgCount", "R-ECX-3.seq"),
        ("head.msgSeqNo", "R-ECX-3.seq"),
        ("head.colour", "R-COM-1"),
    }


def test_an_unknown_parcel_field_and_a_bad_limit_are_refused() -> None:
    (v,) = _refused(lambda: _split("departure", [{"logisticsNo": "YT1", "weight": "2"}]))
    assert (v.field, v.rule) == ("parcels[0].weight", "R-COM-1")
    (v,) = _refused(lambda: _split("departure", ["YT1"], per=0))
    assert (v.field, v.rule) == ("parcels_per_message", "R-ECX-3")


def test_part_errors_are_reported_as_head_and_parcel_fields() -> None:
    """XSD and business-check paths inside a part become the caller's own field names."""
    nos = samples.logistics_numbers(2500, start=400_001)
    nos[2345] = "Y" * 40  # too long (C..32), in the third part
    head = {**ARRIVAL_HEAD, "operatorName": ""}  # mandatory (R-COM-2)
    shape = parcels.SHAPES["arrival"]
    parts = parcels.split(shape, SENDER, head, nos)
    found = {(v.field, v.rule) for v in _refused(lambda: parcels.check_parts(parts, shape, 10**7))}
    # the head's problem is reported once, not once per part
    assert found == {("head.operatorName", "R-COM-2"), ("parcels[2345].logisticsNo", "R-COM-1")}


# --- intake checks of such messages (gateway/ecx/checks.py) --------------------------------------


def test_intake_refuses_a_sequence_number_beyond_the_count() -> None:
    (part,) = _split("arrival", ["YT1", "YT2"])
    bad = part.data.replace(b"<ceb:msgSeqNo>1<", b"<ceb:msgSeqNo>2<")
    (v,) = _refused(lambda: check(bad))
    assert v.rule == "R-ECX-3.seq" and v.field.endswith("ArrivalHead/msgSeqNo")
    assert "msgCount" in v.message and v.value == "2"


def test_intake_refuses_a_parcel_twice_in_one_message_even_in_two_records() -> None:
    """A message may carry several records (up to 100): a parcel is still counted once."""
    first = ecx.arrival_message(ecx.DEMO_OPERATOR, ["YT1", "YT2"], ecx.Batch("AR9", 2, 1))
    second = ecx.arrival_message(ecx.DEMO_OPERATOR, ["YT3", "YT1"], ecx.Batch("AR9", 2, 2))
    root = parse(first).getroot()
    root.insert(1, parse(second).getroot().find(_q("Arrival")))
    (v,) = _refused(lambda: check(etree.tostring(root)))
    assert v.rule == "R-ECX-3.duplicate" and v.value == "YT1"
    assert v.field == "Arrival[2]/ArrivalList[2]/logisticsNo"
    assert "物流运单编号" in v.message  # named in the standard's terms too


def test_intake_refuses_an_inventory_list_twice_in_one_total_sub_waybill() -> None:
    items = [{"logisticsNo": "YT1", "invtNo": "29912026E000000001"},
             {"logisticsNo": "YT2", "invtNo": "29912026E000000001"}]  # fmt: skip
    (v,) = _refused(lambda: _split("waybill_total", items))  # the batch check
    assert (v.field, v.rule) == ("parcels[1].invtNo", "R-ECX-3.duplicate")
    (part,) = _split("waybill_total", [items[0], {**items[1], "invtNo": "29912026E000000002"}])
    bad = part.data.replace(b"E000000002", b"E000000001")
    (v,) = _refused(lambda: check(bad))  # and intake's
    assert v.rule == "R-ECX-3.duplicate" and v.field.endswith("WayBillList[2]/invtNo")


# --- over the real broker -----------------------------------------------------------------


@pytest.mark.integration
def test_a_2500_parcel_arrival_is_split_and_every_part_reaches_stored(stack: Stack) -> None:
    """R-ECX-3 through the HTTP API: 3 messages, each signed, sent, stored by customs."""
    nos = samples.logistics_numbers(2500, start=500_001)
    head = {**ARRIVAL_HEAD, "operatorCode": stack.carrier.code,
            "operatorName": stack.carrier.name}  # fmt: skip
    with TestClient(create_app(stack.gateway)) as client:
        resp = client.post("/v1/parcels/arrival", json={"head": head, "parcels": nos},
                           headers={"X-API-Key": CARRIER_KEY})  # fmt: skip
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["msgCount"], body["stored"], body["parcels"]) == (3, 3, 2500)
    assert [p["parcels"] for p in body["parts"]] == [1000, 1000, 500]
    docs = [d for p in body["parts"] for d in p["documents"]]
    assert [d["business_key"] for d in docs] == [f"{head['copNo']}|{n}" for n in (1, 2, 3)]
    for doc in docs:
        assert stack.wait_status(doc["id"], "stored", timeout=60) == "stored"
        assert stack.view(doc["id"])["customs_numbers"]["preNo"]


@pytest.mark.integration
def test_a_part_already_declared_is_refused_alone(stack: Stack) -> None:
    """Each part is its own record (copNo, msgSeqNo): a batch sent again is refused part by
    part (R-COM-5), and a refused body names the parcel at fault (R-ECX-3)."""
    head = {**WAYBILL_HEAD, "agentCode": stack.carrier.code, "agentName": stack.carrier.name}
    nos = samples.logistics_numbers(3, start=600_001)
    first = parcels.submit(stack.gateway.intake, stack.carrier.code, "waybill_total", head, nos,
                           per_message=2)  # fmt: skip
    assert [p.error for p in first.parts] == [None, None]
    again = parcels.submit(stack.gateway.intake, stack.carrier.code, "waybill_total", head, nos,
                           per_message=2)  # fmt: skip
    assert [p.error["error"] for p in again.parts if p.error] == ["DuplicateDocument"] * 2
    with TestClient(create_app(stack.gateway)) as client:
        resp = client.post("/v1/parcels/waybill_total",
                           json={"head": head, "parcels": [nos[0], nos[0]]},
                           headers={"X-API-Key": CARRIER_KEY})  # fmt: skip
        assert resp.status_code == 422
        (v,) = resp.json()["violations"]
        assert (v["field"], v["rule"]) == ("parcels[1].logisticsNo", "R-ECX-3.duplicate")
        other = client.post("/v1/parcels/arrival?enterprise=" + stack.carrier.code,
                            json={"head": head, "parcels": nos},
                            headers={"X-API-Key": EBC_KEY})  # fmt: skip
        assert other.status_code == 401  # an enterprise sends for itself only
