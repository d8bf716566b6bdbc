"""API keys (issue 11, finding 5): issued with entropy and shown once, stored as a keyed hash,
revocable, rotatable, expiring; no well-known key shipped; repeated failures slowed down."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update

from gateway.core import config as config_mod
from gateway.core import keys
from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.models import ApiKey, utcnow
from gateway.core.runtime import Gateway
from gateway.errors import ConfigError
from tests.stack import raw_config

ADMIN = {"X-API-Key": "test-admin-key"}


@pytest.fixture
def api(tmp_path: Path, keys_dir: Path) -> Iterator[tuple[TestClient, Gateway]]:
    raw = raw_config(tmp_path, keys_dir, prefix="keys.")
    raw["auth"] = {"failure_limit": 10, "failure_window": 60}  # the shipped default
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare(broker=False)
    with TestClient(create_app(gw)) as client:
        yield client, gw
    gw.db.dispose()


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    resp = client.post("/v1/admin/keys", json={"enterprise": "3301960Z01", **body}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _stats(client: TestClient, key: str) -> int:
    return client.get("/v1/stats", headers={"X-API-Key": key}).status_code


def _refused_soon(client: TestClient, key: str, deadline: float = 60.0) -> bool:
    """401 within the deadline (generous: the cache keeps a key auth.cache_seconds, 5 s)."""
    until = time.monotonic() + deadline
    while _stats(client, key) != 401:
        if time.monotonic() > until:
            return False
        time.sleep(0.1)
    return True


def test_a_new_key_is_long_random_and_works(api) -> None:  # type: ignore[no-untyped-def]
    client, _gw = api
    made = _create(client, label="ERP")
    assert made["key"].startswith("cgw_") and len(made["key"]) >= 40
    assert _stats(client, made["key"]) == 200
    listed = client.get("/v1/admin/keys", headers=ADMIN).json()
    mine = next(k for k in listed if k["id"] == made["id"])
    assert mine["state"] == "active" and mine["label"] == "ERP" and mine["expires_at"]
    assert made["key"] not in json.dumps(listed)


def test_a_revoked_key_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    client, _gw = api
    made = _create(client)
    assert client.post(f"/v1/admin/keys/{made['id']}/revoke", headers=ADMIN).status_code == 200
    assert _stats(client, made["key"]) == 401


def test_a_rotated_key_works_and_the_old_one_fails(api) -> None:  # type: ignore[no-untyped-def]
    client, _gw = api
    old = _create(client)
    resp = client.post(f"/v1/admin/keys/{old['id']}/rotate", headers=ADMIN)
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert new["replaces"] == old["id"] and new["enterprise"] == "3301960Z01"
    assert _stats(client, new["key"]) == 200
    assert _stats(client, old["key"]) == 401


def test_an_expired_key_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    made = _create(client, expires_days=30)
    assert _stats(client, made["key"]) == 200
    with gw.db.session() as session:  # thirty days later
        past = utcnow() - timedelta(seconds=1)
        session.execute(update(ApiKey).where(ApiKey.id == made["id"]).values(expires_at=past))
    # The process remembered the key as valid until its old expiry (key_cache.py); what it
    # looks up afresh is refused. A cached key's own expiry: tests/test_key_cache.py.
    gw.key_cache.forget_all()
    assert _stats(client, made["key"]) == 401


def test_an_enterprise_key_cannot_manage_keys(api) -> None:  # type: ignore[no-untyped-def]
    client, _gw = api
    made = _create(client)
    own = {"X-API-Key": made["key"]}
    assert client.get("/v1/admin/keys", headers=own).status_code == 401
    assert client.post(f"/v1/admin/keys/{made['id']}/rotate", headers=own).status_code == 401


def test_a_key_cannot_be_recovered_from_the_database(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    made = _create(client)
    gw.db.dispose()  # everything on disk
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("gateway.db*"))
    plain_digest = hashlib.sha256(made["key"].encode()).hexdigest()
    assert made["key"].encode() not in stored and made["key"][8:].encode() not in stored
    assert plain_digest.encode() not in stored  # not the unsalted digest of old
    secret = tmp_path / keys.SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert keys.digest(secret.read_text().strip().encode(), made["key"]).encode() in stored


def test_repeated_bad_keys_are_slowed_down(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    limit = gw.config.auth.failure_limit
    answers = [_stats(client, f"cgw_guess{n}") for n in range(limit)]
    assert answers == [401] * limit
    resp = client.get("/v1/stats", headers={"X-API-Key": "cgw_guess-next"})
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
    # The whole address waits: a right guess would not be told apart from a wrong one.
    assert _stats(client, "test-admin-key") == 429


def test_good_keys_are_not_slowed_down(api) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    runs = gw.config.auth.failure_limit * 3
    assert [_stats(client, "test-admin-key") for _ in range(runs)] == [200] * runs


# --- the configuration ---------------------------------------------------------------------------


def test_the_shipped_config_carries_no_key() -> None:
    shipped = config_mod.load(config_mod.DEFAULT_CONFIG)
    assert shipped.admin_api_keys == ()
    assert all(e.api_keys == () for e in shipped.enterprises)
    text = config_mod.DEFAULT_CONFIG.read_text()
    assert "demo-admin-key" not in text and "demo-key-" not in text


def test_plain_keys_in_the_config_are_refused(tmp_path: Path, keys_dir: Path) -> None:
    raw = raw_config(tmp_path, keys_dir, prefix="k.")
    with pytest.raises(ConfigError, match="admin_api_keys_file"):
        config_mod.from_dict({**raw, "admin_api_keys": ["plain"]}, tmp_path)
    os.chmod(raw["admin_api_keys_file"], 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        config_mod.from_dict(raw, tmp_path)


def test_a_key_removed_from_its_file_is_revoked_at_the_next_start(
    tmp_path: Path, keys_dir: Path
) -> None:
    raw = raw_config(tmp_path, keys_dir, prefix="k.")
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare(broker=False)
    keys.write_keys_file(Path(raw["admin_api_keys_file"]), ["another-admin-key"])
    again = Gateway(config_mod.from_dict(raw, tmp_path))
    again.prepare(broker=False)
    with TestClient(create_app(again)) as client:
        assert _stats(client, "test-admin-key") == 401
        assert _stats(client, "another-admin-key") == 200
    gw.db.dispose()
    again.db.dispose()


def test_keys_by_command_line(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="k.")
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    gw = Gateway(config_mod.load(config))
    gw.prepare(broker=False)

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), "keys", *args])
        assert result.exit_code == 0, result.output
        return result.output

    made = json.loads(run("create", "--enterprise", "3301980W02", "--label", "tms"))
    with TestClient(create_app(gw)) as client:
        assert _stats(client, made["key"]) == 200
        rotated = json.loads(run("rotate", str(made["id"])))
        # Another process rotated it: this one trusts what it cached for auth.cache_seconds
        # (5 s, key_cache.py), then refuses it.
        assert _stats(client, rotated["key"]) == 200 and _refused_soon(client, made["key"])
        run("revoke", str(rotated["id"]))
        assert _refused_soon(client, rotated["key"])
    listed = run("list", "--enterprise", "3301980W02")
    assert '"state": "revoked"' in listed and made["key"] not in listed
    gw.db.dispose()
