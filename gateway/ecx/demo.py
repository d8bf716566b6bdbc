"""`customs-gateway demo`: realistic declarations through the gateway and simulated customs.

Runs on its own state (var/demo/) and its own broker names (prefix `demo.`), so it never
mixes with a real deployment's data. The simulated customs runs as a separate process; the
gateway runs its workers and HTTP API in this one, and the declarations are pushed over
HTTP with the enterprises' API keys, as an ERP would.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn
import yaml
from lxml import etree

from gateway import xmlsafe
from gateway.core import queries, tables
from gateway.core.api import create_app
from gateway.core.config import Config, load
from gateway.core.demo_setup import enterprise_raw, new_keys_file, reset_broker
from gateway.core.enterprises import Caller
from gateway.core.runtime import Gateway
from gateway.ecx import samples

DEMO_PREFIX = "demo."
#: statuses at which the demo stops waiting: customs has answered. Only `stored` (and
#: `deleted`) are final for these kinds; the others wait on the enterprise to correct and send
#: again (R-COM-5), which the README says too (issue 17, item 6)
SETTLED = {"stored", "returned", "format_failed", "security_failed", "store_failed", "deleted"}
ADMIN = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
PLATFORM = samples.Party("3301960P01", "杭州云选跨境电商平台有限公司", "DXPENT0000300001")
PAYER = samples.Party("312226T001", "杭州云付支付服务有限公司", "DXPENT0000300002")


@dataclass(frozen=True)
class Push:
    title: str
    api_key: str
    body: bytes
    expect: str  # what the demo means to show with it


def demo_config(config: Config, base: Path, port: int) -> tuple[Config, Path]:
    """The demo's own config file: fresh databases, its own broker prefix, a free port."""
    raw: dict[str, Any] = {
        "state_dir": str(base),
        "database": {"url": f"sqlite:///{base / 'gateway.db'}"},
        "amqp": {
            "url": config.amqp.url,
            "customs_url": config.amqp.customs_url,  # the simulator's own broker user
            "prefix": DEMO_PREFIX,
            "delivery_limit": config.amqp.delivery_limit,
            "queue_type": config.amqp.queue_type,
        },
        "http": {"host": "127.0.0.1", "port": port},
        "intake": {"folder": str(base / "inbound")},
        # Fresh keys for this run, in private files (no well-known key is shipped).
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
            "result_delay": 1.2,
            "return_rate": max(config.sim.return_rate, 0.25),
            "format_failure_rate": max(config.sim.format_failure_rate, 0.15),
            "seed": config.sim.seed,
        },
    }
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
    return load(path), path


# --- the declarations -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _party(config: Config, index: int) -> samples.Party:
    ent = config.enterprises[index]
    return samples.Party(ent.code, ent.name, ent.dxp_id)


def _edit(data: bytes, local: str, text: str | None, nth: int = 0) -> bytes:
    """Change (or, with text None, remove) the nth element named `local` in a message."""
    root = xmlsafe.parse(data).getroot()
    found = [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == local]
    element = found[nth]
    if text is None:
        element.getparent().remove(element)
    else:
        element.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def pushes(config: Config, count: int) -> list[Push]:
    ebc, carrier = _party(config, 0), _party(config, 1)
    ebc_key, carrier_key = config.enterprises[0].api_keys[0], config.enterprises[1].api_keys[0]
    orders = samples.order_numbers(count)
    batches = _chunks(orders, 2)
    shipments = [(no.replace("EO", "YT"), ebc) for no in orders]
    good = [
        Push(
            f"orders {', '.join(b)}",
            ebc_key,
            samples.order_message(ebc, PLATFORM, b, seed=1),
            "accepted",
        )
        for b in batches
    ]
    good += [
        Push(
            f"payments for {len(b)} orders",
            ebc_key,
            samples.payment_message(ebc, PLATFORM, PAYER, b, seed=1),
            "accepted",
        )
        for b in _chunks(orders, 3)
    ]
    good += [
        Push(
            f"waybills for {len(b)} parcels",
            carrier_key,
            samples.waybill_message(carrier, b, seed=1),
            "accepted",
        )
        for b in [shipments[i : i + 3] for i in range(0, len(shipments), 3)]
    ]
    bad_sum = samples.order_message(ebc, PLATFORM, [orders[0] + "X"], seed=2)
    no_order_no = samples.order_message(ebc, PLATFORM, [orders[0] + "Y"], seed=3)
    return good + [
        Push("the first orders sent again", ebc_key, good[0].body, "same records (idempotent)"),
        Push(
            "order whose goodsValue is not the sum of its lines",
            ebc_key,
            _edit(bad_sum, "goodsValue", "999.99"),
            "refused: R-ECX-1.sum",
        ),
        Push(
            "order without orderNo",
            ebc_key,
            _edit(no_order_no, "orderNo", None),
            "refused: R-COM-1 (XSD)",
        ),
        Push(
            "an existing order sent again as new (appType 1)",
            ebc_key,
            samples.order_message(ebc, PLATFORM, orders[:1], seed=9),
            "refused: R-COM-5.duplicate",
        ),
        Push(
            "the carrier's waybill sent with the e-commerce firm's API key",
            ebc_key,
            samples.waybill_message(carrier, shipments[:1], seed=4),
            "refused: R-COM-3",
        ),
    ]


