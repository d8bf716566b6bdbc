"""PC/SC access (pyscard) and a private pcscd for emulated cards.

`PrivatePcscd` runs pcscd with its own reader configuration (vpcd on a chosen port) in its
own mount and network namespaces: its socket directory is bound over /run/pcscd inside the
namespace only, so it never meets the system's pcscd, and vpcd's card port (which the driver
opens on every interface) exists on that namespace's loopback alone. Card emulators reach it
through `connector()`, which opens their sockets inside that namespace. Clients find the
daemon through `PCSCLITE_CSOCK_NAME` (libpcsclite reads it once per process). Needs root
(namespaces), `pcscd`, `vsmartcard-vpcd` and `iproute2` — scripts/setup.sh installs them.

`transmit` maps pyscard's failures onto the device errors below, so callers never parse
pyscard's messages.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
_LEAVE_CARD = 0  # SCARD_LEAVE_CARD

log = logging.getLogger(__name__)
_CLONE_NEWNET = 0x40000000


class DeviceError(Exception):
    """A card reader or card failed; `reason` is what ops read.

    Deliberately not a `gateway.errors.GatewayError`: these say what PC/SC or the card
    answered, and only make sense here. Where they enter the gateway they are translated into
    the tree, with this error as the cause: the card backend (signers/card.py) into
    CardErrors, the emulated cards (gateway/core/emulated_cards.py) into a ConfigError."""


class ReaderGone(DeviceError):
    """No PC/SC service, or the reader is not (or no longer) there."""


class NoCard(DeviceError):
    """The reader is there, without a card."""


class CardRemoved(DeviceError):
    """The card left the reader during a command."""


class CardReset(DeviceError):
    """Another party (or a re-insertion) reset the card: open a new session."""


class CardStatus(DeviceError):
    """The card answered a command with an error status word."""

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(message)
        self.sw = sw


def missing_tools() -> list[str]:
    """What this host lacks to run emulated cards (empty when all is there)."""
    missing = [tool for tool in ("pcscd", "unshare", "ip") if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root (pcscd runs in its own mount and network namespaces)")
    if not VPCD_DRIVER.exists():
        missing.append(str(VPCD_DRIVER) + " (vsmartcard-vpcd)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        missing.append("pyscard")
    return missing


class PrivatePcscd:
    """A pcscd of our own with `pairs` vpcd readers of two slots each: slot i listens on
    `port + i` (the namespace is private, so the driver's default port is free)."""

    def __init__(self, workdir: Path, port: int = 0x8C7B, pairs: int = 1) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.pairs = pairs

    @property
    def slot_ports(self) -> list[int]:
        return [self.port + i for i in range(2 * self.pairs)]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.workdir / "run" / "pcscd.comm"

    def start(self, timeout: float = 10.0) -> PrivatePcscd:
        missing = missing_tools()
        if missing:
            raise ReaderGone("cannot run emulated cards, missing: " + ", ".join(missing))
        run, conf = self.workdir / "run", self.workdir / "reader.conf.d"
        run.mkdir(parents=True, exist_ok=True)
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "vpcd").write_text(
            "\n".join(
                f'FRIENDLYNAME "Virtual PCD {pair}"\nDEVICENAME /dev/null:{port}\n'
                f"LIBPATH {self._driver(pair)}\nCHANNELID {port}\n"
                for pair, port in enumerate(self.slot_ports[::2])
            )
        )
        Path("/run/pcscd").mkdir(parents=True, exist_ok=True)  # the bind-mount target
        script = (
            f"ip link set lo up && mount --bind {run} /run/pcscd && "
            f"exec pcscd --foreground -c {conf}"
        )
        log = (self.workdir / "pcscd.log").open("wb")
        # The daemon dies with us (PR_SET_PDEATHSIG), even when the test run is killed.
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        os.environ[SOCKET_ENV] = str(self.socket_path)
        self._wait_ready(timeout)
        return self

    def _driver(self, pair: int) -> Path:
        """vpcd keeps its two slots in globals: a second reader pair needs a second copy of
        the driver (dlopen loads a file with another inode again; pcscd would share one)."""
        if pair == 0:
            return VPCD_DRIVER
        copy = self.workdir / f"libifdvpcd-{pair}.so"
        if not copy.exists():
            shutil.copyfile(VPCD_DRIVER, copy)
        return copy

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                log = (self.workdir / "pcscd.log").read_text(errors="replace")[-2000:]
                raise ReaderGone(f"pcscd exited with {self.proc.returncode}: {log}")
            if self.socket_path.exists() and len(_reader_names_or_none()) == 2 * self.pairs:
                return
            time.sleep(0.05)
        raise ReaderGone(f"pcscd did not come up within {timeout} s")

    def connector(self) -> Callable[[int], socket.socket]:
        """A function opening a TCP connection to 127.0.0.1:port in pcscd's namespace."""
        assert self.proc is not None, "start() first"
        target = f"/proc/{self.proc.pid}/ns/net"

        def connect(port: int) -> socket.socket:
            # vpcd accepts only when it polls the slot, with a backlog of one
            sock = socket_in_netns(target)
            sock.settimeout(10)
            try:
                sock.connect(("127.0.0.1", port))
            except OSError:
                sock.close()
                raise
            sock.settimeout(None)
            return sock

        return connect

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> PrivatePcscd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM


