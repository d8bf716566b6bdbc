"""A whole gateway for integration tests: its own SQLite (or PostgreSQL) database, its own
broker names on the real RabbitMQ, and optionally the simulated customs in the same process."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika
from pika.exceptions import AMQPError

from gateway.core import config as config_mod
from gateway.core import queries
from gateway.core.config import Config
from gateway.core.customs_sim import run as sim_run
from gateway.core.customs_sim.service import CustomsSim
from gateway.core.enterprises import Caller
from gateway.core.keys import write_keys_file
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from gateway.ecx.samples_lists import save_then_declare
from tests.transport_fixtures import AMQP_URL, delete_topology, unique_prefix
from transports import permissions

PG_URL = os.environ.get("PG_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/test")
ADMIN = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
EBC_KEY = "test-key-ebc"
CARRIER_KEY = "test-key-carrier"
PLATFORM = samples.Party("3301960P01", "杭州云选跨境电商平台有限公司", "DXPENT0000300001")
PAYER = samples.Party("312226T001", "杭州云付支付服务有限公司", "DXPENT0000300002")

# Each side connects as its own broker user, as in a deployment (docs/security-broker.md):
# the gateway, the simulated customs, and one user per enterprise for the inbound queue.
# AMQP_URL (guest, administrator) stays the tests' own view of the broker.
GATEWAY_AMQP_URL = os.environ.get("GATEWAY_AMQP_URL", permissions.DEMO_GATEWAY_URL)
CUSTOMS_AMQP_URL = os.environ.get("CUSTOMS_AMQP_URL", permissions.DEMO_CUSTOMS_URL)
#: broker users submitting for the two test enterprises (password = user name)
ERP_USERS = {"3301960Z01": "test-erp-3301960Z01", "3301980W02": "test-erp-3301980W02"}


def erp_url(code: str) -> str:
    """The AMQP URL an enterprise's ERP connects with (its own broker user)."""
    user = ERP_USERS[code]
    return url_as(user, user)


def url_as(user: str, password: str) -> str:
    """AMQP_URL's broker, logged in as another user."""
    parts = urlsplit(AMQP_URL)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_users_ready = False