# --- running ----------------------------------------------------------------------------------


def _post(client: httpx.Client, push: Push) -> tuple[int, dict[str, Any]]:
    resp = client.post(
        "/v1/messages",
        content=push.body,
        headers={"X-API-Key": push.api_key, "Content-Type": "application/xml"},
    )
    return resp.status_code, resp.json()


def _show_push(push: Push, code: int, answer: dict[str, Any]) -> list[int]:
    click.secho(f"\n▶ {push.title}  — expected: {push.expect}", bold=True)
    if code in (200, 201):
        docs = answer["documents"]
        tag = "duplicate: " if answer.get("duplicate") else ""
        click.echo(
            f"  HTTP {code} {tag}message {answer['message_id']}, "
            + ", ".join(f"#{d['id']} {d['kind']} {d['business_key']}" for d in docs)
        )
        return [d["id"] for d in docs]
    click.secho(f"  HTTP {code} {answer.get('error')}: ", fg="yellow")
    for v in answer.get("violations", [])[:4]:
        click.echo(f"    [{v['rule']}] {v['field']}: {v['message']}")
    return []


def _wait(gw: Gateway, ids: set[int], timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    with tables.progress("customs answering", total=len(ids)) as bar:
        done = 0
        while True:
            with gw.db.session() as session:
                states = {i: queries.get_document(session, ADMIN, i).status for i in ids}
            settled = sum(s in SETTLED for s in states.values())
            bar.advance(settled - done)
            done = settled
            if settled == len(states) or time.monotonic() > deadline:
                return states
            time.sleep(0.3)


def _fix_returned(client: httpx.Client, config: Config, gw: Gateway, ids: set[int]) -> set[int]:
    """Returned orders are corrected and sent again with appType 2 (R-COM-5)."""
    ebc = _party(config, 0)
    with gw.db.session() as session:
        docs = [queries.get_document(session, ADMIN, i) for i in sorted(ids)]
        returned = [d for d in docs if d.status == "returned" and d.kind == "order"]
    fixed: set[int] = set()
    for doc in returned:
        order_no = doc.business_key.split("|")[1]
        body = samples.order_message(ebc, PLATFORM, [order_no], app_type="2", seed=1)
        push = Push(
            f"returned order {order_no} corrected (appType 2)",
            config.enterprises[0].api_keys[0],
            body,
            "accepted as version 2",
        )
        fixed |= set(_show_push(push, *_post(client, push)))
    return fixed


def _report(gw: Gateway, ids: set[int]) -> Counter[tuple[str, str]]:
    from gateway.core.cli import _print_document

    click.secho("\n══ Every declaration with its history ══", bold=True)
    with gw.db.session() as session:
        views = [queries.document_view(session, ADMIN, i) for i in sorted(ids)]
    for view in views:
        click.echo()
        _print_document(view)
    return Counter((v["kind"], v["status"]) for v in views)


def _summary(counts: Counter[tuple[str, str]], refused: int, duplicates: int) -> None:
    click.secho("\n══ Summary ══", bold=True)
    statuses = sorted({s for _, s in counts})
    kinds = sorted({k for k, _ in counts})
    rows = []
    for kind in kinds:
        row = [counts.get((kind, s), 0) for s in statuses]
        rows.append((kind, *row, sum(row)))
    tables.table(("kind", *statuses, "total"), rows, right=(*statuses, "total"))
    click.echo(f"\nrefused at intake: {refused}   sent twice, stored once: {duplicates}")


def _final(kind: str, status: str) -> bool:
    """Final for the kind (stored, for orders, payments and waybills), as the README says."""
    from gateway.core import registry
    from gateway.core.status import status_of

    found = registry.kind(kind)
    return found is not None and found.is_final(status_of(status))


def run_demo(config: Config, *, count: int = 6, timeout: float = 90.0) -> int:
    logging.getLogger().setLevel(logging.WARNING)  # the demo's own output tells the story
    base = config.state_dir / "demo"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    cfg, path = demo_config(config, base, _free_port())
    gw = Gateway(cfg)
    gw.prepare()
    reset_broker(cfg, gw, "demo-reset")
    gw.prepare()
    stop = threading.Event()
    sim = subprocess.Popen(
        [sys.executable, "-m", "gateway.core.cli", "--config", str(path), "customs-sim"],
        stdout=(base / "customs-sim.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(gw), host="127.0.0.1", port=cfg.http.port, log_level="warning")
    )
    threading.Thread(target=server.run, name="http", daemon=True).start()
    try:
        gw.workers(stop, folder=False)
        return _drive(cfg, gw, count, timeout)
    finally:
        server.should_exit = True
        stop.set()
        sim.terminate()
        sim.wait(timeout=10)


def _drive(cfg: Config, gw: Gateway, count: int, timeout: float) -> int:
    click.secho("Customs EDI gateway demo — pushing declarations over HTTP", bold=True)
    click.echo(
        f"state in {cfg.state_dir}, broker prefix {cfg.amqp.prefix!r}, "
        f"customs returns ~{cfg.sim.return_rate:.0%}, "
        f"format failures ~{cfg.sim.format_failure_rate:.0%}"
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{cfg.http.port}", timeout=30) as client:
        _await_http(client)
        ids: set[int] = set()
        refused = duplicates = 0
        for push in pushes(cfg, count):
            code, answer = _post(client, push)
            ids |= set(_show_push(push, code, answer))
            refused += code >= 400
            duplicates += bool(answer.get("duplicate"))
        click.secho("\n… waiting for customs' receipts", bold=True)
        _wait(gw, ids, timeout)
        if _fix_returned(client, cfg, gw, ids):
            _wait(gw, ids, timeout)
    answered = _wait(gw, ids, 0)
    counts = _report(gw, ids)
    _summary(counts, refused, duplicates)
    unsettled = [i for i, s in answered.items() if s not in SETTLED]
    if unsettled:
        click.secho(
            f"\n{len(unsettled)} declaration(s) customs did not answer in time: {unsettled}",
            fg="red",
        )
        return 1
    final = sum(n for (kind, status), n in counts.items() if _final(kind, status))
    click.secho(
        f"\ncustoms answered all {len(answered)} declarations: {final} in a final status"
        f" (stored), {len(answered) - final} waiting on the enterprise to correct and send"
        " again (returned or failed, R-COM-5)",
        fg="green",
    )
    return 0


def _await_http(client: httpx.Client) -> None:
    for _ in range(100):
        try:
            client.get("/healthz")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise click.ClickException("the demo's HTTP API did not start")


__all__ = ["run_demo"]


@click.command("demo")
@click.option("--count", default=6, show_default=True, help="orders per batch")
@click.option("--timeout", default=90.0, show_default=True, help="seconds to wait for customs")
@click.pass_context
def demo_command(ctx: click.Context, count: int, timeout: float) -> None:
    """Push realistic declarations through the gateway and simulated customs; show statuses."""
    sys.exit(run_demo(load(ctx.obj["config_path"]), count=count, timeout=timeout))
