"""The ops audit log (issue 11, finding 16): every ops action — retry, dead-letter replay and
discard, API keys, delegations — is recorded with who, when, what, target and outcome, by the
API and by the command line, and listed by `GET /v1/ops/audit` and `customs-gateway audit`."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.ecx import samples
from tests.stack import EBC_KEY, PLATFORM, Stack, raw_config
from tests.transport_fixtures import AMQP_URL, ready_count, wait_for

ADMIN = {"X-API-Key": "test-admin-key"}
CLI = f"cli:{getpass.getuser()}"


@pytest.fixture
def idle(make_stack) -> Stack:  # type: ignore[no-untyped-def]
    """Topology declared, no worker: dead letters stay where they are."""
    return make_stack("idle", sim=False)


@pytest.fixture
def client(idle: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(idle.gateway)) as made:
        yield made


def _entries(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    resp = client.get("/v1/ops/audit", params=params, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _admin_key_id(client: TestClient) -> int:
    listed = client.get("/v1/admin/keys", headers=ADMIN).json()
    return next(k["id"] for k in listed if k["admin"] and k["state"] == "active")


def _kill(stack: Stack, bodies: list[bytes]) -> list[str]:
    """Dead letters in the inbound queue's dead-letter queue (published, then rejected)."""
    topo = stack.gateway.topology
    ids = [f"audit-test-{n}" for n in range(len(bodies))]
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        for body, mid in zip(bodies, ids, strict=True):
            props = pika.BasicProperties(message_id=mid)
            channel.basic_publish(topo.intake_exchange, "declaration", body, props)
        for _ in bodies:
            method = None
            while method is None:
                method, _props, _body = channel.basic_get(topo.inbound_queue)
            channel.basic_nack(method.delivery_tag, requeue=False)
        dead = topo.dead_queue(topo.inbound_queue)
        assert wait_for(lambda: ready_count(channel, dead) == len(bodies))
    finally:
        connection.close()
    return ids


def test_retries_are_recorded_with_the_key_that_asked(idle: Stack, client: TestClient) -> None:
    body = samples.order_message(idle.ebc, PLATFORM, ["EO2026120409001"])
    made = client.post("/v1/messages", content=body, headers={"X-API-Key": EBC_KEY}).json()
    assert client.post(f"/v1/messages/{made['message_id']}/retry", headers=ADMIN).status_code == 200
    other = {"X-API-Key": "test-key-carrier"}  # another enterprise's message: refused
    assert client.post(f"/v1/messages/{made['message_id']}/retry", headers=other).status_code == 404
    carrier_key = client.get("/v1/admin/keys", params={"enterprise": "3301980W02"}, headers=ADMIN)
    carrier_id = carrier_key.json()[0]["id"]
    entries = _entries(client, action="message.retry")
    assert [(e["actor"], e["target"], e["outcome"]) for e in entries] == [
        (f"key:{carrier_id}", f"message:{made['message_id']}", "refused"),
        (f"key:{_admin_key_id(client)}", f"message:{made['message_id']}", "unchanged"),
    ]
    assert entries[1]["detail"] == {"requeued": False} and entries[1]["at"]


def test_dead_letter_replay_and_discard_are_recorded(idle: Stack, client: TestClient) -> None:
    ids = _kill(idle, [b"<a/>", b"<b/>"])
    url = "/v1/ops/dead-letters/gateway.inbound"
    asked = {"ids": [ids[0], "no-such-letter"]}
    assert client.post(f"{url}/replay", json=asked, headers=ADMIN).status_code == 200
    assert client.post(f"{url}/discard", json={"all": True}, headers=ADMIN).status_code == 200
    replay, discard = (
        _entries(client, action=a)[0] for a in ("dead_letters.replay", "dead_letters.discard")
    )
    queue = idle.gateway.topology.inbound_queue
    assert replay["outcome"] == "partial" and replay["target"] == "gateway.inbound"
    assert replay["detail"] == {"queue": queue, "done": [ids[0]], "missing": ["no-such-letter"]}
    assert discard["outcome"] == "ok" and discard["detail"]["done"] == [ids[1]]  # 0 replayed
    assert replay["actor"] == discard["actor"] == f"key:{_admin_key_id(client)}"


def test_key_and_delegation_changes_are_recorded_without_the_key(client: TestClient) -> None:
    made = client.post("/v1/admin/keys", json={"enterprise": "3301960Z01"}, headers=ADMIN).json()
    client.post(f"/v1/admin/keys/{made['id']}/rotate", headers=ADMIN)
    client.post(f"/v1/admin/keys/{made['id']}/revoke", headers=ADMIN)
    pair = {"enterprise": "3301980W02", "party_code": "3301960Z01"}
    client.post("/v1/admin/delegations", json=pair, headers=ADMIN)
    client.delete("/v1/admin/delegations/3301980W02/3301960Z01", headers=ADMIN)
    client.delete("/v1/admin/delegations/3301980W02/3301960Z01", headers=ADMIN)  # none left
    entries = _entries(client)
    assert [(e["action"], e["target"], e["outcome"]) for e in entries] == [
        ("delegation.remove", "3301980W02->3301960Z01", "refused"),
        ("delegation.remove", "3301980W02->3301960Z01", "ok"),
        ("delegation.add", "3301980W02->3301960Z01", "ok"),
        ("key.revoke", f"key:{made['id']}", "ok"),
        ("key.rotate", f"key:{made['id']}", "ok"),
        ("key.create", "enterprise:3301960Z01", "ok"),
    ]
    assert entries[-1]["detail"]["new_key_id"] == made["id"]
    assert made["key"] not in json.dumps(entries)


def test_the_audit_log_is_for_admins_only(client: TestClient) -> None:
    assert client.get("/v1/ops/audit", headers={"X-API-Key": EBC_KEY}).status_code == 401


def test_command_line_actions_are_recorded_and_listed(
    idle: Stack, tmp_path: Path, keys_dir: Path
) -> None:
    raw = raw_config(idle.config.state_dir, keys_dir, prefix=idle.gateway.topology.prefix)
    config = tmp_path / "audit.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    ids = _kill(idle, [b"<c/>"])

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    run("ops", "replay", "gateway.inbound", ids[0])
    run("ops", "discard", "gateway.inbound", "--all")
    run("retry", "999999")
    made = json.loads(run("keys", "create", "--admin"))
    run("delegations", "add", "3301980W02", "3301960Z01")
    listed = [json.loads(line) for line in run("audit").splitlines()[:-1]]
    assert [(e["actor"], e["action"], e["outcome"]) for e in listed] == [
        (CLI, "delegation.add", "ok"),
        (CLI, "key.create", "ok"),
        (CLI, "message.retry", "unchanged"),
        (CLI, "dead_letters.discard", "ok"),
        (CLI, "dead_letters.replay", "ok"),
    ]
    assert made["key"] not in run("audit", "--action", "key.create")
