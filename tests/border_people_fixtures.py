"""Shared set-up of the border people tests (R-BDR-1, R-BDR-2, R-BDR-3): a gateway over a
real SQLite store with the border tables, its HTTP API, a clock the tests move, a registry
of residents and organisations, a terminal whose reader is a slot of the real PC/SC rig."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from devices.camera import SimulatedCamera
from devices.fingerprint import FVC2002_DB2_DPI, SimulatedScanner
from devices.idcard import ResidentId, ResidentIdCard, check_digit, sample_photo
from devices.rig import CardRig, reader_name
from gateway.border import officers, registry, terminals
from gateway.border.biokit import Devices, Kit
from gateway.border.biometrics import (
    FaceMatcher,
    FingerEnroller,
    KeyRing,
    MinutiaeMatcher,
    TemplateVault,
    add_key,
)
from gateway.border.people_settings import PeopleSettings
from gateway.core import keys
from gateway.core import registry as systems
from gateway.core.api import create_app
from gateway.core.runtime import Gateway
from tests.card_fixtures import PIN
from tests.stack import make_config

#: the ID-card reader of the terminals under test (slot 1; slot 0 is the officers' IC cards)
ID_SLOT = 1
PLACE = "8609A001"


def ensure_border_installed() -> None:
    """The border system (its routes and migrations hold the people side's)."""
    systems.ensure_installed(("gateway.border.system",))


def id_number(first17: str) -> str:
    return first17 + check_digit(first17)


def person(first17: str, name: str, **kw: Any) -> ResidentId:
    values: dict[str, Any] = dict(
        name=name, sex="1", ethnicity="壮", birth=date(1980, 1, 1),
        address="广西壮族自治区崇左市凭祥市友谊镇", id_number=id_number(first17),
        issuer="凭祥市公安局", valid_from=date(2019, 5, 20), valid_to=None, photo=sample_photo(),
    )  # fmt: skip
    values.update(kw)
    return ResidentId(**values)


# the people of the registry under test
HUANG = person("45148119790308021", "黄秀兰", sex="2")  # resident, group representative
LI = person("45148119800101033", "李建国")  # resident, member of the group
WEI = person("45148119810202045", "韦小宝")  # disabled (停用)
NONG = person("45148119820303057", "农志强")  # registered, not synced to customs
MO = person("45148119830404069", "莫少聪", valid_to=date(2024, 1, 1))  # expired ID card
LU = person("45148119840505071", "陆春燕", sex="2")  # registration expired
STRANGER = person("45148119850606083", "覃天明")  # not registered at all
TODAY = date(2026, 12, 4)


def resident_row(p: ResidentId, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id_number": p.id_number, "name": p.name, "sex": p.sex, "district": "8609",
        "address": p.address, "id_valid_from": p.valid_from.isoformat(),
        "id_valid_to": p.valid_to.isoformat() if p.valid_to else "长期", "status": "正常",
        "source": "服务应用系统", "registration_valid_to": "2027-04-25", "enabled": "启用",
        "synced": True,
    }  # fmt: skip
    row.update(kw)
    return row


def registry_sections() -> dict[str, list[dict[str, Any]]]:
    return {
        "places": [
            {
                "code": PLACE,
                "name": "东兴互市点",
                "district": "8609",
                "operator": "3301960Z01",
                "method": "face",
            }
        ],  # fmt: skip
        "residents": [
            resident_row(HUANG),
            resident_row(LI),
            resident_row(WEI, enabled="停用"),
            resident_row(NONG, synced=False),
            resident_row(MO, id_valid_to="2024-01-01"),
            resident_row(LU, registration_valid_to="2025-04-25"),
        ],
        "groups": [
            {
                "registration_no": "HZZ8609001",
                "name": "卡凤互助组",
                "district": "8609",
                "representative": HUANG.id_number,
                "members": [LI.id_number],
            }
        ],  # fmt: skip
    }


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 4, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-orl"
FINGERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fingerprints-fvc" / "DB2_B"


def face_frame(subject: int, image: int) -> np.ndarray[Any, Any]:
    """An ORL face as a camera frame: ORL's tight 92 x 112 crop, twice the size, on a dark
    background, so the face sits inside the portrait frame (人像框) as at a kiosk."""
    face = cv2.imread(str(FACES / f"s{subject}" / f"{image}.pgm"), cv2.IMREAD_GRAYSCALE)
    assert face is not None, f"ORL s{subject}/{image} missing (../shared/data)"
    face = cv2.resize(face, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    h, w = face.shape
    canvas = np.full((h + 40, int(w * 1.8)), 40, np.uint8)
    left = (canvas.shape[1] - w) // 2
    canvas[20 : 20 + h, left : left + w] = face
    return canvas


def camera(*frames: tuple[int, int]) -> SimulatedCamera:
    return SimulatedCamera([face_frame(s, n) for s, n in frames])


def scanner(*presses: tuple[int, int] | str) -> SimulatedScanner:
    """FVC2002 DB2_B presses as (finger, impression); "blank": a press with no ridges."""
    sources: list[Any] = [
        np.full((560, 296), 200, np.uint8) if p == "blank" else FINGERS / f"{p[0]}_{p[1]}.tif"
        for p in presses
    ]
    return SimulatedScanner(sources, FVC2002_DB2_DPI)


@dataclass
class Desks:
    """The devices of each desk (`officer:<no>`, `terminal:<id>`), set by the tests."""

    devices: dict[str, Devices] = field(default_factory=dict)

    def __call__(self, desk: str) -> Devices:
        return self.devices.setdefault(desk, Devices())


def make_kit(key_file: Path, desks: Desks) -> Kit:
    if not key_file.exists():
        add_key(key_file, "k1")
    return Kit(
        face=FaceMatcher(),
        fingers=FingerEnroller(MinutiaeMatcher()),
        vault=TemplateVault(KeyRing.from_file(key_file)),
        devices=desks,
    )


@dataclass
class PeopleEnv:
    gw: Gateway
    client: TestClient
    clock: Clock
    rig: CardRig
    desks: Desks
    kit: Kit
    terminals: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_terminal(self, terminal_id: str, slot: int = ID_SLOT) -> dict[str, str]:
        with self.gw.db.session() as s:
            key = terminals.register(s, terminal_id, PLACE, reader_name(slot))
        self.terminals[terminal_id] = {"x-terminal-id": terminal_id, "x-terminal-key": key}
        return self.terminals[terminal_id]

    def card(self, who: ResidentId, slot: int = ID_SLOT) -> None:
        self.rig.insert(slot, ResidentIdCard(who))

    def login(self, who: ResidentId, terminal: str = "T1") -> Any:
        self.card(who)
        return self.client.post("/v1/border/terminal/login", headers=self.terminals[terminal])

    def officer(self, ident: Any, officer_no: str = "GA8609001") -> dict[str, str]:
        """An officer registered with the emulated IC card of `ident`, logged in by card + PIN
        in reader 0; their session's headers."""
        number = "GACC00000000000" + officer_no[-5:]
        with self.gw.db.session() as s:
            officers.register(s, officer_no, "潘国生", "8609", number, ident.certificate)
        self.rig.insert(0, ident.card(number))
        body = {"reader": reader_name(0), "pin": PIN}
        answer = self.client.post("/v1/border/officer/login", json=body)
        assert answer.status_code == 200, answer.text
        return {"x-officer-session": answer.json()["session"]}

    def ref(self, officer: dict[str, str], who: ResidentId) -> str:
        """The registry row of `who`, found as the officer finds it (by name)."""
        found = self.client.get(
            "/v1/border/officer/residents", params={"name": who.name}, headers=officer
        ).json()["rows"]
        assert len(found) == 1
        return str(found[0]["ref"])

    def session_headers(self, token: str, terminal: str = "T1") -> dict[str, str]:
        return {**self.terminals[terminal], "x-border-session": token}

    def login_as(self, who: ResidentId, role: str = "1", registration_no: str | None = None,
                 terminal: str = "T1") -> dict[str, str]:  # fmt: skip
        answer = self.login(who, terminal)
        assert answer.status_code == 200, answer.text
        headers = self.session_headers(answer.json()["session"], terminal)
        body = {"role": role, "registration_no": registration_no}
        chosen = self.client.post("/v1/border/terminal/role", headers=headers, json=body)
        assert chosen.status_code == 200, chosen.text
        return headers


@contextmanager
def people_env(
    tmp_path: Path, keys_dir: Path, rig: CardRig, db_url: str | None = None
) -> Iterator[PeopleEnv]:
    """The gateway with the border tables and the test registry, its API, two terminals."""
    ensure_border_installed()
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="brdp.", db_url=db_url))
    gw.prepare(broker=False)
    with gw.db.session() as s:
        keys.install(s, tmp_path)
        registry.load(s, registry_sections(), from_customs=False)
    clock, desks = Clock(), Desks()
    kit = make_kit(tmp_path / "border-template-keys", desks)
    app = create_app(gw)
    app.state.border_kit = kit
    app.state.border_clock = clock
    app.state.border_settings = PeopleSettings(idle_minutes=15, verify_attempts=3)
    try:
        with TestClient(app) as client:
            env = PeopleEnv(gw, client, clock, rig, desks, kit)
            env.add_terminal("T1")
            env.add_terminal("T2")
            yield env
    finally:
        gw.db.dispose()


@pytest.fixture(name="people")
def people_fixture(tmp_path: Path, keys_dir: Path, rig: CardRig) -> Iterator[PeopleEnv]:
    with people_env(tmp_path, keys_dir, rig) as env:
        yield env


def expired(p: ResidentId) -> ResidentId:
    return replace(p, valid_to=TODAY - timedelta(days=1))
