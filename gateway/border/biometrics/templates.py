"""Biometric templates as the gateway holds them: opaque bytes with their kind and format.

A template is sensitive personal data (R-BDR-3): its repr and str name the kind, the format
and the length only, so a template that reaches a log line, an exception message or a test
failure shows no byte of it. Templates are stored sealed (vault.py), never in the clear.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.errors import InvalidInput


class TemplateKind(StrEnum):
    """What a template describes; also bound into the sealed blob (vault.py)."""

    FACE = "face"
    FINGER = "finger"


@dataclass(frozen=True)
class Template:
    """A face descriptor or an enrolled finger, as bytes in `format`."""

    kind: TemplateKind
    format: str  # e.g. "dlib-resnet-v1", "gw-minutiae-1x3"
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Template({self.kind.value}, {self.format}, {len(self.data)} bytes)"

    __str__ = __repr__


_COUNT = struct.Struct(">B")
_LENGTH = struct.Struct(">I")


def pack_parts(parts: list[bytes]) -> bytes:
    """Several templates (an enrolled finger's presses) as one byte string."""
    if not 0 < len(parts) < 256:
        raise InvalidInput(f"{len(parts)} parts: between 1 and 255 can be packed")
    return _COUNT.pack(len(parts)) + b"".join(_LENGTH.pack(len(p)) + p for p in parts)


def unpack_parts(data: bytes) -> list[bytes]:
    """The templates `pack_parts` packed; InvalidInput when the bytes are not such a pack."""
    if not data:
        raise InvalidInput("an empty template pack")
    (count,), offset, parts = _COUNT.unpack_from(data), _COUNT.size, []
    for _ in range(count):
        if offset + _LENGTH.size > len(data):
            raise InvalidInput("a truncated template pack")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        parts.append(data[offset : offset + length])
        offset += length
    if offset != len(data) or any(len(p) == 0 for p in parts):
        raise InvalidInput("a malformed template pack")
    return parts
