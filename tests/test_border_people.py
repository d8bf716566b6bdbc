"""The resident registry (R-BDR-2): loading from files and from customs' BRD201 message (XSD,
hardened parsing), the officer's login by IC card + PIN over real PC/SC (R-BDR-1), the
registry query (边民备案查询) with masked ID numbers, and the audit of officer actions."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from devices.rig import CardRig, reader_name
from gateway.border import officers, registry, terminals
from gateway.border.people_models import BrdMember, BrdOrganisation, BrdResident
from gateway.border.sessions import china_day
from gateway.core.models import AuditEntry, utcnow
from gateway.errors import InvalidMessage
from tests.border_people_fixtures import (
    HUANG,
    LI,
    NONG,
    STRANGER,
    WEI,
    PeopleEnv,
    people_fixture,  # noqa: F401 - the `people` fixture
    registry_sections,
    resident_row,
)
from tests.card_fixtures import PIN, Identity
from tests.stack import raw_config

OFFICER_CARD = "GACC0000000000000101"


def _officer(people: PeopleEnv, rig: CardRig, ident: Identity, *, pin: str = PIN) -> Any:
    with people.gw.db.session() as s:
        officers.register(s, "GA8609001", "潘国生", "8609", OFFICER_CARD, ident.certificate)
    rig.insert(0, ident.card(OFFICER_CARD, pin=PIN))
    answer = people.client.post(
        "/v1/border/officer/login", json={"reader": reader_name(0), "pin": pin}
    )
    return answer.json()["session"] if answer.status_code == 200 else answer.json()


# --- loading the registry ---------------------------------------------------------------------


def test_the_loaded_registry_and_its_organisations(people: PeopleEnv) -> None:
    with people.gw.db.session() as s:
        rows = {r.name: r for r in s.scalars(select(BrdResident))}
        assert len(rows) == 6
        assert rows["韦小宝"].enabled is False and rows["农志强"].synced is False
        assert rows["黄秀兰"].id_valid_to is None  # 长期
        assert {r.biometrics for r in rows.values()} == {"0"}  # 都没有 until enrolled
        org = s.scalar(select(BrdOrganisation))
        assert org is not None and org.kind == "2" and org.representative_id == rows["黄秀兰"].id
        members = list(s.scalars(select(BrdMember.resident_id)))
        assert members == [rows["李建国"].id]


def test_a_bad_file_is_refused_whole_naming_row_and_field(people: PeopleEnv) -> None:
    bad_number = HUANG.id_number[:17] + ("0" if HUANG.id_number[17] != "0" else "1")
    sections = {
        "residents": [
            resident_row(STRANGER),
            resident_row(STRANGER, id_number=bad_number, sex="3", district="86"),
        ],
        "groups": [
            {
                "registration_no": "HZZ1",
                "name": "x",
                "district": "8609",
                "representative": STRANGER.id_number,
            }
        ],  # fmt: skip
    }
    with people.gw.db.session() as s, pytest.raises(InvalidMessage) as info:
        registry.load(s, sections, from_customs=False)
    fields = {v.field for v in info.value.violations}
    assert {"residents[1].id_number", "residents[1].sex", "residents[1].district"} <= fields
    assert all(v.rule == "R-BDR-2" for v in info.value.violations)
    assert bad_number not in str(info.value.as_dict())
    with people.gw.db.session() as s:  # nothing of it was kept
        assert registry.resident_by_number(s, STRANGER.id_number) is None


def test_files_json_csv_and_xml(people: PeopleEnv, tmp_path: Path) -> None:
    row = resident_row(STRANGER, synced=False)
    (tmp_path / "r.json").write_text(json.dumps({"residents": [row]}, ensure_ascii=False))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(row))
    writer.writeheader()
    writer.writerow({**row, "name": "覃天明二"})
    (tmp_path / "r.csv").write_text(buf.getvalue(), encoding="utf-8")
    (tmp_path / "r.xml").write_bytes(registry.build_xml({"residents": [{**row, "name": "覃三"}]}))
    names = []
    for name in ("r.json", "r.csv", "r.xml"):
        sections = registry.read_file(tmp_path / name)
        with people.gw.db.session() as s:
            registry.load(s, sections, from_customs=False)
        with people.gw.db.session() as s:
            found = registry.resident_by_number(s, STRANGER.id_number)
            assert found is not None
            names.append(found.name)
    assert names == ["覃天明", "覃天明二", "覃三"]


def test_customs_reference_message_marks_synced_and_is_validated(people: PeopleEnv) -> None:
    xml = registry.build_xml({"residents": [resident_row(NONG)]})
    with people.gw.db.session() as s:
        registry.load(s, registry.read_xml(xml), from_customs=True)
    with people.gw.db.session() as s:
        row = registry.resident_by_number(s, NONG.id_number)
        assert row is not None and row.synced is True  # what customs sends is synced
    broken = xml.replace(b"<sex>1</sex>", b"<sex>9</sex>")
    with pytest.raises(InvalidMessage) as info:
        registry.read_xml(broken)
    assert info.value.violations[0].rule == "R-COM-1" and "sex" in str(info.value)
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + xml[38:]
    with pytest.raises(InvalidMessage, match="DTD"):
        registry.read_xml(evil)


# --- officer login ----------------------------------------------------------------------------


def test_officer_login_by_card_and_pin(people: PeopleEnv, rig: CardRig, card_ids: Any) -> None:
    token = _officer(people, rig, card_ids["rsa"])
    assert isinstance(token, str)
    headers = {"x-officer-session": token}
    assert people.client.get("/v1/border/officer/residents", headers=headers).status_code == 200
    assert people.client.post("/v1/border/officer/logout", headers=headers).status_code == 200
    assert people.client.get("/v1/border/officer/residents", headers=headers).status_code == 401


def test_officer_wrong_pin_refused(people: PeopleEnv, rig: CardRig, card_ids: Any) -> None:
    body = _officer(people, rig, card_ids["rsa"], pin="135790")
    assert body["error"] == "LoginRefused" and body["context"]["reason"] == "wrong_pin"
    assert "2 tries left" in body["message"] and "135790" not in json.dumps(body)


def test_an_unregistered_or_another_card_is_refused(
    people: PeopleEnv, rig: CardRig, card_ids: Any
) -> None:
    with people.gw.db.session() as s:  # registered with another card's certificate
        officers.register(
            s, "GA8609002", "吴琪琪", "8609", OFFICER_CARD, card_ids["rsa2"].certificate
        )
    rig.insert(0, card_ids["rsa"].card(OFFICER_CARD))
    answer = people.client.post(
        "/v1/border/officer/login", json={"reader": reader_name(0), "pin": PIN}
    )
    assert answer.status_code == 401 and answer.json()["context"]["reason"] == "card_mismatch"
    rig.insert(0, card_ids["sm2"].card("GACC0000000000000999"))
    answer = people.client.post(
        "/v1/border/officer/login", json={"reader": reader_name(0), "pin": PIN}
    )
    assert answer.status_code == 401 and answer.json()["context"]["reason"] == "unknown_officer"


# --- the registry query -----------------------------------------------------------------------


def _query(people: PeopleEnv, token: str, **params: Any) -> dict[str, Any]:
    answer = people.client.get(
        "/v1/border/officer/residents", params=params, headers={"x-officer-session": token}
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_registry_query_filters_masked_and_paged(
    people: PeopleEnv, rig: CardRig, card_ids: Any
) -> None:
    token = _officer(people, rig, card_ids["rsa"])
    everyone = _query(people, token)
    assert everyone["total"] == 6
    for row in everyone["rows"]:
        assert len(row["id_number"]) == 11 and row["id_number"][3:8] == "*****"
    text = json.dumps(everyone, ensure_ascii=False)
    assert all(p.id_number not in text for p in (HUANG, LI, WEI, NONG))
    assert {r["name"] for r in _query(people, token, enabled=False)["rows"]} == {"韦小宝"}
    assert {r["name"] for r in _query(people, token, synced=False)["rows"]} == {"农志强"}
    assert {r["name"] for r in _query(people, token, sex="2")["rows"]} == {"黄秀兰", "陆春燕"}
    assert _query(people, token, name="秀")["rows"][0]["name"] == "黄秀兰"
    assert _query(people, token, biometrics="3")["total"] == 0
    assert _query(people, token, biometrics="0")["total"] == 6
    assert _query(people, token, district="8610")["total"] == 0
    today = china_day(utcnow()).isoformat()  # loaded now, by the wall clock
    assert _query(people, token, operated_from=today, operated_to=today)["total"] == 6
    assert _query(people, token, operated_to="2020-01-01")["total"] == 0
    page = _query(people, token, size=4, page=2)
    assert page["total"] == 6 and len(page["rows"]) == 2
    row = next(r for r in everyone["rows"] if r["name"] == "韦小宝")
    assert row["enabled_label"] == "停用" and row["biometrics_label"] == "都没有"
    assert row["status_label"] == "正常" and row["synced_label"] == "已同步海关"
    detail = people.client.get(
        f"/v1/border/officer/residents/{row['ref']}", headers={"x-officer-session": token}
    ).json()
    assert detail["name"] == "韦小宝" and detail["id_number"] == row["id_number"]


def test_every_officer_action_is_recorded(people: PeopleEnv, rig: CardRig, card_ids: Any) -> None:
    token = _officer(people, rig, card_ids["rsa"])
    found = _query(people, token, name="黄秀兰")["rows"][0]
    people.client.get(
        f"/v1/border/officer/residents/{found['ref']}", headers={"x-officer-session": token}
    )
    with people.gw.db.session() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.actor, e.action) for e in entries] == [
        ("officer:GA8609001", "brd.registry.query"),
        ("officer:GA8609001", "brd.registry.detail"),
    ]
    assert entries[1].target == found["id_number"]  # masked, never the full number
    assert "黄秀兰" not in entries[0].target and HUANG.id_number not in str(
        [(e.target, e.detail) for e in entries]
    )


def test_deleting_a_resident(people: PeopleEnv) -> None:
    with people.gw.db.session() as s, pytest.raises(InvalidMessage, match="belongs"):
        registry.delete_resident(s, LI.id_number)  # a member of the group
    with people.gw.db.session() as s:
        registry.delete_resident(s, WEI.id_number)
    with people.gw.db.session() as s:
        assert registry.resident_by_number(s, WEI.id_number) is None
    assert registry_sections()  # the fixture's data is untouched


# --- the admin commands -----------------------------------------------------------------------


def _cli(config: Path, *args: str) -> tuple[int, str]:
    """The people commands under the real root command when the border system mounts them,
    else under a group giving them the root's `config_path` the same way."""
    from gateway.border import people_cli
    from gateway.core.cli import main

    root: click.Group = main
    if main.get_command(click.Context(main), args[0]) is None:
        root = click.Group("customs-gateway", commands=list(people_cli.COMMANDS))
        result = CliRunner().invoke(root, list(args), obj={"config_path": str(config)})
    else:
        result = CliRunner().invoke(root, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_admin_commands(people: PeopleEnv, tmp_path: Path, rig: CardRig, card_ids: Any) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(raw_config(tmp_path, tmp_path / "keys", prefix="brdp."), allow_unicode=True)
    )
    (tmp_path / "more.json").write_text(
        json.dumps({"residents": [resident_row(STRANGER)]}, ensure_ascii=False)
    )
    code, out = _cli(config, "brd-registry-load", str(tmp_path / "more.json"))
    assert code == 0 and json.loads(out)["residents"] == 1, out
    (tmp_path / "bad.json").write_text(json.dumps({"residents": [{"name": "x"}]}))
    code, out = _cli(config, "brd-registry-load", str(tmp_path / "bad.json"))
    assert code == 1 and "residents[0].id_number: required [R-BDR-2]" in out
    assert "Traceback" not in out
    code, out = _cli(config, "brd-residents", "--disabled")
    assert code == 0 and "韦小宝" in out and WEI.id_number not in out and "1 of 1" in out
    code, out = _cli(config, "brd-terminal-add", "T9", "--place", "8609A001", "--reader", "R")
    key = json.loads(out)["key"]
    with people.gw.db.session() as s:
        assert terminals.authenticate(s, "T9", key).reader == "R"
    code, out = _cli(config, "brd-terminal-add", "T8", "--place", "NOPE", "--reader", "R")
    assert code == 1 and "NOPE" in out and "Traceback" not in out
    rig.insert(0, card_ids["rsa"].card(OFFICER_CARD))
    code, out = _cli(config, "brd-officer-add", "GA1", "--name", "潘", "--district", "8609",
                     "--reader", reader_name(0))  # fmt: skip
    assert code == 0 and OFFICER_CARD in out, out
    code, out = _cli(config, "brd-resident-delete", STRANGER.id_number)
    assert code == 0 and STRANGER.id_number not in out


