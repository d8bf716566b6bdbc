"""A rig of emulated card readers: a private pcscd, its vpcd slots, cards to put in them.

Used by the tests, the benchmark and the demo; the gateway itself only ever sees readers
through PC/SC. Slot i is reader `Virtual PCD P 00 SS` (pair P = i // 2, slot SS = i % 2).
"""

from __future__ import annotations

import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devices import pcsc
from devices.iccard import EnterpriseCard
from devices.vpcd import CardSlot, VirtualCard
from signers import sm2


def reader_name(index: int) -> str:
    return f"Virtual PCD {index // 2} 00 {index % 2:02d}"


class CardRig:
    def __init__(self, workdir: Path, slots: int = 2, port: int = 0x8C7B) -> None:
        self.daemon = pcsc.PrivatePcscd(workdir, port=port, pairs=max(1, (slots + 1) // 2))
        self.slots: list[CardSlot] = []

    def start(self) -> CardRig:
        self.daemon.start()
        connect = self.daemon.connector()
        self.slots = [CardSlot(port, connect) for port in self.daemon.slot_ports]
        return self

    def insert(self, index: int, card: VirtualCard, wait: bool = True) -> str:
        """Put `card` in slot `index`; with `wait`, return once PC/SC sees it."""
        self.slots[index].insert(card)
        name = reader_name(index)
        if wait:
            wait_for_card(name)
        return name

    def pull(self, index: int, wait: bool = True) -> None:
        """Take the card out of slot `index`; with `wait`, return once PC/SC has noticed."""
        was_in = self.slots[index].present
        self.slots[index].pull()
        if wait and was_in:
            wait_for_absence(reader_name(index))

    def stop(self) -> None:
        for slot in self.slots:
            slot.pull()
        self.daemon.stop()

    def __enter__(self) -> CardRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_card(reader: str, timeout: float = 10.0) -> None:
    """Return once the card in `reader` answers an APDU (pcscd polls its readers, so a card
    is seen some 100 ms after it went in)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = pcsc.connect(reader)
            try:
                pcsc.transmit(conn, reader, b"\x00\xa4\x04\x00\x00")
            finally:
                pcsc.disconnect(conn)
            return
        except pcsc.DeviceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_for_absence(reader: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pcsc.disconnect(pcsc.connect(reader))
        except pcsc.NoCard:
            return
        except pcsc.DeviceError:
            pass
        time.sleep(0.05)


def card_from_files(
    card_number: str, key_file: Path, cert_file: Path, pin: str, delay: float = 0.0
) -> EnterpriseCard:
    """An emulated card carrying the key and certificate of a (test) identity."""
    data = Path(key_file).read_bytes()
    key: rsa.RSAPrivateKey | sm2.Sm2PrivateKey
    try:
        loaded = serialization.load_pem_private_key(data, None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        key = loaded
    except Exception:  # noqa: BLE001 - cryptography knows no SM2 curve
        key = sm2.load_private_key(data, None)
    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    return EnterpriseCard(card_number, key, cert, pin, delay=delay)
