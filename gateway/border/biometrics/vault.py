"""Biometric templates sealed at rest (R-BDR-3): AES-256-GCM under rotatable keys.

A sealed blob is

    b"BT1" | key-id length (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext + tag

and its plaintext is the template's format (length-prefixed) followed by its bytes. The
associated data binds the blob to the resident and the template kind: opening it for
another resident, or as another kind, fails exactly like a wrong key or altered bytes
(TemplateRefused), so a blob copied into another person's row is useless.

Keys: a key ring of named 256-bit keys, the last one newest. The newest seals; every key
opens; `rotate` re-seals a blob under the newest key. The ring comes from a key file (one
`key-id base64-key` per line, `#` comments; readable by its owner alone, mode 0600 — a
wider file is refused) or from a mapping (configuration).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import stat
import struct
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.border.biometrics.templates import Template, TemplateKind
from gateway.errors import ConfigError, InvalidInput, TemplateRefused

MAGIC = b"BT1"
NONCE = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_LEN = struct.Struct(">H")


def _aad(resident: str, kind: TemplateKind, key_id: str) -> bytes:
    return b"\x1f".join((MAGIC, key_id.encode(), kind.value.encode(), resident.encode()))


class KeyRing:
    """Named AES-256 keys; the last added is the newest and seals."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ConfigError("the biometric key ring is empty: add a key (vault key file)")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise ConfigError(f"biometric key id {key_id!r}: 1-64 of A-Z a-z 0-9 . _ -")
            if len(key) != KEY_BYTES:
                raise ConfigError(f"biometric key {key_id}: {KEY_BYTES} bytes expected")
        self._keys = dict(keys)

    def __repr__(self) -> str:
        return f"KeyRing({', '.join(self._keys)}; newest {self.newest})"

    @property
    def newest(self) -> str:
        return next(reversed(self._keys))

    def key(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    @classmethod
    def from_mapping(cls, keys: Mapping[str, str]) -> KeyRing:
        """From configuration: key id → base64 key, in age order (newest last)."""
        return cls({key_id: _decode_key(key_id, value) for key_id, value in keys.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> KeyRing:
        path = Path(path)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"biometric key file {path}: {exc}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"biometric key file {path} is readable by others: chmod 600")
        pairs = [
            line.split()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if any(len(pair) != 2 for pair in pairs):
            raise ConfigError(f"biometric key file {path}: one 'key-id base64-key' per line")
        return cls.from_mapping(dict((k, v) for k, v in pairs))


def _decode_key(key_id: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"biometric key {key_id}: not base64") from exc


def add_key(path: str | Path, key_id: str) -> None:
    """Append a new random key (the newest from now on) to a key file, created 0600."""
    if not _KEY_ID.match(key_id):
        raise InvalidInput(f"key id {key_id!r}: 1-64 of A-Z a-z 0-9 . _ -")
    line = f"{key_id} {base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as out:
        out.write(line)


class TemplateVault:
    """Seals templates for one resident and opens them only for that resident and kind."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def seal(self, template: Template, resident: str) -> bytes:
        key_id = self.keys.newest
        key = self.keys.key(key_id)
        assert key is not None
        fmt = template.format.encode()
        plain = _LEN.pack(len(fmt)) + fmt + template.data
        nonce = secrets.token_bytes(NONCE)
        sealed = AESGCM(key).encrypt(nonce, plain, _aad(resident, template.kind, key_id))
        return MAGIC + bytes([len(key_id)]) + key_id.encode() + nonce + sealed

    def open(self, blob: bytes, resident: str, kind: TemplateKind) -> Template:
        key_id, nonce, sealed = _split(blob)
        key = self.keys.key(key_id)
        if key is None:
            raise TemplateRefused(f"template sealed under key {key_id}, not in the key ring")
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, _aad(resident, kind, key_id))
        except InvalidTag:
            raise TemplateRefused(
                f"{kind.value} template does not open for this resident (key {key_id})"
            ) from None
        (length,) = _LEN.unpack_from(plain)
        fmt = plain[_LEN.size : _LEN.size + length].decode()
        return Template(kind, fmt, plain[_LEN.size + length :])

    def rotate(self, blob: bytes, resident: str, kind: TemplateKind) -> bytes:
        """The blob re-sealed under the newest key (a fresh nonce even if it already was)."""
        return self.seal(self.open(blob, resident, kind), resident)

    @staticmethod
    def key_id(blob: bytes) -> str:
        """Which key sealed `blob` (to find blobs still under an old key)."""
        return _split(blob)[0]


def _split(blob: bytes) -> tuple[str, bytes, bytes]:
    if len(blob) < len(MAGIC) + 2 + NONCE + 16 or not blob.startswith(MAGIC):
        raise TemplateRefused("not a sealed biometric template")
    length = blob[len(MAGIC)]
    start = len(MAGIC) + 1
    try:
        key_id = blob[start : start + length].decode("ascii")
    except UnicodeDecodeError:
        raise TemplateRefused("not a sealed biometric template") from None
    rest = blob[start + length :]
    return key_id, rest[:NONCE], rest[NONCE:]