_netns_lock = threading.Lock()


def socket_in_netns(netns_path: str) -> socket.socket:
    """A TCP socket created inside another network namespace (it stays there). setns(2)
    switches only the calling thread, and it is switched back before returning."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    other = os.open(netns_path, os.O_RDONLY)
    try:
        with _netns_lock:
            if libc.setns(other, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into pcscd's network namespace")
            try:
                return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                if libc.setns(own, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(other)


# --- pyscard ---------------------------------------------------------------------------------


def _reader_names_or_none() -> list[str]:
    try:
        return reader_names()
    except ReaderGone:
        return []


def reader_names() -> list[str]:
    """Readers pcscd knows; ReaderGone when the service is not there."""
    from smartcard.Exceptions import SmartcardException
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except SmartcardException as exc:
        raise ReaderGone(f"PC/SC service not available: {exc}") from None


def connect(reader: str) -> Any:
    """A pyscard connection to the card in `reader` (T=1 or T=0)."""
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.System import readers

    try:
        found = [r for r in readers() if str(r) == reader]
    except Exception as exc:  # pyscard raises its own exceptions and SystemError
        raise ReaderGone(f"PC/SC service not available: {exc}") from None
    if not found:
        raise ReaderGone(f"reader {reader!r} is not connected")
    conn = found[0].createConnection()
    try:
        # SCARD_LEAVE_CARD on disconnect: powering a vpcd card down after it was pulled
        # leaves the driver unable to see the next card
        conn.connect(disposition=_LEAVE_CARD)
    except NoCardException:
        disconnect(conn)
        raise NoCard(f"no card in reader {reader!r}") from None
    except CardConnectionException as exc:
        disconnect(conn)
        raise _classify(reader, exc) from None
    return conn


def transmit(conn: Any, reader: str, apdu: bytes) -> tuple[bytes, int]:
    """(response data, SW) of one command APDU; device errors typed."""
    from smartcard.Exceptions import SmartcardException

    try:
        data, sw1, sw2 = conn.transmit(list(apdu))
    except SmartcardException as exc:
        raise _classify(reader, exc) from None
    except SystemError as exc:  # pyscard, when pcscd vanished under it
        raise ReaderGone(f"reader {reader!r}: PC/SC service went away ({exc})") from None
    return bytes(data), (sw1 << 8) | sw2


def disconnect(conn: Any) -> None:
    """Disconnect and release the connection's PC/SC context now. Left to pyscard's
    `__del__`, the release may run after pcscd is gone, where pyscard returns NULL without
    an exception and leaves the interpreter in a broken state."""
    try:
        conn.release()
    except Exception as exc:  # noqa: BLE001 - releasing a dead connection may fail
        log.debug("releasing a PC/SC connection failed: %s", exc)
    finally:
        conn.hcard = conn.hcontext = None


def _classify(reader: str, exc: Exception) -> DeviceError:
    text = str(exc)
    lowered = text.lower()
    if "was reset" in lowered:
        return CardReset(f"card in reader {reader!r} was reset")
    if "removed" in lowered or "no valid response" in lowered:
        return CardRemoved(f"card removed from reader {reader!r}")
    if "no smart card" in lowered or "not present" in lowered:
        return NoCard(f"no card in reader {reader!r}")
    if "service" in lowered or "unknown reader" in lowered or "not connected" in lowered:
        return ReaderGone(f"reader {reader!r} is gone ({text})")
    return CardRemoved(f"reader {reader!r}: card communication failed ({text})")