def test_the_registry_from_customs_on_the_receipts_channel(people: PeopleEnv) -> None:
    """BRD201Message in a DXP envelope: taken in by the system's reference-data handler; a
    message refused by the XSD is logged and dropped whole; other envelopes pass by."""
    from gateway.core import registry as systems
    from transports.envelope import wrap

    handlers = systems.installed().reference_handlers()
    assert registry.handle_envelope in handlers  # the border system hands it to the core
    body = registry.build_xml({"residents": [resident_row(STRANGER), resident_row(NONG)]})
    envelope = wrap(body, msg_type="BRD201Message", sender_id="DXPEDCCEB0000003",
                    receiver_ids=("X",)).body  # fmt: skip
    assert registry.handle_envelope(people.gw.db, envelope)
    with people.gw.db.session() as s:
        for who in (STRANGER, NONG):
            row = registry.resident_by_number(s, who.id_number)
            assert row is not None and row.synced
    bad = wrap(body.replace(b"<district>8609", b"<district>86", 1), msg_type="BRD201Message",
               sender_id="DXPEDCCEB0000003", receiver_ids=("X",)).body  # fmt: skip
    assert registry.handle_envelope(people.gw.db, bad)  # taken, refused, nothing loaded
    other = wrap(b"<x/>", msg_type="APT102Message", sender_id="S", receiver_ids=("X",)).body
    assert not registry.handle_envelope(people.gw.db, other)
