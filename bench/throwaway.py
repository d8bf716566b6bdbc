"""Throwaway RabbitMQ and PostgreSQL instances on their own ports and directories, so a fault
test can stop and restart them without touching the machine's shared services.

RabbitMQ: the `RABBITMQ_*` environment variables give a node its own name, ports, data and
log folders (PLATFORM.md). PostgreSQL: `initdb` and `pg_ctl` as the `postgres` user (the
server refuses to run as root) in a folder of its own, trust authentication, loopback only.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from transports import permissions

#: the shared PostgreSQL server a benchmark creates its throwaway databases on
PG_URL = os.environ.get("PG_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.2)
    raise RuntimeError(f"port {port} did not {'open' if up else 'close'} within {timeout} s")


class RabbitNode:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"chaos{self.port}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        base.mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        (base / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def url_as(self, user: str, password: str) -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/%2F"

    def add_users(self, grants: Sequence[permissions.Grant]) -> None:
        """The deployment's broker users on this node (docs/security-broker.md)."""
        ctl = shutil.which("rabbitmqctl", path="/usr/lib/rabbitmq/bin") or "rabbitmqctl"
        permissions.apply(grants, ctl=permissions.Ctl((ctl, "-n", self.name), self._env()))

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.base),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 90) -> None:
        server = shutil.which("rabbitmq-server", path="/usr/lib/rabbitmq/bin") or "rabbitmq-server"
        log = (self.base / "server.out").open("ab")
        self.process = subprocess.Popen([server], env=self._env(), stdout=log, stderr=log)
        wait_port(self.port, timeout)

    def stop(self, timeout: float = 60) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: the node shuts down cleanly
            self.process.wait(timeout)
            self.process = None
        wait_port(self.port, timeout, up=False)

    def restart(self) -> None:
        self.stop()
        self.start()


class PostgresCluster:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.data = base / "data"
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError(
                "PostgreSQL server binaries not found (scripts/setup.sh installs them)"
            )
        self.bin = Path(found[-1]).parent

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, stdout=subprocess.DEVNULL
        )

    def start(self) -> None:
        if not self.data.exists():
            self.base.mkdir(parents=True, exist_ok=True)
            self.base.parent.chmod(0o755)  # mkdtemp makes 0700: the postgres user must get in
            shutil.chown(self.base, "postgres")
            self._as_postgres(
                str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
            )
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.base / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
        )

    def restart(self) -> None:
        self.stop()
        self.start()


def fresh_database(kind: str, base: Path) -> str:
    """A new empty database: a SQLite file under `base`, or a database on `PG_URL`'s server
    (dropped by `drop_database`, so benchmarks leave nothing behind)."""
    if kind == "sqlite":
        return f"sqlite:///{base / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
        return
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
