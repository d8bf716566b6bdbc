"""`customs-gateway bdr-demo`: border residents' trade through the gateway and the simulated
customs over RabbitMQ — one resident and one cooperative representative (issue 13, item 10).

1. Local commerce's registry is loaded (a supervised place whose operator signs, a resident,
   a cooperative with its representative and two members), the goods catalogue, a terminal.
2. An officer enrols each person's face (补录) from the officer desk's camera.
3. The resident logs in by ID card (身份证识别, read over PC/SC) and picks 边民 (R-BDR-1).
4. She declares an entry in 区内交易 (01): no biometric check (R-BDR-6), sent, released.
5. She declares an entry in 落地加工 by road: the terminal's camera checks her face (the
   place's method), signed with the operator's key, sent, released (单证放行).
6. An entry naming 不丹 as trade country: customs returns it (退单) with the manual's reason
   (贸易国别非法, R-BDR-9).
7. The cooperative's representative logs in by ID card and picks 合作社.
8. She declares an import: checked at the terminal, it waits (待认证); a stranger's face for
   the first member is refused, her own passes, the second member passes; it goes to customs
   and is released.

The ID cards are emulated cards in a private pcscd this process starts (devices/rig.py, the
machinery of `emulated_cards`; root, pcscd and vsmartcard-vpcd needed). Where that cannot run
the demo says so in one line and builds the declarants from the registry instead, labelled.
The cameras replay portraits of the ORL face database (`--faces`, default
`$CUSTOMS_GATEWAY_DEMO_FACES` or `../shared/data/faces-orl`): the face matching is the real one.
Without a face set the demo says in one line what it needs and runs the steps that need no
face (3, 4, 6). It runs on its own state (`<state_dir>/bdr-demo/`, wiped first) and broker
names (the configured prefix + `bdrdemo.`), the simulated customs in this process.
Every failure is a line saying what did not happen, never a traceback (exit status 1).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import pika
import yaml
from sqlalchemy import select

from devices import pcsc
from devices.camera import SimulatedCamera
from devices.idcard import ResidentId, ResidentIdCard, check_digit, sample_photo
from devices.rig import CardRig, reader_name
from gateway.border import (
    declarations,
    enrolment,
    queries,
    registry,
    samples,
    sessions,
    store,
    terminals,
)
from gateway.border.biokit import Devices, Kit, vault_from
from gateway.border.biometrics import FaceMatcher, FingerEnroller, MinutiaeMatcher
from gateway.border.codes import BdrStatus, BusinessMode, Form, status_name
from gateway.border.identity import Declarant, Organisation, Role, mask_id
from gateway.border.people_models import BrdResident
from gateway.border.verification import TerminalGate, authenticate_delegate
from gateway.core import emulated_cards
from gateway.core.config import Config, load
from gateway.core.customs_sim import run as sim_run
from gateway.core.demo_setup import enterprise_raw, reset_broker
from gateway.core.keys import new_key, write_keys_file
from gateway.core.models import Document, utcnow
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.errors import GatewayError

PREFIX = "bdrdemo."
FACES_ENV = "CUSTOMS_GATEWAY_DEMO_FACES"
IDLE = timedelta(minutes=15)
TERMINAL = "T-860901-01"
REFUSED = {
    "store_failed",
    "returned",
    "format_failed",
    "security_failed",
    "signing_failed",
    "send_failed",
    "auth_timeout",
}


class DemoFailed(click.ClickException):
    """A step of the demo did not happen: said in one line, exit status 1."""


def _id(first17: str) -> str:
    return first17 + check_digit(first17)


#: the people of the story: (ID number, name, ORL subject of their face)
RESIDENT = (_id("53282219800101214"), "岩温", 1)
REPRESENTATIVE = (_id("53282219770707152"), "玉香", 2)
MEMBERS = ((_id("53282219850202331"), "岩罕", 3), (_id("53282219900303112"), "玉儿", 4))
STRANGER_FACE = 9
COOPERATIVE = ("HZS8609000003", "勐海县打洛边民互市合作社", "93532822MA6N7X1A2B")


# --- set-up ------------------------------------------------------------------------------------


def demo_config(config: Config, base: Path) -> Config:
    """The demo's own config: fresh databases, its own broker names, the configured
    enterprises (the default one operates the demo's place), a deterministic customs."""
    keys = write_keys_file(base / "api-keys" / "admin.keys", [new_key()])
    raw: dict[str, Any] = {
        "state_dir": str(base),
        "database": {"url": f"sqlite:///{base / 'gateway.db'}"},
        "amqp": {
            "url": config.amqp.url,
            "customs_url": config.amqp.customs_url,
            "prefix": config.amqp.prefix + PREFIX,
            "queue_type": config.amqp.queue_type,
        },
        "admin_api_keys_file": str(keys),
        "default_enterprise": config.default_enterprise,
        "enterprises": [enterprise_raw(e) for e in config.enterprises],
        "emulated_cards": [
            {k: str(v) if isinstance(v, Path) else v for k, v in vars(c).items()}
            for c in config.emulated_cards
        ],
        "customs_sim": {
            "database_url": f"sqlite:///{base / 'customs-sim.db'}",
            "declaring_delay": 0.3,
            "result_delay": 1.0,
            "return_rate": 0.0,
            "format_failure_rate": 0.0,
        },
    }
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return load(path)


def _frame(faces: Path, subject: int, image: int) -> np.ndarray[Any, Any]:
    """An ORL portrait as a kiosk camera frame (twice the size, inside the portrait frame)."""
    face = cv2.imread(str(faces / f"s{subject}" / f"{image}.pgm"), cv2.IMREAD_GRAYSCALE)
    if face is None:
        raise DemoFailed(f"no face image {faces}/s{subject}/{image}.pgm (--faces DIR)")
    face = cv2.resize(face, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    h, w = face.shape
    canvas = np.full((h + 40, int(w * 1.8)), 40, np.uint8)
    left = (canvas.shape[1] - w) // 2
    canvas[20 : 20 + h, left : left + w] = face
    return canvas


class Story:
    def __init__(
        self,
        gw: Gateway,
        kit: Kit,
        desks: dict[str, Devices],
        faces: Path | None,
        timeout: float,
    ) -> None:
        self.gw, self.kit, self.desks, self.faces, self.timeout = gw, kit, desks, faces, timeout
        self.gate = TerminalGate(gw.db, lambda: kit)
        self.terminal_key = ""
        self.cards: CardRig | None = None
        self.slot = 0

    def camera(self, desk: str, subject: int, *images: int) -> None:
        frames = [self.frame(subject, n) for n in images]
        self.desks[desk] = Devices(camera=SimulatedCamera(frames, desk))

    def frame(self, subject: int, image: int) -> np.ndarray[Any, Any]:
        assert self.faces is not None
        return _frame(self.faces, subject, image)

    def png(self, subject: int, image: int) -> bytes:
        ok, data = cv2.imencode(".png", self.frame(subject, image))
        if not ok:
            raise DemoFailed("could not encode a face image")
        return bytes(data.tobytes())

    def wait(self, what: str, record_id: int, wanted: str) -> str:
        """Follow the record until `wanted`; its status information (customs' words)."""
        deadline, seen = time.monotonic() + self.timeout, ""
        while time.monotonic() < deadline:
            with self.gw.db.session() as s:
                doc = s.get(Document, record_id)
                status, info = (doc.status, doc.status_info or "") if doc else ("", "")
            if status != seen:
                click.echo(f"   … {status_name(status)} ({status})")
                seen = status
            if status == wanted:
                return info
            if status in REFUSED:
                raise DemoFailed(f"{what}: {status} — {info}")
            time.sleep(0.3)
        raise DemoFailed(f"{what}: still {seen or 'unknown'} after {self.timeout:.0f} s")


def _title(text: str) -> None:
    click.secho(f"\n{text}", bold=True)


def _person(who: tuple[str, str, int]) -> dict[str, str]:
    return {
        "id_number": who[0],
        "name": who[1],
        "sex": "2",
        "district": "8609",
        "address": "云南省西双版纳州勐海县打洛镇",
        "id_valid_from": "2019-12-13",
        "id_valid_to": "长期",
        "status": "正常",
        "source": "服务应用系统",
        "registration_valid_to": "2030-12-31",
        "enabled": "启用",
    }


def load_registry(story: Story, operator: str) -> None:
    _title("① 备案 Local commerce's registry, the place, the goods catalogue, a terminal")
    sections: dict[str, list[dict[str, Any]]] = {
        "places": [
            {
                "code": samples.PLACE_CODE,
                "name": samples.PLACE_NAME,
                "district": "8609",
                "operator": operator,
                "method": "face",
            }
        ],
        "residents": [_person(p) for p in (RESIDENT, REPRESENTATIVE, *MEMBERS)],
        "cooperatives": [
            {
                "registration_no": COOPERATIVE[0],
                "name": COOPERATIVE[1],
                "uscc": COOPERATIVE[2],
                "district": "8609",
                "representative": REPRESENTATIVE[0],
                "members": [m[0] for m in MEMBERS],
            }
        ],
    }
    with story.gw.db.session() as s:
        registry.load(s, sections, from_customs=True)
        store.load_catalogue(s, samples.CATALOGUE)
        story.terminal_key = terminals.register(
            s, TERMINAL, samples.PLACE_CODE, reader_name(story.slot)
        )
    click.echo(
        f"   place {samples.PLACE_CODE} {samples.PLACE_NAME} (face), signed by {operator}; "
        f"4 residents, 1 cooperative; {len(samples.CATALOGUE)} catalogue entries; "
        f"terminal {TERMINAL}, ID-card reader {reader_name(story.slot)!r}"
    )


def enrol_faces(story: Story) -> None:
    _title("② 补录 An officer enrols each person's face")
    for number, name, subject in (RESIDENT, REPRESENTATIVE, *MEMBERS):
        story.camera("officer:demo", subject, 1)
        with story.gw.db.session() as s:
            row = s.scalar(select(BrdResident).where(BrdResident.id_number == number))
            assert row is not None
            enrolment.start(s, row)
            step = enrolment.face(s, story.kit, "officer:demo", row, "GA8609001")
            if not step.ok:
                raise DemoFailed(f"enrolling {name}'s face: {step.message}")
            enrolment.save(s, row, "GA8609001", utcnow())
        click.echo(f"   {name} ({mask_id(number)}): 人脸 enrolled")


def _card_of(who: tuple[str, str, int]) -> ResidentId:
    return ResidentId(
        name=who[1], sex="2", ethnicity="傣", birth=date(1980, 1, 1),
        address="云南省西双版纳州勐海县打洛镇", id_number=who[0], issuer="勐海县公安局",
        valid_from=date(2019, 12, 13), valid_to=None, photo=sample_photo(),
    )  # fmt: skip


def log_in(
    story: Story, who: tuple[str, str, int], role: Role, registration_no: str | None = None
) -> Declarant:
    """身份证识别 then 身份选择 (R-BDR-1): the card on the terminal's reader, read over PC/SC."""
    if story.cards is None:
        click.echo(f"   [no PC/SC: {who[1]} built from the registry, not logged in by ID card]")
        return _registry_declarant(story, who, role)
    story.cards.insert(story.slot, ResidentIdCard(_card_of(who)))
    now = utcnow()
    try:
        with story.gw.db.session() as s:
            terminal = terminals.authenticate(s, TERMINAL, story.terminal_key)
            login = sessions.login_by_card(s, terminal, now)
            offered = "、".join(sessions.ROLE_LABEL[r.role] for r in login.roles)
            click.echo(f"   身份证识别: {login.name} {login.masked_id} — roles offered: {offered}")
            who_now = sessions.choose(
                s, terminal, login.token, role.value, registration_no, now, IDLE
            )
    finally:
        story.cards.pull(story.slot)
    org = f" of {who_now.organisation.name}" if who_now.organisation else ""
    click.echo(f"   身份选择: {sessions.ROLE_LABEL[who_now.role]}{org}; session at {TERMINAL}")
    return who_now


def _registry_declarant(story: Story, who: tuple[str, str, int], role: Role) -> Declarant:
    org: Organisation | None = None
    members: tuple[str, ...] = ()
    if role is Role.COOPERATIVE_REPRESENTATIVE:
        org, members = Organisation(*COOPERATIVE), tuple(sorted(m[0] for m in MEMBERS))
    return Declarant(
        id_number=who[0],
        name=who[1],
        role=role,
        district=samples.DISTRICT,
        terminal_id=TERMINAL,
        place_code=samples.PLACE_CODE,
        organisation=org,
        members=members,
    )


def _declare(story: Story, who: Declarant, form: Form, values: dict[str, Any]) -> Any:
    done = declarations.declare(story.gw.db, story.gw.intake, who, form, values, story.gate)
    click.echo(
        f"   预录入编号 {done.pre_entry_no}: face check {done.biometric}, "
        f"{status_name(done.status)}"
    )
    return done


def entry_without_check(story: Story, who: Declarant) -> None:
    _title("④ 进境申报单 区内交易 (01): no biometric check (R-BDR-6)")
    done = _declare(story, who, Form.ENTRY, samples.entry_form(mode=BusinessMode.IN_ZONE))
    story.wait("entry declaration (区内交易)", done.record_id, BdrStatus.DOC_RELEASED.value)


def entry_with_check(story: Story, who: Declarant) -> None:
    _title("⑤ 进境申报单 落地加工 by road: the terminal's camera checks her face")
    story.camera(f"terminal:{TERMINAL}", RESIDENT[2], 2, 3, 4)
    form = samples.entry_form(mode=BusinessMode.LANDED_PROCESSING)
    done = _declare(story, who, Form.ENTRY, form)
    story.wait("entry declaration (落地加工)", done.record_id, BdrStatus.DOC_RELEASED.value)
    _page(story, who, Form.ENTRY)


def returned_entry(story: Story, who: Declarant) -> None:
    _title("⑥ 退单 An entry naming 不丹 (BTN) as trade country: customs returns it (R-BDR-9)")
    done = _declare(story, who, Form.ENTRY, samples.entry_form(country="BTN"))
    story.wait("the entry customs should return", done.record_id, Status.RETURNED.value)
    with story.gw.db.session() as s:
        page = queries.records(
            s, who, Form.ENTRY, queries.Conditions(pre_entry_no=done.pre_entry_no)
        )
    for row in page["records"]:
        click.echo(f"   审核意见 (customs' reason): {row['reviewOpinion']}")
        click.echo(f"   operations offered: {', '.join(row['operations'])}")


def cooperative_import(story: Story, who: Declarant) -> None:
    _title("⑧ 进口申报单 The cooperative's representative declares an import (待认证)")
    story.camera(f"terminal:{TERMINAL}", REPRESENTATIVE[2], 2, 3, 4)
    done = _declare(story, who, Form.IMPORT, samples.import_form())
    first, second = MEMBERS
    tries = ((first, STRANGER_FACE), (first, first[2]), (second, second[2]))
    for (number, name, _subject), face in tries:
        outcome, after = authenticate_delegate(
            story.gw.db, story.kit, done.record_id, number, story.png(face, 5)
        )
        said = "passed" if outcome.passed else f"refused ({outcome.reason})"
        click.echo(f"   委托边民 {name}: face authentication {said} → {status_name(after.status)}")
    story.wait("import declaration", done.record_id, BdrStatus.DOC_RELEASED.value)
    _page(story, who, Form.IMPORT)


def _page(story: Story, who: Declarant, form: Form) -> None:
    with story.gw.db.session() as s:
        page = queries.documents(s, who, form, queries.Conditions(quick="today"))
    for row in page["records"]:
        click.echo(
            f"   单据查询: {row['declNo']} {row['declarantName']} {row['idNumber']} "
            f"{row['businessModeName']} {row['statusName']}"
        )


def _id_cards(cfg: Config) -> tuple[CardRig | None, int]:
    """The ID-card reader: a spare reader of the process's emulated-card rig (one pcscd per
    process); None, said in one line, where this host cannot run it."""
    missing = pcsc.missing_tools()
    if missing:
        click.echo(
            "   no private pcscd here (missing: " + ", ".join(missing) + "): the declarants "
            "are built from the registry instead of an ID-card login"
        )
        return None, 0
    try:
        return emulated_cards.rig_with_spare_slots(cfg, 1)
    except GatewayError as exc:
        click.echo(f"   no private pcscd ({exc}): declarants built from the registry instead")
        return None, 0


def _story(story: Story, operator: str) -> None:
    load_registry(story, operator)
    if story.faces is not None:
        enrol_faces(story)
    _title("③ 身份证识别 The resident logs in by ID card at the terminal")
    resident = log_in(story, RESIDENT, Role.RESIDENT)
    entry_without_check(story, resident)
    if story.faces is not None:
        entry_with_check(story, resident)
    returned_entry(story, resident)
    if story.faces is None:
        return
    _title("⑦ 身份证识别 The cooperative's representative logs in by ID card")
    rep = log_in(story, REPRESENTATIVE, Role.COOPERATIVE_REPRESENTATIVE, COOPERATIVE[0])
    cooperative_import(story, rep)


def run_demo(config: Config, faces: Path | None, timeout: float = 90.0) -> None:
    """The story; `faces` None: the steps that need no face only."""
    logging.getLogger().setLevel(logging.WARNING)
    base = config.state_dir / "bdr-demo"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    stop = threading.Event()
    try:
        cfg = demo_config(config, base)
        gw = Gateway(cfg)
        gw.prepare()
        reset_broker(cfg, gw, "bdr-demo")
        gw.prepare()
    except (GatewayError, pika.exceptions.AMQPError, OSError) as exc:
        raise DemoFailed(f"set-up failed (database, keys or RabbitMQ): {exc}") from None
    try:
        _sim, threads = sim_run.start(cfg, stop)
        gw.workers(stop, folder=False)
        desks: dict[str, Devices] = {}
        kit = Kit(
            face=FaceMatcher(),
            fingers=FingerEnroller(MinutiaeMatcher()),
            vault=vault_from(base / "template-keys"),
            devices=lambda desk: desks.setdefault(desk, Devices()),
        )
        story = Story(gw, kit, desks, faces, timeout)
        click.secho(
            "Border residents' trade demo (边民互市) — gateway + simulated customs over RabbitMQ",
            bold=True,
        )
        story.cards, story.slot = _id_cards(cfg)
        _story(story, cfg.enterprise(None).code)
    except DemoFailed:
        raise
    except GatewayError as exc:
        raise DemoFailed(f"the demo stopped: {exc}") from None
    finally:
        stop.set()
        gw.db.dispose()


def _default_faces() -> Path:
    found = os.environ.get(FACES_ENV)
    if found:
        return Path(found)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "faces-orl"


def _face_set(faces: Path) -> Path | None:
    """The ORL face set if it is there (s1/1.pgm …); None, said in one line, otherwise."""
    if (faces / "s1" / "1.pgm").is_file():
        return faces
    click.echo(
        f"No face set at {faces}: the face steps need the ORL faces (s1/1.pgm …) given by "
        f"--faces DIR or {FACES_ENV}; running the steps that need no face."
    )
    return None


@click.command("bdr-demo")
@click.option(
    "--faces",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"the ORL face database (s1/1.pgm …); default ${FACES_ENV}",
)
@click.option("--timeout", default=90.0, show_default=True, help="seconds to wait for customs")
@click.pass_context
def demo_command(ctx: click.Context, faces: Path | None, timeout: float) -> None:
    """Border trade end to end: ID-card logins, a resident's entry without the biometric
    check and one with it, a customs return, a cooperative's import waiting for its members'
    face authentication, then released."""
    try:
        config = load(ctx.obj["config_path"])
    except GatewayError as exc:
        raise DemoFailed(str(exc)) from None
    found = _face_set(faces or _default_faces())
    run_demo(config, found, timeout)
    if found is None:
        click.secho("\nDone, without the face steps (②, ⑤, ⑦, ⑧): give --faces DIR.", fg="yellow")
    else:
        click.secho("\nDone.", fg="green")