def ensure_broker_users() -> None:
    """Create the tests' broker users and their permissions if missing (rabbitmqctl, as root:
    tests run as root here and on CI); scripts/setup.sh creates the gateway's and customs'."""
    global _users_ready
    if _users_ready:
        return
    grants = [
        permissions.gateway_grant(
            permissions.user_of(GATEWAY_AMQP_URL), permissions.password_of(GATEWAY_AMQP_URL)
        ),
        permissions.customs_grant(
            permissions.user_of(CUSTOMS_AMQP_URL), permissions.password_of(CUSTOMS_AMQP_URL)
        ),
        *(permissions.enterprise_grant(u, u, code) for code, u in ERP_USERS.items()),
    ]
    if shutil.which("rabbitmqctl"):
        try:
            permissions.apply(grants)
        except (subprocess.CalledProcessError, OSError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise RuntimeError(
                f"cannot set up the tests' broker users with rabbitmqctl ({detail!r}): run "
                "the tests as root on the broker's machine, or run scripts/setup.sh"
            ) from exc
    for url in (GATEWAY_AMQP_URL, CUSTOMS_AMQP_URL, *map(erp_url, ERP_USERS)):
        try:
            pika.BlockingConnection(pika.URLParameters(url)).close()
        except AMQPError as exc:
            raise RuntimeError(
                f"broker user {permissions.user_of(url)!r} cannot log in ({type(exc).__name__}):"
                " create it with scripts/setup.sh (or set GATEWAY_AMQP_URL / CUSTOMS_AMQP_URL "
                "to the users you have)"
            ) from exc
    _users_ready = True


def keys_file(base: Path, name: str, key: str) -> Path:
    """The tests' fixed API keys, in a private file as the configuration takes them."""
    return write_keys_file(base / "api-keys" / f"{name}.keys", [key])


def raw_config(
    base: Path, keys: Path, *, prefix: str, db_url: str | None = None, **sim: Any
) -> dict[str, Any]:
    def ent(code: str, name: str, dxp: str, key: str, suite: str) -> dict[str, Any]:
        return {
            "code": code,
            "name": name,
            "dxp_id": dxp,
            "api_keys_file": str(keys_file(base, code, key)),
            "amqp_users": [ERP_USERS[code]],
            "key": {
                "key_file": str(keys / f"{code}.key.pem"),
                "cert_file": str(keys / f"{code}.cert.pem"),
                "suite": suite,
                "generate": True,
            },
        }

    return {
        "state_dir": str(base),
        "database": {"url": db_url or f"sqlite:///{base / 'gateway.db'}"},
        "amqp": {
            "url": GATEWAY_AMQP_URL,
            "customs_url": CUSTOMS_AMQP_URL,
            "prefix": prefix,
            "delivery_limit": 3,
        },
        "intake": {"folder": str(base / "inbound"), "settle_seconds": 0.2, "poll_seconds": 0.1},
        "admin_api_keys_file": str(keys_file(base, "admin", "test-admin-key")),
        # Functional tests send wrong keys on purpose (the fuzz test, hundreds a minute): the
        # bad-key throttle is tested with its own limit (tests/test_api_keys.py).
        "auth": {"failure_limit": 100_000},
        "default_enterprise": "3301960Z01",
        "enterprises": [
            ent(
                "3301960Z01",
                "杭州云锦跨境电子商务有限公司",
                "DXPENT0000458763",
                EBC_KEY,
                "rsa-sha1",
            ),
            ent(
                "3301980W02",
                "宁波海捷国际物流有限公司",
                "DXPENT0000512209",
                CARRIER_KEY,
                "rsa-sha256",
            ),
        ],
        "customs_sim": {
            "database_url": f"sqlite:///{base / 'customs-sim.db'}",
            "declaring_delay": 0.05,
            "result_delay": 0.2,
            **sim,
        },
    }


def make_config(base: Path, keys: Path, **kw: Any) -> Config:
    return config_mod.from_dict(raw_config(base, keys, **kw), base)


@dataclass
class Stack:
    config: Config
    gateway: Gateway
    stop: threading.Event = field(default_factory=threading.Event)
    sim: CustomsSim | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def ebc(self) -> samples.Party:
        e = self.config.enterprises[0]
        return samples.Party(e.code, e.name, e.dxp_id)

    @property
    def carrier(self) -> samples.Party:
        e = self.config.enterprises[1]
        return samples.Party(e.code, e.name, e.dxp_id)

    def start(self, *, sim: bool = True, workers: bool = True) -> Stack:
        if sim:
            self.sim, sim_threads = sim_run.start(self.config, self.stop)
            self.threads += sim_threads
        if workers:
            self.threads += self.gateway.workers(self.stop)
        return self

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            channel = connection.channel()
            codes = [e.code for e in self.config.enterprises]
            delete_topology(channel, self.gateway.topology, codes)
            for code in codes:
                reply = self.gateway.topology.reply_queue(code)
                channel.queue_delete(reply)
                channel.queue_delete(self.gateway.topology.dead_queue(reply))
        finally:
            connection.close()
        self.gateway.db.dispose()

    def submit(self, data: bytes, code: str | None = None) -> Any:
        return self.gateway.intake.submit(code or self.ebc.code, data, "test")

    def declare_lists(self, data: bytes, code: str | None = None) -> Any:
        """New inventory lists as an ERP sends them: saved, then declared (R-ECX-2)."""
        return save_then_declare(lambda d: self.submit(d, code), data)

    def status(self, doc_id: int) -> str:
        with self.gateway.db.session() as session:
            return queries.get_document(session, ADMIN, doc_id).status

    def view(self, doc_id: int) -> dict[str, Any]:
        with self.gateway.db.session() as session:
            return queries.document_view(session, ADMIN, doc_id)

    def wait_status(self, doc_id: int, wanted: set[str] | str, timeout: float = 60.0) -> str:
        want = {wanted} if isinstance(wanted, str) else wanted
        return wait_value(lambda: self.status(doc_id), lambda s: s in want, timeout)

    def path(self, doc_id: int) -> list[str]:
        """The statuses the record was moved to, in order (receipts not applied left out)."""
        return [h["to"] for h in self.view(doc_id)["history"] if h["applied"]]

    def wait_reached(self, doc_id: int, wanted: str, timeout: float = 60.0) -> list[str]:
        """Wait until the record has passed through `wanted`; its path so far. For a step
        the lifecycle leaves again after a moment (an inventory list's `stored`), which a
        poll of the current status can miss on a loaded machine."""
        return wait_value(lambda: self.path(doc_id), lambda p: wanted in p, timeout)  # type: ignore[no-any-return]


def wait_value(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def new_stack(base: Path, keys: Path, *, sim: bool | None = None, **kw: Any) -> Stack:
    """`sim=False` (an idle stack's callers say so) configures nothing: the simulator runs
    only when `Stack.start(sim=True)`; other keywords are `customs_sim` settings, checked
    by the configuration's schema (a misspelt one is refused, no longer ignored)."""
    ensure_broker_users()
    cfg = make_config(base, keys, prefix=unique_prefix(), **kw)
    gw = Gateway(cfg)
    gw.prepare()
    return Stack(cfg, gw)


def declare_documents(
    stack: Stack,
    order_nos: list[str],
    logistics_nos: list[str],
    *,
    waybill: bool = True,
    wait: bool = True,
) -> list[int]:
    """Declare the order, payment receipt and (unless `waybill` is False) waybill of each
    parcel, consistent with `gateway.samples_ecx.inventory_message` of the same numbers, so
    that customs' four-document comparison (R-ECX-2) finds them; wait until stored."""
    docs = [
        *stack.submit(samples.order_message(stack.ebc, PLATFORM, order_nos)).documents,
        *stack.submit(samples.payment_message(stack.ebc, PLATFORM, PAYER, order_nos)).documents,
    ]
    if waybill:
        docs += declare_waybills(stack, order_nos, logistics_nos, wait=False)
    ids = [d.id for d in docs]
    if wait:
        for doc_id in ids:
            assert stack.wait_status(doc_id, "stored") == "stored", stack.view(doc_id)["history"]
    return ids


def declare_waybills(
    stack: Stack, order_nos: list[str], logistics_nos: list[str], *, wait: bool = True
) -> list[Any]:
    shipments = [
        samples.Shipment(n, stack.ebc, o) for o, n in zip(order_nos, logistics_nos, strict=True)
    ]
    data = samples.waybill_message(stack.carrier, shipments)
    docs = list(stack.submit(data, stack.carrier.code).documents)
    if wait:
        for doc in docs:
            assert stack.wait_status(doc.id, "stored") == "stored"
    return docs


def publish_as(url: str, exchange: str, routing_key: str, body: bytes, **props: Any) -> None:
    """Publish with confirm as the broker user of `url`, its `user_id` set (the broker checks
    it); raises pika's ChannelClosedByBroker when the broker refuses the publish."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        props.setdefault("user_id", permissions.user_of(url))
        properties = pika.BasicProperties(delivery_mode=2, **props)
        channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
    finally:
        if connection.is_open:
            connection.close()


def publish_receipt(stack: Stack, envelope: bytes, message_id: str, url: str = "") -> None:
    """A receipt envelope on the receipts exchange, as customs (or as `url`'s user)."""
    topo = stack.gateway.topology
    publish_as(
        url or stack.config.amqp.customs_url,
        topo.receipts_exchange,
        stack.ebc.dxp_id,
        envelope,
        message_id=message_id,
    )
