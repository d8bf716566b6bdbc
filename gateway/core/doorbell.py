"""Waking the worker processes of `serve --workers N --pipelines M` when a declaration is
stored by an HTTP process.

Why: in one process intake wakes the signing worker through an event; apart, nothing did,
and the worker processes looked for work every 20 ms — four loops querying the database
fifty times a second each, most of the worker processes' and a good part of PostgreSQL's
CPU at low and middle load (issue 15). The supervisor now gives each worker process the
reading end of a local datagram socket pair and every HTTP process the writing ends; a
stored declaration sends one byte to one of them, in turn. The byte carries nothing: it only
says "look now". Nothing depends on it arriving — a full socket means a wake is pending
already, and the workers still look every `--poll` seconds — so a lost ring delays, never
loses, work."""

from __future__ import annotations

import itertools
import logging
import select
import socket
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

#: a worker's wait for a ring, between looks at `stop`
LISTEN_SECONDS = 0.5


def pair() -> tuple[socket.socket, socket.socket]:
    """(reader, writer): one per worker process; the supervisor keeps both, so that a
    process it starts again gets the same ends and no ring ever finds the other end gone."""
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.setblocking(False)
    writer.setblocking(False)
    return reader, writer


class Bell:
    """The writing ends an HTTP process rings after each stored declaration: one worker
    process per declaration, in turn. Ringing all woke every worker process for each one,
    and all but one then found nothing to claim — a query each, for nothing, at every
    declaration. A worker that is busy goes on while work is left, so a ring to a busy one
    is not lost; the others still look every `--poll` seconds."""

    def __init__(self, fds: Sequence[int]) -> None:
        self.sockets = [socket.socket(fileno=fd) for fd in fds]
        for sock in self.sockets:
            sock.setblocking(False)
        self._turn = itertools.cycle(self.sockets)
        self._lock = threading.Lock()

    def ring(self) -> None:
        if not self.sockets:
            return
        with self._lock:  # rung from the HTTP threads at once
            sock = next(self._turn)
        try:
            sock.send(b"\0")
        except BlockingIOError:
            pass  # the worker has rings waiting: it will look anyway
        except OSError as exc:  # never fail a stored declaration over a wake-up
            log.debug("doorbell: %s", exc)


def listen(fd: int, wake: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """In a worker process: call `wake` when rung (once for every burst of rings)."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)

    def loop() -> None:
        while not stop.is_set():
            readable, _, _ = select.select([sock], [], [], LISTEN_SECONDS)
            if readable and _drain(sock):
                wake()

    thread = threading.Thread(target=loop, name="doorbell", daemon=True)
    thread.start()
    return thread


def _drain(sock: socket.socket) -> bool:
    rung = False
    while True:
        try:
            sock.recv(64)
        except BlockingIOError:
            return rung
        rung = True
