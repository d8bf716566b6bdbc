"""/v1/summaries (R-ECX-8): preview and run for admins only, applications and due dates
scoped to the caller's enterprise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.core.api import create_app
from gateway.core.runtime import Gateway
from tests.stack import CARRIER_KEY, EBC_KEY
from tests.summary_fixtures import (
    JANUARY,
    b_parcels,
    close_lists,
    declare_b_lists,
    party,
    quiet_gateway,
    set_closed_at,
)

ADMIN = {"X-API-Key": "test-admin-key"}
EBC = {"X-API-Key": EBC_KEY}
CARRIER = {"X-API-Key": CARRIER_KEY}


@pytest.fixture
def api(tmp_path: Path, keys_dir: Path) -> Iterator[tuple[TestClient, Gateway]]:
    gw = quiet_gateway(tmp_path, keys_dir)
    numbers = close_lists(gw, declare_b_lists(gw, b_parcels(party(gw), 2, 1)))
    set_closed_at(gw.db, numbers, JANUARY)
    with TestClient(create_app(gw)) as client:
        yield client, gw
    gw.db.dispose()


def test_preview_and_run_are_for_admins(api: tuple[TestClient, Gateway]) -> None:
    client, _ = api
    assert client.get("/v1/summaries/preview?cycle=2026-01", headers=EBC).status_code == 401
    assert client.post("/v1/summaries/run?cycle=2026-01", headers=EBC).status_code == 401
    shown = client.get("/v1/summaries/preview?cycle=2026-01", headers=ADMIN).json()
    assert shown["lists"] == 2 and shown["due"] == "2026-02-16"  # no holidays configured here
    assert client.get("/v1/summaries/preview?cycle=2026-1", headers=ADMIN).status_code == 422


def test_a_run_then_each_enterprise_sees_its_own_applications(
    api: tuple[TestClient, Gateway],
) -> None:
    client, _ = api
    ran = client.post("/v1/summaries/run?cycle=2026-01", headers=ADMIN).json()
    assert ran["ran"] and ran["runs"][0]["lists"] == 2
    mine = client.get("/v1/summaries", headers=EBC).json()
    assert sum(a["lists"] for a in mine) == 2
    assert all(a["status"] == "pending_sign" and a["entry_ids"] == [] for a in mine)
    assert client.get("/v1/summaries", headers=CARRIER).json() == []
    assert len(client.get("/v1/summaries", headers=ADMIN).json()) == len(mine)


def test_due_dates_are_scoped_to_the_caller(api: tuple[TestClient, Gateway]) -> None:
    client, _ = api
    due = client.get("/v1/summaries/due", headers=EBC).json()
    overdue = [d for d in due if d["state"] == "overdue"]
    assert overdue == [
        {**overdue[0], "enterprise": "3301960Z01", "cycle": "2026-01", "pending_lists": 2}
    ]
    assert {d["enterprise"] for d in client.get("/v1/summaries/due", headers=ADMIN).json()} == {
        "3301960Z01",
        "3301980W02",
    }
    carrier = client.get("/v1/summaries/due", headers=CARRIER).json()
    assert all(d["pending_lists"] == 0 for d in carrier)
