"""The vpcd wire protocol: how an emulated card plugs into Debian's virtual reader driver.

pcscd loads `libifdvpcd.so` (package vsmartcard-vpcd); with DEVICENAME `/dev/null:PORT` the
driver listens on PORT (first slot) and PORT+1 (second slot) for a card to connect. Each
frame is a 2-byte big-endian length and a payload; a 1-byte payload is a control code,
anything longer a command APDU answered with response data + SW1 SW2.

A `CardSlot` is the card side of one slot: it connects, serves the frames from a thread,
and `pull()` closes the connection the way a card leaves a reader (pyscard then
raises "Card was removed"). `TCP_QUICKACK` is set before every `recv`: without it each APDU
stalls about 50 ms on delayed ACKs.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Callable
from enum import IntEnum
from typing import Protocol

log = logging.getLogger(__name__)

#: the driver's default port (CHANNELID 0x8C7B); the second slot listens on PORT + 1
DEFAULT_PORT = 0x8C7B


class Control(IntEnum):
    POWER_OFF = 0
    POWER_ON = 1
    RESET = 2
    GET_ATR = 4


class VirtualCard(Protocol):
    """What a slot needs from an emulated card."""

    @property
    def atr(self) -> bytes: ...

    def reset(self) -> None:
        """Power-on or reset: forget the selected application and verified PIN."""
        ...

    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU with response data + SW1 SW2."""
        ...


def _read_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        with contextlib.suppress(OSError):  # not every socket supports it (ignored then)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(conn: socket.socket) -> bytes | None:
    """One frame's payload, or None when the peer closed the connection."""
    head = _read_exact(conn, 2)
    if head is None:
        return None
    (size,) = struct.unpack(">H", head)
    return _read_exact(conn, size) if size else b""


def write_frame(conn: socket.socket, payload: bytes) -> None:
    conn.sendall(struct.pack(">H", len(payload)) + payload)


class CardSlot:
    """One vpcd slot: `insert` connects a card to the driver's port, `pull` hangs up.

    The driver listens (DEVICENAME `/dev/null:PORT`); `connect` opens the socket to it —
    `devices.pcsc.PrivatePcscd.connector` opens it inside pcscd's private network namespace,
    so the reader is reachable from loopback of that namespace only. (In Debian's vpcd 3.3 the
    reverse mode, DEVICENAME `127.0.0.1:PORT`, aborts pcscd as soon as a card connection
    closes: a pulled card would take the daemon down.)
    """

    def __init__(self, port: int, connect: Callable[[int], socket.socket]) -> None:
        self.port = port
        self._connect = connect
        self.card: VirtualCard | None = None
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def insert(self, card: VirtualCard) -> None:
        self.pull()
        with self._lock:
            conn = self._connect(self.port)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.card, self._conn = card, conn
            self._thread = threading.Thread(
                target=self._session, args=(conn, card), name=f"vpcd-{self.port}", daemon=True
            )
            self._thread.start()

    def pull(self) -> None:
        """Take the card out: close the connection, even in the middle of an APDU."""
        with self._lock:
            conn, self._conn, self.card = self._conn, None, None
            thread, self._thread = self._thread, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    close = pull

    @property
    def present(self) -> bool:
        return self._conn is not None

    def _session(self, conn: socket.socket, card: VirtualCard) -> None:
        try:
            while True:
                payload = read_frame(conn)
                if payload is None:
                    return
                answer = self._answer(card, payload)
                if answer is not None:
                    write_frame(conn, answer)
        except OSError:
            return  # pulled

    @staticmethod
    def _answer(card: VirtualCard, payload: bytes) -> bytes | None:
        if len(payload) != 1:
            try:
                return card.process(payload)
            except Exception:  # a card answers an error, it does not hang up
                log.exception("emulated card failed on APDU %s", payload[:4].hex())
                return b"\x6f\x00"
        code = payload[0]
        if code in (Control.POWER_ON, Control.RESET):
            card.reset()
        elif code == Control.GET_ATR:
            return card.atr
        return None
