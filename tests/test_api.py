"""The HTTP API: per-enterprise API keys, isolation, listing, archived messages, limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.core.api import create_app
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from tests.stack import CARRIER_KEY, EBC_KEY, PLATFORM, make_config


@pytest.fixture
def api(tmp_path: Path, keys_dir: Path) -> Iterator[tuple[TestClient, Gateway]]:
    """The API over a real SQLite store; no broker needed for what is tested here."""
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="api."))
    gw.prepare(broker=False)
    with TestClient(create_app(gw)) as client:
        yield client, gw
    gw.db.dispose()


def _ebc(gw: Gateway) -> samples.Party:
    e = gw.config.enterprises[0]
    return samples.Party(e.code, e.name, e.dxp_id)


def _post(client: TestClient, body: bytes, key: str = EBC_KEY) -> dict:  # type: ignore[type-arg]
    resp = client.post("/v1/messages", content=body, headers={"X-API-Key": key})
    return {"status": resp.status_code, **resp.json()}


def test_submit_then_read_with_history_and_archived_original(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    body = samples.order_message(_ebc(gw), PLATFORM, ["EO2026112200301"])
    answer = _post(client, body)
    assert answer["status"] == 201 and not answer["duplicate"]
    doc_id = answer["documents"][0]["id"]
    view = client.get(f"/v1/documents/{doc_id}", headers={"X-API-Key": EBC_KEY}).json()
    assert view["status"] == "pending_sign"
    assert view["history"][0]["to"] == "pending_sign" and view["history"][0]["from"] is None
    msg_id = view["versions"][0]["message_id"]
    original = client.get(f"/v1/messages/{msg_id}/original", headers={"X-API-Key": EBC_KEY})
    assert original.content == body


def test_same_message_twice_is_one_record(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    body = samples.order_message(_ebc(gw), PLATFORM, ["EO2026112200302"])
    first, again = _post(client, body), _post(client, body)
    assert (first["status"], again["status"]) == (201, 200)
    assert again["duplicate"] and again["documents"] == first["documents"]


def test_an_enterprise_cannot_read_anothers_record(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    doc_id = _post(client, samples.order_message(_ebc(gw), PLATFORM, ["EO2026112200303"]))[
        "documents"
    ][0]["id"]
    other = client.get(f"/v1/documents/{doc_id}", headers={"X-API-Key": CARRIER_KEY})
    assert other.status_code == 404 and other.json()["error"] == "NotFound"
    listed = client.get("/v1/documents", headers={"X-API-Key": CARRIER_KEY}).json()
    assert listed["total"] == 0
    admin = client.get(f"/v1/documents/{doc_id}", headers={"X-API-Key": "test-admin-key"})
    assert admin.status_code == 200


def test_missing_or_wrong_key_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    client, _gw = api
    assert client.get("/v1/documents").status_code == 401
    assert client.get("/v1/documents", headers={"X-API-Key": "nope"}).status_code == 401


def test_errors_name_field_and_rule(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    body = samples.order_message(_ebc(gw), PLATFORM, ["EO2026112200304"])
    bad = body.replace(b"<ceb:appTime>2026", b"<ceb:appTime>2025", 1).replace(
        b"<ceb:orderType>E</ceb:orderType>", b"<ceb:orderType>Q</ceb:orderType>"
    )
    answer = _post(client, bad)
    assert answer["status"] == 422
    rules = {(v["rule"], v["field"].split("/")[-1]) for v in answer["violations"]}
    assert ("R-COM-1.code", "orderType") in rules
    assert all("line" in v for v in answer["violations"])


def test_listing_filters_and_pages(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    orders = [f"EO20261122004{n:02d}" for n in range(7)]
    _post(client, samples.order_message(_ebc(gw), PLATFORM, orders))
    h = {"X-API-Key": EBC_KEY}
    page = client.get("/v1/documents?kind=order&page=2&page_size=3", headers=h).json()
    assert page["total"] == 7 and len(page["items"]) == 3 and page["page"] == 2
    one = client.get(f"/v1/documents?business_key=3301960Z01|{orders[3]}", headers=h).json()
    assert [i["business_key"] for i in one["items"]] == [f"3301960Z01|{orders[3]}"]
    assert client.get("/v1/documents?status=stored", headers=h).json()["total"] == 0


def test_oversized_body_is_refused_before_it_is_read_whole(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    limit = gw.config.http.max_body_bytes
    resp = client.post(
        "/v1/messages", content=b"<a>" + b"x" * limit + b"</a>", headers={"X-API-Key": EBC_KEY}
    )
    assert resp.status_code == 413


def test_receipts_for_ops_need_an_admin_key(api) -> None:  # type: ignore[no-untyped-def]
    client, _gw = api
    assert client.get("/v1/receipts", headers={"X-API-Key": EBC_KEY}).status_code == 401
    assert client.get("/v1/receipts", headers={"X-API-Key": "test-admin-key"}).json() == []


def test_api_keys_are_stored_hashed(api) -> None:  # type: ignore[no-untyped-def]
    _client, gw = api
    from sqlalchemy import select

    from gateway.core.models import ApiKey

    with gw.db.session() as session:
        hashes = list(session.scalars(select(ApiKey.key_hash)))
    assert EBC_KEY not in hashes and all(len(h) == 64 for h in hashes)
