"""Terminal login by ID card over real PC/SC (pcscd + vpcd + the emulated ID card), role
selection, sessions bound to their terminal, idle timeout, logout (R-BDR-1, R-BDR-2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from devices.rig import CardRig
from gateway.border import sessions, terminals
from gateway.border.biokit import Devices
from gateway.border.identity import Role
from gateway.border.people_models import BrdSession, BrdTerminal
from gateway.border.terminals import authenticate
from gateway.errors import AccessDenied
from tests.border_people_fixtures import (
    HUANG,
    LI,
    LU,
    MO,
    NONG,
    PLACE,
    STRANGER,
    WEI,
    PeopleEnv,
    camera,
    expired,
    people_env,
    people_fixture,  # noqa: F401 - the `people` fixture
)


def _refused(env: PeopleEnv, who: Any) -> dict[str, Any]:
    answer = env.login(who)
    assert answer.status_code == 401, answer.text
    body: dict[str, Any] = answer.json()
    assert who.id_number not in answer.text  # never the full number, even refused
    return body


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        (STRANGER, "unknown_card"),
        (WEI, "disabled"),
        (MO, "id_expired"),
        (LU, "registration_expired"),
        (NONG, "not_synced"),
    ],
)
def test_login_refused_with_the_reason(people: PeopleEnv, who: Any, reason: str) -> None:
    """R-BDR-1: unregistered, disabled (停用), expired ID, expired registration, not synced."""
    body = _refused(people, who)
    assert body["error"] == "LoginRefused"
    assert body["context"]["reason"] == reason


def test_an_expired_card_is_refused_even_when_the_registry_says_long_term(
    people: PeopleEnv,
) -> None:
    """The card's own validity counts: the registry may not know of a renewal yet."""
    assert _refused(people, expired(LI))["context"]["reason"] == "id_expired"


def test_no_card_on_the_reader(people: PeopleEnv, rig: CardRig) -> None:
    rig.pull(1)
    answer = people.client.post("/v1/border/terminal/login", headers=people.terminals["T1"])
    assert answer.status_code == 401 and answer.json()["context"]["reason"] == "no_card"


def test_a_terminal_must_prove_itself(people: PeopleEnv) -> None:
    people.card(LI)
    for headers in ({}, {"x-terminal-id": "T1", "x-terminal-key": "brt_wrong"}):
        answer = people.client.post("/v1/border/terminal/login", headers=headers)
        assert answer.status_code == 401 and "terminal" in answer.json()["message"]
    with people.gw.db.session() as s:  # the key is kept as a keyed hash only
        stored = list(s.scalars(select(BrdTerminal.key_hash)))
        assert len(stored) == 2 and people.terminals["T1"]["x-terminal-key"] not in str(stored)
        assert authenticate(s, "T1", people.terminals["T1"]["x-terminal-key"]).place_code


def test_role_selection_of_a_group_representative(people: PeopleEnv) -> None:
    """身份选择: 边民 and 互助组 offered; the group's declarant carries its members."""
    answer = people.login(HUANG)
    assert answer.status_code == 200, answer.text
    login = answer.json()
    assert login["id_number"] == f"451*****{HUANG.id_number[-3:]}" and login["name"] == "黄秀兰"
    assert [(r["role"], r["label"], r["registration_no"]) for r in login["roles"]] == [
        ("1", "边民", None),
        ("2", "互助组", "HZZ8609001"),
    ]
    headers = people.session_headers(login["session"])
    # nothing can be done before a role is picked
    assert people.client.get("/v1/border/terminal/me", headers=headers).status_code == 401
    # a role this person does not hold is refused
    bad = people.client.post("/v1/border/terminal/role", headers=headers, json={"role": "3"})
    assert bad.status_code == 401
    chosen = people.client.post(
        "/v1/border/terminal/role", headers=headers,
        json={"role": "2", "registration_no": "HZZ8609001"},
    )  # fmt: skip
    assert chosen.status_code == 200, chosen.text
    me = people.client.get("/v1/border/terminal/me", headers=headers).json()
    assert me["role"] == Role.GROUP_REPRESENTATIVE.value
    assert me["organisation"] == {"registration_no": "HZZ8609001", "name": "卡凤互助组"}
    assert me["members"] == [f"451*****{LI.id_number[-3:]}"]
    assert LI.id_number not in str(me) and HUANG.id_number not in str(me)


def test_a_plain_resident_has_one_role_and_acts_only_for_self(people: PeopleEnv) -> None:
    login = people.login(LI).json()
    assert [r["role"] for r in login["roles"]] == ["1"]
    headers = people.login_as(LI)
    with people.gw.db.session() as s:
        row = s.scalar(select(BrdSession).where(BrdSession.role == "1"))
        assert row is not None
        terminal = authenticate(s, "T1", people.terminals["T1"]["x-terminal-key"])
        who = sessions.declarant(s, row, terminal)
    assert who.id_number == LI.id_number and who.members == ()
    sessions.require_self(who, LI.id_number)
    with pytest.raises(AccessDenied):
        sessions.require_self(who, HUANG.id_number)  # never another resident (R-BDR-1)
    assert people.client.get("/v1/border/terminal/me", headers=headers).status_code == 200


