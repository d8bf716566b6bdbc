"""Emulated IC cards for the demo, from the configuration's `emulated_cards` list.

The gateway then signs exactly as with real cards (backend "card", PC/SC), but the cards are
`devices.iccard` emulators in a private pcscd that this process starts (root needed: mount
and network namespaces). Card i goes into reader i (`devices.rig.reader_name`). A missing PIN
file is created with a random PIN (0600): the card and the gateway then read the same file.
One rig per process (libpcsclite picks its daemon once per process).
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import threading
from pathlib import Path

from devices import pcsc
from devices.iccard import EnterpriseCard
from devices.rig import CardRig, card_from_files, reader_name
from gateway.core.config import Config, EmulatedCardConfig
from gateway.errors import ConfigError

log = logging.getLogger(__name__)

_rig: CardRig | None = None
_lock = threading.Lock()


def start_emulated_cards(config: Config) -> CardRig | None:
    """Start the rig and insert the configured cards (once per process); None if none.
    ConfigError when this host cannot run them (the reader layer's error is its cause)."""
    if not config.emulated_cards:
        return None
    try:
        return _start(config)
    except pcsc.DeviceError as exc:
        raise ConfigError(f"emulated cards cannot start: {exc}") from exc


def rig_with_spare_slots(config: Config, spare: int) -> tuple[CardRig, int]:
    """The process's rig with `spare` empty readers after the configured cards (a demo that
    also puts other emulated cards in, e.g. the border demo's ID cards: one pcscd per
    process); the index of the first spare reader. ConfigError when this host cannot run the
    rig, or when it was started earlier without the spare readers."""
    try:
        rig = _start(config, spare)
    except pcsc.DeviceError as exc:
        raise ConfigError(f"emulated cards cannot start: {exc}") from exc
    first = len(config.emulated_cards)
    if len(rig.slots) < first + spare:
        raise ConfigError("the emulated-card rig was started without spare readers")
    return rig, first


def _start(config: Config, spare: int = 0) -> CardRig:
    global _rig
    with _lock:
        if _rig is None:
            workdir = Path(tempfile.mkdtemp(prefix="emulated-cards-"))
            _rig = CardRig(workdir, slots=len(config.emulated_cards) + spare).start()
        for index, card in enumerate(config.emulated_cards):
            if not _rig.slots[index].present:
                _rig.insert(index, _card(card))
                log.info("emulated card %s in reader %s", card.number, reader_name(index))
        return _rig


def _card(card: EmulatedCardConfig) -> EnterpriseCard:
    return card_from_files(
        card.number, card.key_file, card.cert_file, _pin(card.pin_file), card.delay
    )


def _pin(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{secrets.randbelow(10**6):06d}\n")
    return path.read_text().rstrip("\r\n")
