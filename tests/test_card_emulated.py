"""Emulated cards from the configuration (`emulated_cards`, the demo's way): a gateway
process starts its own private pcscd and cards, and signs on them through PC/SC."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.stack import raw_config
from tests.transport_fixtures import unique_prefix


def test_cards_command_with_emulated_cards_from_the_config(tmp_path: Path, keys_dir: Path) -> None:
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    ebc = raw["enterprises"][0]
    pin_file = tmp_path / "ebc.pin"  # created by the emulator with a random PIN
    ebc["key"].update(
        {"backend": "card", "card_number": "8930000000000701", "pin_file": str(pin_file)}
    )
    raw["emulated_cards"] = [
        {
            "number": "8930000000000701",
            "key_file": ebc["key"]["key_file"],
            "cert_file": ebc["key"]["cert_file"],
            "pin_file": str(pin_file),
            "delay": 0.0,
        }
    ]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    # its own process: libpcsclite talks to one pcscd per process
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "customs-gateway"),
            "--config",
            str(config),
            "cards",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    (row,) = json.loads(result.stdout)
    assert row["card_number"] == "8930000000000701" and row["present"] and row["valid"]
    assert row["reader"] == "Virtual PCD 0 00 00"
    pin = pin_file.read_text().strip()
    assert len(pin) == 6 and pin not in result.stdout + result.stderr
    assert oct(pin_file.stat().st_mode & 0o777) == "0o600"
