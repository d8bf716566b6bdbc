"""`customs-gateway tmp-demo`: temporary goods (暂时进出境货物) through the gateway and the
simulated customs over RabbitMQ, issue 12's story in one run.

One exhibition registered and approved (展览会海关编号), the declarations linked to it loaded on
both sides, a loaned-exhibit list approved (外借清单编号), a review confirmation saved, a PDF
attached and sent to customs (TMP113), the confirmation declared and approved (确认申请书编号),
an extension approved moving its 复运出/进境日期, and its check sheet (核对单) printed: the
PDF's path is the last line.

Like `customs-gateway demo`, it runs on its own state (`<state_dir>/tmp-demo/`, wiped first)
and broker names (the configured prefix + `tmpdemo.`); the simulated customs is a separate process
(`customs-sim`), the gateway's workers run in this one, and messages go in through the
gateway's intake as `customs-gateway submit` sends them. Every failure is a line saying what
did not happen, never a traceback (exit status 1).
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pika
import yaml
from sqlalchemy import select

from gateway.core.config import Config, load
from gateway.core.demo_setup import enterprise_raw, new_keys_file, reset_broker
from gateway.core.enterprises import Caller
from gateway.core.models import Document, Enterprise, utcnow
from gateway.core.parties import Party
from gateway.core.runtime import Gateway
from gateway.errors import GatewayError, InvalidMessage
from gateway.temporary import (
    attachments,
    confirmation_queries,
    declarations,
    extension_queries,
    loan_queries,
    printing,
    queries,
    sim,
)
from gateway.temporary import samples as tmp
from gateway.temporary.codes import STATUS_NAMES
from gateway.temporary.models import TmpDeclarationGoods

#: the demo's broker names: the configured prefix + this (`tmpdemo.` on a plain install)
PREFIX = "tmpdemo."
#: statuses after which a record's way through customs is over, one way or the other
REFUSED = {"store_failed", "not_approved", "format_failed", "security_failed",
           "signing_failed", "send_failed", "returned"}  # fmt: skip


class DemoFailed(click.ClickException):
    """A step of the demo did not happen: said in one line, exit status 1."""


# --- set-up ------------------------------------------------------------------------------------


def demo_config(config: Config, base: Path) -> tuple[Config, Path]:
    """The demo's own config: fresh databases, its own broker prefix, a deterministic
    simulated customs (no random returns or format failures: the story is the same each run)."""
    raw: dict[str, Any] = {
        "state_dir": str(base),
        "database": {"url": f"sqlite:///{base / 'gateway.db'}"},
        "amqp": {
            "url": config.amqp.url,
            "customs_url": config.amqp.customs_url,
            "prefix": config.amqp.prefix + PREFIX,
            "delivery_limit": config.amqp.delivery_limit,
            "queue_type": config.amqp.queue_type,
        },
        "intake": {"folder": str(base / "inbound")},
        "admin_api_keys_file": str(new_keys_file(base, "admin")),
        "default_enterprise": config.default_enterprise,
        "enterprises": [enterprise_raw(e, base) for e in config.enterprises],
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
            "seed": config.sim.seed,
        },
    }
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return load(path), path


# --- the story ---------------------------------------------------------------------------------


class Story:
    """The demo's steps against one running gateway and simulated customs."""

    def __init__(self, cfg: Config, gw: Gateway, timeout: float) -> None:
        self.cfg, self.gw, self.timeout = cfg, gw, timeout
        ent = cfg.enterprise(None)
        self.party = Party(ent.code, ent.name, ent.dxp_id)
        with gw.db.session() as session:
            row = session.scalar(select(Enterprise).where(Enterprise.code == ent.code))
            if row is None:
                raise DemoFailed(f"enterprise {ent.code} is not registered in the demo database")
            self.caller = Caller(enterprise_id=row.id, enterprise_code=row.code)

    def submit(self, what: str, data: bytes) -> int:
        try:
            result = self.gw.intake.submit(self.party.code, data, "cli")
        except InvalidMessage as exc:
            first = exc.violations[0] if exc.violations else None
            raise DemoFailed(f"{what}: refused at intake — {first}") from None
        return int(result.documents[0].id)

    def wait(self, what: str, doc_id: int, wanted: str) -> str:
        """Poll the document until `wanted` (or a refusal, or the timeout): its status."""
        deadline = time.monotonic() + self.timeout
        seen = ""
        while time.monotonic() < deadline:
            with self.gw.db.session() as session:
                doc = session.get(Document, doc_id)
                status, info = (doc.status, doc.status_info or "") if doc else ("", "")
            if status != seen:
                _step(f"   … {STATUS_NAMES.get(status, status)} ({status})")
                seen = status
            if status == wanted:
                return status
            if status in REFUSED:
                raise DemoFailed(f"{what}: {status} — {info}")
            time.sleep(0.3)
        raise DemoFailed(f"{what}: still {seen or 'unknown'} after {self.timeout:.0f} s "
                         f"(is the simulated customs running? see its log)")  # fmt: skip

    def read(self, work: Callable[[Any], Any]) -> Any:
        with self.gw.db.session() as session:
            return work(session)


