"""The per-process cache of API keys found active (gateway/core/key_cache.py, issue 15):
requests stop reading their key from the database, and a revoked, rotated or expired key is
still refused — at once where it was revoked, within `auth.cache_seconds` elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from gateway.core import config as config_mod
from gateway.core import key_cache, keys
from gateway.core.api import create_app
from gateway.core.enterprises import Caller
from gateway.core.key_cache import KeyCache
from gateway.core.models import ApiKey, utcnow
from gateway.core.runtime import Gateway
from tests.stack import raw_config

ADMIN = {"X-API-Key": "test-admin-key"}
ALICE = Caller(enterprise_id=1, enterprise_code="3301960Z01", key_id=7)


def _gateway(tmp_path: Path, keys_dir: Path, cache_seconds: float) -> Gateway:
    raw = raw_config(tmp_path, keys_dir, prefix="keycache.")
    raw["auth"] = {"cache_seconds": cache_seconds}
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare(broker=False)
    return gw


@pytest.fixture
def served(tmp_path: Path, keys_dir: Path) -> Iterator[tuple[TestClient, Gateway]]:
    gw = _gateway(tmp_path, keys_dir, cache_seconds=300)  # long: nothing expires by itself
    with TestClient(create_app(gw)) as client:
        yield client, gw
    gw.db.dispose()


def _new_key(client: TestClient) -> dict[str, object]:
    made = client.post("/v1/admin/keys", json={"enterprise": "3301960Z01"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def _stats(client: TestClient, key: object) -> int:
    return client.get("/v1/stats", headers={"X-API-Key": str(key)}).status_code


def _key_lookups(gw: Gateway) -> list[str]:
    """Every statement that reads the api_keys table, from now on."""
    seen: list[str] = []

    @event.listens_for(gw.db.engine, "before_cursor_execute")
    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "FROM api_keys" in statement:
            seen.append(statement)

    return seen


def test_a_key_is_read_from_the_database_once_while_cached(served) -> None:  # type: ignore[no-untyped-def]
    client, gw = served
    key = _new_key(client)["key"]
    lookups = _key_lookups(gw)
    assert [_stats(client, key) for _ in range(5)] == [200] * 5
    assert len(lookups) == 1


def test_a_key_revoked_through_this_process_is_refused_at_once(served) -> None:  # type: ignore[no-untyped-def]
    client, _gw = served
    made = _new_key(client)
    assert _stats(client, made["key"]) == 200  # now cached
    assert client.post(f"/v1/admin/keys/{made['id']}/revoke", headers=ADMIN).status_code == 200
    assert _stats(client, made["key"]) == 401


def test_a_key_rotated_through_this_process_is_refused_at_once(served) -> None:  # type: ignore[no-untyped-def]
    client, _gw = served
    old = _new_key(client)
    assert _stats(client, old["key"]) == 200
    new = client.post(f"/v1/admin/keys/{old['id']}/rotate", headers=ADMIN).json()
    assert _stats(client, old["key"]) == 401
    assert _stats(client, new["key"]) == 200


def test_a_key_revoked_elsewhere_is_refused_once_the_cache_time_is_over(served) -> None:  # type: ignore[no-untyped-def]
    client, gw = served
    made = _new_key(client)
    assert _stats(client, made["key"]) == 200
    with gw.db.session() as session:  # another process (the CLI) revokes it
        session.execute(update(ApiKey).where(ApiKey.id == made["id"]).values(revoked_at=utcnow()))
    assert _stats(client, made["key"]) == 200  # trusted for cache_seconds: the documented cost
    gw.key_cache.seconds = 0.0  # as if cache_seconds were over (no clock to wait for)
    assert _stats(client, made["key"]) == 401


def test_with_cache_seconds_0_every_request_reads_its_key(tmp_path: Path, keys_dir: Path) -> None:
    gw = _gateway(tmp_path, keys_dir, cache_seconds=0)
    try:
        with TestClient(create_app(gw)) as client:
            made = _new_key(client)
            lookups = _key_lookups(gw)
            assert [_stats(client, made["key"]) for _ in range(3)] == [200] * 3
            assert len(lookups) == 3
            with gw.db.session() as session:
                revoked = update(ApiKey).where(ApiKey.id == made["id"]).values(revoked_at=utcnow())
                session.execute(revoked)
            assert _stats(client, made["key"]) == 401
    finally:
        gw.db.dispose()


def test_a_bad_key_is_never_cached(served) -> None:  # type: ignore[no-untyped-def]
    client, gw = served
    lookups = _key_lookups(gw)
    assert _stats(client, "cgw_not-a-key") == 401
    assert _stats(client, "cgw_not-a-key") == 401
    assert len(lookups) == 2


# --- the cache itself ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lasts_cache_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(key_cache.time, "monotonic", clock)
    cache = KeyCache(5.0)
    cache.put("cgw_a", ALICE, None)
    clock.now += 4.9
    assert cache.get("cgw_a") == ALICE
    clock.now += 0.2
    assert cache.get("cgw_a") is None


def test_an_entry_never_outlives_the_keys_own_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = KeyCache(300.0)
    now = utcnow()
    cache.put("cgw_a", ALICE, now + timedelta(seconds=30))
    assert cache.get("cgw_a") == ALICE
    monkeypatch.setattr(keys, "utcnow", lambda: now + timedelta(seconds=30))
    assert cache.get("cgw_a") is None


def test_the_oldest_entries_go_first_and_no_key_is_held(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = KeyCache(60.0, max_entries=2)
    for name in ("cgw_a", "cgw_b", "cgw_c"):
        cache.put(name, ALICE, None)
    assert cache.get("cgw_a") is None
    assert cache.get("cgw_b") == ALICE and cache.get("cgw_c") == ALICE
    assert not any(b"cgw_" in slot for slot in cache._entries)


def test_zero_seconds_keeps_nothing() -> None:
    cache = KeyCache(0.0)
    cache.put("cgw_a", ALICE, None)
    assert cache.get("cgw_a") is None
