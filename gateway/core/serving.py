"""`serve`: the gateway's process layout.

One process by default: the HTTP API and every worker (signing, relay, receipts, inbound
queue, folder, jobs) as threads. With `--workers N` (N HTTP processes) or `--pipelines M`
(M processes of workers), this process becomes a supervisor instead: it prepares the store
and the broker once, binds N listening sockets to the one port (SO_REUSEPORT: the kernel
spreads new connections evenly over them; one shared socket let the busiest process accept
nearly every keep-alive connection), and starts N processes serving HTTP, one socket each,
and M running the workers, each
a `serve` of its own (`--no-workers --http-fd`, `--no-http`). Python runs one thread at a time
per process: intake (parse, XSD, checks) and the workers then use every core. They share the
database and the broker the way several machines do (README "Several workers"): claims with
SKIP LOCKED, consumers competing, intake idempotent. A child that dies is started again.
An HTTP process that stores a declaration rings the worker processes' doorbells (local
datagram sockets the supervisor hands out, doorbell.py) instead of their polling for work.

The listening address comes first in the log (`--port 0` picks a free port and says which).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.core import doorbell
from gateway.core.config import Config
from gateway.errors import ConfigError

log = logging.getLogger("gateway")

#: a child that died is started again after this pause
RESTART_PAUSE = 1.0


@dataclass(frozen=True)
class Layout:
    host: str
    port: int
    http: bool = True
    workers: bool = True
    http_processes: int = 1
    pipelines: int = 1
    poll: float = 0.5
    http_fd: int | None = None
    #: a supervised worker process: the doorbell it listens on (doorbell.py)
    wake_fd: int | None = None
    #: a supervised HTTP process: the doorbells of the worker processes it rings
    ring_fds: tuple[int, ...] = ()
    #: the command's global options, given to the children too (-v, --json-logs)
    cli_flags: tuple[str, ...] = ()

    @property
    def supervised(self) -> bool:
        return self.http_fd is None and (self.http_processes > 1 or self.pipelines > 1)


def bind(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """A listening socket, bound before any process serves on it; `shared`: one of several
    on the same port (SO_REUSEPORT), one per HTTP process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(cfg: Config, config_path: str | None, layout: Layout) -> None:
    if layout.pipelines > 1 and cfg.database_url.startswith("sqlite"):
        # SQLite has no row locks: two signers would both claim (and send) one message
        raise ConfigError(
            "serve --pipelines: several worker processes need PostgreSQL (claims with "
            "SELECT … FOR UPDATE SKIP LOCKED); on SQLite run one (--workers N still works)"
        )
    if layout.supervised:
        Supervisor(cfg, config_path, layout).run()
    else:
        run_one(cfg, layout)


def run_one(cfg: Config, layout: Layout) -> None:
    """One process: HTTP (on its own socket or the supervisor's) and/or the workers."""
    from gateway.core.runtime import Gateway

    sock = None
    if layout.http:
        if layout.http_fd is not None:
            sock = socket.socket(fileno=layout.http_fd)
        else:
            sock = bind(layout.host, layout.port)
        log.info("gateway listening on %s (database %s)", address(sock), _db(cfg))
    gw = Gateway(cfg)
    gw.prepare_when_ready()
    stop = threading.Event()
    if layout.ring_fds:
        gw.intake.on_declared = _also(gw.intake.on_declared, doorbell.Bell(layout.ring_fds).ring)
    if layout.workers:
        gw.workers(stop, idle=layout.poll)
        if layout.wake_fd is not None:
            doorbell.listen(layout.wake_fd, gw.signer.wake.set, stop)
    if sock is None:
        log.info("gateway workers running (database %s)", _db(cfg))
        _wait_for_signal(stop)
        return
    import uvicorn

    from gateway.core.api import create_app
    from gateway.core.httpserver import uvicorn_options

    options = {**uvicorn_options(cfg), "host": layout.host, "port": layout.port}
    server = uvicorn.Server(uvicorn.Config(create_app(gw), **options))
    try:
        server.run(sockets=[sock])  # uvicorn handles SIGTERM/SIGINT: graceful shutdown
    finally:
        stop.set()


def _also(first: Callable[[], None] | None, then: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        if first is not None:
            first()
        then()

    return both


def _db(cfg: Config) -> str:
    return cfg.database_url.split("@")[-1]  # never the password


def _wait_for_signal(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    stop.wait()


class Supervisor:
    """Starts the HTTP and worker processes, starts again any that dies, stops them all on
    SIGTERM/SIGINT. Children die with it (PR_SET_PDEATHSIG) even if it is killed."""

    def __init__(self, cfg: Config, config_path: str | None, layout: Layout) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.layout = layout
        self.stop = threading.Event()
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        #: one doorbell per worker process (reader, writer), kept for restarts
        self.bells = [doorbell.pair() for _ in range(layout.pipelines if layout.workers else 0)]

    def run(self) -> None:
        from gateway.core.runtime import Gateway

        layout = self.layout
        socks = self._sockets()
        where = address(socks[0]) if socks else "no HTTP"
        log.info(
            "gateway listening on %s (database %s): %d HTTP processes, %d worker processes",
            where,
            _db(self.cfg),
            len(socks),
            layout.pipelines if layout.workers else 0,
        )
        Gateway(self.cfg).prepare_when_ready()  # migrations and topology once, before all
        commands = self._commands(socks)
        for name, (argv, fds) in commands.items():
            self._start(name, argv, fds)
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        while not self.stop.wait(0.5):
            for name, proc in list(self.children.items()):
                if proc.poll() is not None:
                    log.warning("%s exited with %s; starting it again", name, proc.returncode)
                    time.sleep(RESTART_PAUSE)
                    self._start(name, *commands[name])
        self._stop_all()

    def _sockets(self) -> list[socket.socket]:
        """One listening socket per HTTP process, all on one port (the first picks it)."""
        layout = self.layout
        if not layout.http:
            return []
        first = bind(layout.host, layout.port, shared=True)
        port = first.getsockname()[1]
        rest = [bind(layout.host, port, shared=True) for _ in range(layout.http_processes - 1)]
        return [first, *rest]

    def _commands(self, socks: list[socket.socket]) -> dict[str, tuple[list[str], list[int]]]:
        """Each child's command line and the descriptors it inherits: an HTTP process its
        socket and the writing ends of the doorbells, a worker process its doorbell's reader."""
        base = [sys.executable, "-m", "gateway.cli"]
        if self.config_path:
            base += ["--config", self.config_path]
        base += self.layout.cli_flags
        out: dict[str, tuple[list[str], list[int]]] = {}
        writers = [writer.fileno() for _reader, writer in self.bells]
        ring = ["--ring-fds", ",".join(map(str, writers))] if writers else []
        for i, sock in enumerate(socks):
            http = [*base, "serve", "--no-workers", "--http-fd", str(sock.fileno()), *ring]
            out[f"http-{i + 1}"] = (http, [sock.fileno(), *writers])
        for i, (reader, _writer) in enumerate(self.bells):
            pipeline = [*base, "serve", "--no-http", "--poll", str(self.layout.poll)]
            out[f"workers-{i + 1}"] = (
                [*pipeline, "--wake-fd", str(reader.fileno())],
                [reader.fileno()],
            )
        return out

    def _start(self, name: str, argv: list[str], fds: list[int]) -> None:
        self.children[name] = subprocess.Popen(
            argv, pass_fds=fds, preexec_fn=_die_with_parent, env=os.environ.copy()
        )
        log.info("started %s (pid %d)", name, self.children[name].pid)

    def _stop_all(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 30
        for proc in self.children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, even by kill -9."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