def test_a_session_used_from_another_terminal_is_refused(people: PeopleEnv) -> None:
    headers = people.login_as(LI)
    moved = {**people.terminals["T2"], "x-border-session": headers["x-border-session"]}
    answer = people.client.get("/v1/border/terminal/me", headers=moved)
    assert answer.status_code == 401 and "another terminal" in answer.json()["message"]
    # still live at its own terminal
    assert people.client.get("/v1/border/terminal/me", headers=headers).status_code == 200


def test_idle_timeout_by_the_clock(people: PeopleEnv) -> None:
    """FAQ 1: 长时间不操作系统，提示超时 — 15 minutes idle here; every use restarts it."""
    headers = people.login_as(LI)
    for _ in range(3):
        people.clock.advance(minutes=14)
        assert people.client.get("/v1/border/terminal/me", headers=headers).status_code == 200
    people.clock.advance(minutes=15, seconds=1)
    answer = people.client.get("/v1/border/terminal/me", headers=headers)
    assert answer.status_code == 401 and "超时" in answer.json()["message"]
    people.clock.advance(seconds=1)  # and it stays ended
    assert people.client.get("/v1/border/terminal/me", headers=headers).status_code == 401
    with people.gw.db.session() as s:
        assert s.scalar(select(BrdSession.end_reason).where(BrdSession.role == "1")) == "timeout"


def test_logout(people: PeopleEnv) -> None:
    headers = people.login_as(LI)
    assert people.client.post("/v1/border/terminal/logout", headers=headers).status_code == 200
    assert people.client.get("/v1/border/terminal/me", headers=headers).status_code == 401


def test_a_resident_disabled_meanwhile_loses_the_session(people: PeopleEnv) -> None:
    headers = people.login_as(LI)
    with people.gw.db.session() as s:
        row = sessions.admit(s, LI.id_number, people.clock.now.date())
        row.enabled = False
    answer = people.client.get("/v1/border/terminal/me", headers=headers)
    assert answer.status_code == 401 and answer.json()["context"]["reason"] == "disabled"


def test_login_and_role_on_postgresql(
    tmp_path: Path, keys_dir: Path, rig: CardRig, pg_url: str
) -> None:
    """The border_people branch migrates on PostgreSQL too; login, role, timeout there."""
    with people_env(tmp_path, keys_dir, rig, db_url=pg_url) as env:
        assert _refused(env, WEI)["context"]["reason"] == "disabled"
        headers = env.login_as(HUANG, role="2", registration_no="HZZ8609001")
        me = env.client.get("/v1/border/terminal/me", headers=headers).json()
        assert me["members"] == [f"451*****{LI.id_number[-3:]}"]
        env.clock.advance(minutes=16)
        assert env.client.get("/v1/border/terminal/me", headers=headers).status_code == 401


def test_device_status_of_a_terminal(people: PeopleEnv) -> None:
    """外接设备状态: the ID-card reader pcscd knows; a camera green once it gave a frame."""
    people.desks.devices["terminal:T1"] = Devices(camera=camera((1, 1)))
    status = people.client.get("/v1/border/terminal/devices", headers=people.terminals["T1"])
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["id_card_reader"]["present"] is True and body["fingerprint"] is None
    assert body["camera"]["ready"] is True
    with people.gw.db.session() as s:  # a terminal whose reader is not there
        terminals.register(s, "T3", PLACE, "No Such Reader 00 00")
        key = terminals.register(s, "T3", PLACE, "No Such Reader 00 00")
    status = people.client.get("/v1/border/terminal/devices",
                               headers={"x-terminal-id": "T3", "x-terminal-key": key})  # fmt: skip
    assert status.json()["id_card_reader"]["present"] is False


def test_officer_session_idle_timeout(people: PeopleEnv, card_ids: Any) -> None:
    officer = people.officer(card_ids["rsa"])
    assert people.client.get("/v1/border/officer/devices", headers=officer).status_code == 200
    people.clock.advance(minutes=29)
    assert people.client.get("/v1/border/officer/devices", headers=officer).status_code == 200
    people.clock.advance(minutes=30, seconds=1)
    answer = people.client.get("/v1/border/officer/devices", headers=officer)
    assert answer.status_code == 401 and "超时" in answer.json()["message"]


def test_a_resident_not_in_normal_status_is_refused(people: PeopleEnv) -> None:
    with people.gw.db.session() as s:
        row = sessions.admit(s, LI.id_number, people.clock.now.date())
        row.status = "3"  # 注销
    body = _refused(people, LI)
    assert body["context"]["reason"] == "status" and "注销" in body["message"]


def test_old_sessions_are_forgotten_at_a_login(people: PeopleEnv) -> None:
    people.login_as(LI)
    people.clock.advance(days=31)
    people.login_as(HUANG)
    with people.gw.db.session() as s:
        assert len(list(s.scalars(select(BrdSession)))) == 1
