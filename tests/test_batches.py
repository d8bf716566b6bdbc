"""Batch declare and batch delete (R-ECX-3, R-COM-2, R-COM-5; gateway/batches.py): many saved
records re-issued from their stored originals through intake, each with its own outcome."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import etree

from gateway.codes import CEB_NS
from gateway.core.api import create_app
from gateway.core.cli import main as cli
from gateway.core.enterprises import Caller
from gateway.core.models import Document
from gateway.core.runtime import Gateway
from gateway.ecx import batches, samples
from gateway.ecx import samples_lists as ecx
from gateway.xmlsafe import parse
from schemas import validate
from tests.stack import CARRIER_KEY, EBC_KEY, PLATFORM, Stack, declare_documents, raw_config


def _parcels(stack: Any, orders: list[str], nos: list[str]) -> list[ecx.Parcel]:
    return [
        ecx.Parcel(o, n, ebc=stack.ebc, ebp=PLATFORM, carrier=stack.carrier)
        for o, n in zip(orders, nos, strict=True)
    ]


def _ids(result: Any) -> list[int]:
    return [d.id for d in result.documents]


def _post(client: TestClient, action: str, ids: list[int], key: str = EBC_KEY) -> dict[str, Any]:
    resp = client.post(f"/v1/batches/{action}", json={"ids": ids}, headers={"X-API-Key": key})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _by_id(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in report["results"]}


# --- over the real broker -----------------------------------------------------------------

#: customs took the list: stored (120) or one of the lifecycle steps after it (R-ECX-5)
ACCEPTED = {"stored", "manual_review", "inspection", "concluded"}


@pytest.mark.integration
def test_batch_declare_of_saved_inventories_reaches_stored(stack: Stack) -> None:
    orders = samples.order_numbers(3, start=911)
    nos = samples.logistics_numbers(3, start=911)
    others = declare_documents(stack, orders, nos)  # customs compares with these (R-ECX-2)
    found = _parcels(stack, orders, nos)
    saved = _ids(stack.submit(ecx.inventory_message(stack.ebc, found[:2], app_status="1")))
    saved += _ids(stack.submit(ecx.inventory_message(stack.ebc, found[2:], app_status="1")))
    assert {stack.status(n) for n in saved} == {"saved"}
    stored_order = others[0]  # the enterprise's order, stored by customs already
    with TestClient(create_app(stack.gateway)) as client:
        report = _post(client, "declare", [*saved, stored_order, 999_999])
    results = _by_id(report)
    assert (report["requested"], report["done"], report["refused"]) == (5, 3, 2)
    assert all(results[n]["ok"] and results[n]["status"] == "pending_sign" for n in saved)
    # two saved messages, one declaration: one signature for the three (R-COM-1.count)
    assert len({results[n]["message_id"] for n in saved}) == 1
    (refusal,) = results[stored_order]["violations"]
    assert refusal["rule"] == "R-COM-5" and "stored" in refusal["message"]
    assert not results[999_999]["ok"] and "no document" in results[999_999]["error"]
    for doc_id in saved:
        # stored (120), then customs goes on to conclude it (R-ECX-5): any of them will do
        assert stack.wait_status(doc_id, ACCEPTED, timeout=30) in ACCEPTED
        versions = stack.view(doc_id)["versions"]
        assert [(v["app_type"], v["app_status"]) for v in versions] == [("1", "1"), ("1", "2")]
        assert versions[0]["record_guid"] != versions[1]["record_guid"]


@pytest.mark.integration
def test_batch_delete_deletes_what_it_may_and_refuses_a_stored_record(stack: Stack) -> None:
    code = stack.carrier.code
    nos = samples.logistics_numbers(4, start=921)

    def arrival(cop: str, parcels: list[str], status: str) -> list[int]:
        data = ecx.arrival_message(stack.carrier, parcels, ecx.Batch(cop), app_status=status,
                                   carrier=stack.carrier)  # fmt: skip
        return _ids(stack.submit(data, code))

    saved = arrival("AR921", nos[:2], "1") + arrival("AR922", nos[2:3], "1")
    (declared,) = arrival("AR923", nos[3:], "2")
    assert stack.wait_status(declared, "stored") == "stored"
    with TestClient(create_app(stack.gateway)) as client:
        report = _post(client, "delete", [*saved, declared], key=CARRIER_KEY)
        again = _post(client, "delete", saved, key=CARRIER_KEY)
    results = _by_id(report)
    assert (report["done"], report["refused"]) == (2, 1)
    assert all(results[n]["ok"] and results[n]["status"] == "deleted" for n in saved)
    (refusal,) = results[declared]["violations"]
    assert refusal["rule"] == "R-COM-5"  # customs holds it: no delete (R-COM-5)
    assert refusal["field"] == "Arrival(AR923|1)/status" and refusal["value"] == "stored"
    assert "can be deleted" in refusal["message"]
    assert [stack.status(n) for n in (*saved, declared)] == ["deleted", "deleted", "stored"]
    assert all(r["violations"][0]["rule"] == "R-COM-5" for r in again["results"])


# --- without a broker ---------------------------------------------------------------------


@pytest.fixture
def gw(tmp_path: Path, keys_dir: Path) -> Iterator[Gateway]:
    """A gateway over a real SQLite store; nothing here needs the broker."""
    from tests.stack import make_config

    gateway = Gateway(make_config(tmp_path, keys_dir, prefix="batches."))
    gateway.prepare(broker=False)
    yield gateway
    gateway.db.dispose()


def _ebc(gw: Gateway) -> samples.Party:
    e = gw.config.enterprises[0]
    return samples.Party(e.code, e.name, e.dxp_id)


def _caller(gw: Gateway, code: str) -> Caller:
    from gateway.core import enterprises

    with gw.db.session() as session:
        return Caller(enterprise_id=enterprises.by_code(session, code).id, enterprise_code=code)


def _saved_inventories(gw: Gateway, start: int, count: int = 2) -> list[int]:
    ebc = _ebc(gw)
    found = [
        ecx.Parcel(o, n, ebc=ebc, ebp=PLATFORM)
        for o, n in zip(samples.order_numbers(count, start=start),
                        samples.logistics_numbers(count, start=start), strict=True)
    ]  # fmt: skip
    data = ecx.inventory_message(ebc, found, app_status="1")
    return _ids(gw.intake.submit(ebc.code, data, "test"))


def test_one_refused_record_does_not_sink_the_others_of_its_message(gw: Gateway) -> None:
    """Records go together; when intake refuses their message, each goes alone."""
    good, bad = _saved_inventories(gw, 931)
    caller = _caller(gw, _ebc(gw).code)
    with gw.db.session() as session:
        items = [batches._load(session, caller, n, batches.DECLARE) for n in (good, bad)]
    assert all(isinstance(i, batches._Item) for i in items)
    broken = items[1].record.find(f".//{{{CEB_NS}}}gcode")  # type: ignore[union-attr]
    broken.text = "61101100AB"  # 10 characters, not 10 digits (R-ECX-2.gcode)
    outcomes = {o.id: o for o in batches._send(gw.intake, items, "test")}  # type: ignore[arg-type]
    assert outcomes[good].ok and outcomes[good].status == "pending_sign"
    assert not outcomes[bad].ok
    assert [v.rule for v in outcomes[bad].violations] == ["R-ECX-2.gcode"]


def test_the_reissued_message_is_the_stored_record_with_new_guids(gw: Gateway) -> None:
    (doc_id,) = _saved_inventories(gw, 941, count=1)
    caller = _caller(gw, _ebc(gw).code)
    with gw.db.session() as session:
        item = batches._load(session, caller, doc_id, batches.DECLARE)
        original = session.get(Document, doc_id).versions[0].message.original  # type: ignore[union-attr]
    assert isinstance(item, batches._Item)
    new = parse(batches.build([item])).getroot()
    old = parse(bytes(original)).getroot()
    assert validate(new) == [] and new.get("guid") != old.get("guid")

    def head(root: etree._Element) -> dict[str, str]:
        fields = root.find(f".//{{{CEB_NS}}}InventoryHead")
        return {etree.QName(c).localname: c.text or "" for c in fields}

    changed = {k for k, v in head(new).items() if head(old)[k] != v}
    assert changed <= {"guid", "appTime", "appStatus"} and head(new)["appStatus"] == "2"
    assert {"guid", "appStatus"} <= changed


def test_another_enterprises_records_are_not_found(gw: Gateway) -> None:
    ids = _saved_inventories(gw, 951)
    carrier = _caller(gw, gw.config.enterprises[1].code)
    report = batches.run(gw.intake, carrier, batches.DELETE, ids)
    assert [o.ok for o in report.outcomes] == [False, False]
    assert all("no document" in (o.error or "") for o in report.outcomes)
    with TestClient(create_app(gw)) as client:
        resp = client.post("/v1/batches/destroy", json={"ids": ids},
                           headers={"X-API-Key": CARRIER_KEY})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["violations"][0]["field"] == "action"


def test_cli_batch_delete_acts_for_its_enterprise(gw: Gateway, tmp_path: Path,
                                                   keys_dir: Path) -> None:  # fmt: skip
    ids = _saved_inventories(gw, 961)
    config = tmp_path / "cli.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="batches.", db_url=gw.config.database_url)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    run = CliRunner().invoke(cli, ["--config", str(config), "batch", "delete", *map(str, ids)])
    assert run.exit_code == 0, run.output
    assert '"done": 2' in run.output
    refused = CliRunner().invoke(cli, ["--config", str(config), "batch", "delete", str(ids[0])])
    assert refused.exit_code == 1 and "R-COM-5" in refused.output
