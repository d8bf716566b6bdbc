"""Tenants (issue 11, finding 3): a record's party codes are the declarer's own or delegated
(R-COM-3), and keys that name no enterprise (copNo + msgSeqNo) are unique per owner, with
customs' receipts correlated to the enterprise they are addressed to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from gateway.codes import EXPORT_RECEIVER_ID
from gateway.core import delegations
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from gateway.ecx import samples_lists as lists
from gateway.errors import DuplicateDocument, InvalidMessage, StateConflict
from receipts.build import build_receipt
from tests.stack import make_config
from transports.envelope import wrap

CEB = "{http://www.chinaport.gov.cn/ceb}"


def _gateway(base: Path, keys: Path, db_url: str | None = None) -> Gateway:
    gw = Gateway(make_config(base, keys, prefix="tenants.", db_url=db_url))
    gw.prepare(broker=False)
    return gw


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    made = _gateway(tmp_path, keys_dir)
    yield made
    made.db.dispose()


def _party(gw: Gateway, n: int) -> samples.Party:
    e = gw.config.enterprises[n]
    return samples.Party(e.code, e.name, e.dxp_id)


def _sent_by(data: bytes, sender: samples.Party, guid: str) -> bytes:
    """The same records, transmitted by `sender` (BaseTransfer) under a new message guid."""
    root = etree.fromstring(data)
    root.set("guid", guid)
    transfer = root.find(f"{CEB}BaseTransfer")
    assert transfer is not None
    for name, value in (("copCode", sender.code), ("copName", sender.name)):
        transfer.find(f"{CEB}{name}").text = value  # type: ignore[union-attr]
    transfer.find(f"{CEB}dxpId").text = sender.dxp_id  # type: ignore[union-attr]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _refusal(gw: Gateway, code: str, data: bytes) -> list[tuple[str, str]]:
    with pytest.raises((InvalidMessage, DuplicateDocument, StateConflict)) as info:
        gw.intake.submit(code, data, "test")
    return [(v.rule, v.field) for v in info.value.violations]  # type: ignore[union-attr]


GUID_B = "B0000000-0000-4000-8000-000000000001"


def test_b_cannot_declare_with_as_ebc_code_and_as_own_order_still_goes_through(
    gw: Gateway,
) -> None:
    a, b = _party(gw, 0), _party(gw, 1)
    order_no = "EO2026120400001"
    # B names itself as the platform, A as the e-commerce enterprise of A's order number.
    squat = _sent_by(samples.order_message(a, b, [order_no]), b, GUID_B)
    refused = _refusal(gw, b.code, squat)
    assert refused == [("R-COM-3", f"Order(ebcCode={a.code}, orderNo={order_no})/ebcCode")]
    own = gw.intake.submit(a.code, samples.order_message(a, b, [order_no]), "test")
    assert not own.duplicate and own.documents[0].business_key == f"{a.code}|{order_no}"


def test_a_delegation_lets_b_declare_for_a(gw: Gateway) -> None:
    a, b = _party(gw, 0), _party(gw, 1)
    squat = _sent_by(samples.order_message(a, b, ["EO2026120400002"]), b, GUID_B)
    with gw.db.session() as session:
        assert delegations.add(session, b.code, a.code, by="test")
    accepted = gw.intake.submit(b.code, squat, "test")
    assert accepted.documents[0].business_key == f"{a.code}|EO2026120400002"
    with gw.db.session() as session:
        assert delegations.remove(session, b.code, a.code)
    again = _sent_by(samples.order_message(a, b, ["EO2026120400003"]), b, GUID_B[:-1] + "2")
    assert _refusal(gw, b.code, again)[0][0] == "R-COM-3"


def test_the_declarer_must_be_one_of_the_parties_of_an_arrival(gw: Gateway) -> None:
    a, b = _party(gw, 0), _party(gw, 1)
    # Operator A, carrier A: B is neither (the key copNo + msgSeqNo names no one).
    data = _sent_by(lists.arrival_message(a, ["YT1"], lists.Batch("ARR-1"), carrier=a), b, GUID_B)
    assert _refusal(gw, b.code, data) == [
        ("R-COM-3", "Arrival(copNo=ARR-1, msgSeqNo=1)/operatorCode|logisticsCode")
    ]


# --- per-owner keys ---------------------------------------------------------------------------


def _arrival_return(operator: samples.Party, cop_no: str, status: str) -> bytes:
    entity = {
        "operatorCode": operator.code, "logisticsCode": lists.DEMO_LOGISTICS.code,
        "preNo": "299120260000000001", "copNo": cop_no, "billNo": lists.DEMO_TRIP.bill_no,
        "msgSeqNo": "1", "returnStatus": status, "returnInfo": "[Code:1800;Desc:逻辑校验通过]",
    }  # fmt: skip
    return build_receipt("CEB508Message", [entity])


def _to(receipt: bytes, receiver: samples.Party) -> bytes:
    return wrap(
        receipt, msg_type="CEB508Message", sender_id=EXPORT_RECEIVER_ID,
        receiver_ids=(receiver.dxp_id,),
    ).body  # fmt: skip


def _two_owners_one_key(gw: Gateway) -> None:
    a, b = _party(gw, 0), _party(gw, 1)
    batch = lists.Batch("ARR20261204001")
    doc_a = gw.intake.submit(a.code, lists.arrival_message(a, ["YT1"], batch), "test")
    doc_b = gw.intake.submit(b.code, lists.arrival_message(b, ["YT2"], batch), "test")
    ids = doc_a.documents[0].id, doc_b.documents[0].id
    assert doc_a.documents[0].business_key == doc_b.documents[0].business_key
    gw.signer.run_once()  # signed: as far as the gateway goes without a broker
    outcome = gw.receipts.handle_envelope(_to(_arrival_return(a, batch.cop_no, "120"), a))
    assert outcome.outcome == "matched"
    assert _statuses(gw, ids) == ["stored", "signed"]
    outcome = gw.receipts.handle_envelope(_to(_arrival_return(b, batch.cop_no, "100"), b))
    assert outcome.outcome == "matched"
    assert _statuses(gw, ids) == ["stored", "returned"]


def _statuses(gw: Gateway, ids: tuple[int, ...]) -> list[str]:
    from gateway.core.models import Document

    with gw.db.session() as session:
        return [session.get_one(Document, i).status for i in ids]


def test_two_enterprises_declare_one_arrival_key_and_each_gets_its_receipts(gw: Gateway) -> None:
    _two_owners_one_key(gw)


def test_per_owner_keys_on_postgresql(tmp_path: Path, keys_dir: Path, pg_url: str) -> None:
    gw = _gateway(tmp_path, keys_dir, pg_url)
    try:
        _two_owners_one_key(gw)
    finally:
        gw.db.dispose()


def test_a_receipt_never_reaches_another_owners_record(gw: Gateway) -> None:
    a, b = _party(gw, 0), _party(gw, 1)
    batch = lists.Batch("ARR20261204002")
    doc_a = gw.intake.submit(a.code, lists.arrival_message(a, ["YT1"], batch), "test")
    gw.signer.run_once()
    ids = (doc_a.documents[0].id,)
    # Addressed to B, who has no record of this key: A's record is not touched.
    to_b = gw.receipts.handle_envelope(_to(_arrival_return(a, batch.cop_no, "100"), b))
    assert to_b.outcome == "unmatched" and _statuses(gw, ids) == ["signed"]
    # Both hold the key and the receipt names no addressee: neither record is guessed.
    gw.intake.submit(b.code, lists.arrival_message(b, ["YT2"], batch), "test")
    gw.signer.run_once()
    unaddressed = gw.receipts.handle(_arrival_return(a, batch.cop_no, "120"))
    assert unaddressed.outcome == "unmatched" and _statuses(gw, ids) == ["signed"]


def test_another_owners_key_looks_like_a_key_that_does_not_exist(gw: Gateway) -> None:
    a, b = _party(gw, 0), _party(gw, 1)
    gw.intake.submit(a.code, lists.arrival_message(a, ["YT1"], lists.Batch("ARR-A")), "test")
    taken = lists.arrival_message(b, ["YT1"], lists.Batch("ARR-A"), app_type="2")
    never = lists.arrival_message(b, ["YT1"], lists.Batch("ARR-NONE"), app_type="2")
    with pytest.raises(StateConflict) as on_taken:
        gw.intake.submit(b.code, taken, "test")
    with pytest.raises(StateConflict) as on_never:
        gw.intake.submit(b.code, never, "test")
    assert [v.message for v in on_taken.value.violations] == [
        v.message for v in on_never.value.violations
    ]


# --- managing delegations -----------------------------------------------------------------------


def test_delegations_by_admin_api_only(gw: Gateway) -> None:
    from fastapi.testclient import TestClient

    from gateway.core.api import create_app
    from tests.stack import EBC_KEY

    a, b = _party(gw, 0), _party(gw, 1)
    admin = {"X-API-Key": "test-admin-key"}
    body = {"enterprise": b.code, "party_code": a.code}
    with TestClient(create_app(gw)) as client:
        url = "/v1/admin/delegations"
        assert client.post(url, json=body, headers={"X-API-Key": EBC_KEY}).status_code == 401
        assert client.post(url, json=body, headers=admin).status_code == 201
        listed = client.get(url, params={"enterprise": b.code}, headers=admin).json()
        assert [(d["enterprise"], d["party_code"]) for d in listed] == [(b.code, a.code)]
        squat = _sent_by(samples.order_message(a, b, ["EO2026120400010"]), b, GUID_B)
        assert gw.intake.submit(b.code, squat, "test").documents
        assert client.delete(f"{url}/{b.code}/{a.code}", headers=admin).status_code == 200
        assert client.delete(f"{url}/{b.code}/{a.code}", headers=admin).status_code == 404
        assert client.get(url, headers=admin).json() == []


def test_delegations_by_command_line(tmp_path: Path, keys_dir: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from gateway.core.cli import main
    from tests.stack import raw_config

    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="t."), allow_unicode=True)
    )
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="t."))
    gw.prepare(broker=False)

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), "delegations", *args])
        assert result.exit_code == 0, result.output
        return result.output

    run("add", "3301980W02", "3301960Z01")
    assert '"party_code": "3301960Z01"' in run("list", "--enterprise", "3301980W02")
    run("remove", "3301980W02", "3301960Z01")
    assert run("list").strip().endswith("0 delegation(s)")
    gw.db.dispose()