def _step(text: str) -> None:
    click.echo(text)


def _title(text: str) -> None:
    click.secho(f"\n{text}", bold=True)


def invoice_pdf() -> bytes:
    """A one-page commercial invoice, the attachment the demo uploads."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setFont("Helvetica-Bold", 16)
    page.drawString(72, 770, "COMMERCIAL INVOICE  INV-2026-0088")
    page.setFont("Helvetica", 11)
    lines = ("Vertical machining centre VMC-850, 1 set, for exhibition only",
             "Temporary import, to be re-exported after the fair",
             "Seller: Maschinenbau Demo GmbH, Stuttgart")  # fmt: skip
    for n, line in enumerate(lines):
        page.drawString(72, 740 - 18 * n, line)
    page.showPage()
    page.save()
    return out.getvalue()


def exhibition(story: Story) -> str:
    _title("① 展览会备案 Exhibition registration (TMP101)")
    message = tmp.registration_message(story.party, [tmp.Registration("EXPO-DEMO")])
    doc = story.submit("exhibition", message)
    _step(f"   declared (申报) as document {doc}; customs stores and reviews it")
    story.wait("exhibition", doc, "approved")
    view = story.read(lambda s: queries.detail(s, story.caller, doc))
    _step(f"   审核通过 approved: 展览会海关编号 {view['exhibition_no']}, "
          f"预录入编号 {view['pre_entry_no']} — {view['form']['exhibitionName']}")  # fmt: skip
    return str(view["exhibition_no"])


def linked_declarations(story: Story, number: str) -> None:
    _title("② 关联报关单 The customs declarations linked to the exhibition (reference data)")
    rows = declarations.parse(tmp.sample_declarations(number))
    with story.gw.db.session() as session:
        declarations.load(session, TmpDeclarationGoods, rows)
    from gateway.core.db import Database

    customs = Database(story.cfg.sim.database_url)
    try:
        sim.SimBase.metadata.create_all(customs.engine)
        with customs.session() as session:
            declarations.load(session, sim.SimDeclarationGoods, rows)
    finally:
        customs.dispose()
    _step(f"   {len(rows)} goods lines loaded at the gateway and at customs")


def loan_list(story: Story, number: str) -> None:
    _title("③ 外借展品清单 Loaned-exhibit list (TMP107)")
    loan = tmp.LoanList("LOAN-DEMO", number, goods=(tmp.LoanGoods(qty="1"),))
    doc = story.submit("loan list", tmp.loan_list_message(story.party, loan))
    _step(f"   declared as document {doc}: 1 立式加工中心 lent to 浙江大学机械工程学院")
    story.wait("loan list", doc, "approved")
    view = story.read(lambda s: loan_queries.detail(s, story.caller, doc))
    _step(f"   审核通过 approved: 外借清单编号 {view['loan_no']}")


def confirmation(story: Story, number: str) -> tuple[int, str]:
    _title("④ 暂时进出境审核确认 Review confirmation with a PDF attachment (TMP109 + TMP113)")
    draft = tmp.Confirmation("CONF-DEMO", number, app_status="1")
    doc = story.submit("confirmation save", tmp.confirmation_message(story.party, [draft]))
    pre = story.read(lambda s: confirmation_queries.detail(s, story.caller, doc))["pre_entry_no"]
    _step(f"   暂存 saved: 预录入确认书编号 {pre}")
    pdf = invoice_pdf()
    kept = story.read(lambda s: attachments.add(s, story.caller, doc, "invoice.pdf", pdf,
                                                utcnow()))  # fmt: skip
    _step(f"   随附单证 invoice.pdf attached ({kept['size']} bytes, sha256 {kept['sha256'][:16]}…)")
    sent = attachments.deliver(story.gw, int(kept["id"]), "cli", utcnow())
    story.wait("attachment", int(sent["document_id"]), "stored")
    _step("   customs received the file (TMP114: 随附单证已接收)")
    declared = tmp.Confirmation("CONF-DEMO", number, app_type="2",
                                documents=(("invoice.pdf", str(kept["sha256"])),))  # fmt: skip
    story.submit("confirmation declare", tmp.confirmation_message(story.party, [declared]))
    _step("   申报 declared, naming the attachment by its digest")
    story.wait("confirmation", doc, "approved")
    name, back = story.read(lambda s: attachments.download(s, story.caller, doc,
                                                           int(kept["id"])))  # fmt: skip
    same = hashlib.sha256(back).hexdigest() == kept["sha256"]
    _step(f"   downloaded back: {name}, {len(back)} bytes, " + ("same digest" if same else
          "DIGEST DIFFERS"))  # fmt: skip
    view = story.read(lambda s: confirmation_queries.detail(s, story.caller, doc))
    _step(f"   审核通过 approved: 确认申请书编号 {view['confirm_no']}, "
          f"复运出境日期 {view['return_date']} — {view['review_remarks']}")  # fmt: skip
    return doc, str(view["confirm_no"])


def extension(story: Story, doc: int, confirm_no: str) -> None:
    _title("⑤ 延期申报 Extension (TMP111)")
    old = story.read(lambda s: confirmation_queries.detail(s, story.caller, doc))["return_date"]
    asked = (datetime.strptime(old, "%Y%m%d") + timedelta(days=30)).strftime("%Y%m%d")
    ext = story.submit("extension", tmp.extension_message(
        story.party, [tmp.Extension("EXT-DEMO", confirm_no, asked)]))  # fmt: skip
    _step(f"   declared as document {ext}: 延期申请期限 {asked} (30 days more)")
    story.wait("extension", ext, "approved")
    allowed = story.read(lambda s: extension_queries.detail(s, story.caller, ext))
    new = story.read(lambda s: confirmation_queries.detail(s, story.caller, doc))["return_date"]
    _step(f"   审核通过 approved: 海关延期审核允许时间 {allowed['allowed_date']}")
    _step(
        f"   the confirmation's 复运出/进境日期 moved {old} → {new} (the deadline job watches it)"
    )


def check_sheet(story: Story, doc: int, base: Path) -> Path:
    _title("⑥ 打印 Printing the check sheet (核对单, R-TMP-2)")
    pdf = story.read(lambda s: printing.render(s, story.caller, doc, "check_sheet", utcnow()))
    path = base / "confirmation-check-sheet.pdf"
    path.write_bytes(pdf)
    _step(f"   核对单 check sheet: {path}")
    return path


def _drive(cfg: Config, gw: Gateway, base: Path, timeout: float) -> Path:
    click.secho("Temporary import/export goods demo (暂时进出境货物) — gateway + simulated "
                "customs over RabbitMQ", bold=True)  # fmt: skip
    _step(f"state in {base}, broker prefix {cfg.amqp.prefix!r}, "
          f"enterprise {cfg.enterprise(None).code}")  # fmt: skip
    story = Story(cfg, gw, timeout)
    number = exhibition(story)
    linked_declarations(story, number)
    loan_list(story, number)
    doc, confirm_no = confirmation(story, number)
    extension(story, doc, confirm_no)
    return check_sheet(story, doc, base)


def run_demo(config: Config, *, timeout: float = 90.0) -> Path:
    """Run the story; the printed check sheet's path. DemoFailed says which step failed."""
    logging.getLogger().setLevel(logging.WARNING)  # the demo's own lines tell the story
    base = config.state_dir / "tmp-demo"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    try:
        cfg, path = demo_config(config, base)
        gw = Gateway(cfg)
        gw.prepare()
        reset_broker(cfg, gw, "tmp-demo")
        gw.prepare()
    except (GatewayError, pika.exceptions.AMQPError, OSError) as exc:
        raise DemoFailed(f"set-up failed (database, keys or RabbitMQ): {exc}") from None
    stop = threading.Event()
    log = (base / "customs-sim.log").open("w")
    customs = subprocess.Popen(
        [sys.executable, "-m", "gateway.core.cli", "--config", str(path), "customs-sim"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        gw.workers(stop, folder=False)
        return _drive(cfg, gw, base, timeout)
    except DemoFailed:
        raise
    except GatewayError as exc:
        raise DemoFailed(f"the demo stopped: {exc}") from None
    finally:
        stop.set()
        customs.terminate()
        customs.wait(timeout=10)
        log.close()
        gw.db.dispose()


@click.command("tmp-demo")
@click.option("--timeout", default=90.0, show_default=True, help="seconds to wait for customs")
@click.pass_context
def demo_command(ctx: click.Context, timeout: float) -> None:
    """Temporary goods end to end: an exhibition approved, a loan list, a confirmation with a
    PDF attachment, an extension moving its date, and the printed check sheet's path."""
    try:
        config = load(ctx.obj["config_path"])
    except GatewayError as exc:
        raise DemoFailed(str(exc)) from None
    path = run_demo(config, timeout=timeout)
    click.secho(f"\nDone. 核对单 check sheet printed: {path}", fg="green")
