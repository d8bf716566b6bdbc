"""The little DER the SM2 path needs: `cryptography` parses SM2 certificates but will not hand
out their public key nor build them, and tongsuopy has no X.509 module. Only definite-length,
single-byte-tag DER (all that X.509 uses) is supported."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.errors import InvalidInput

SEQUENCE = 0x30
INTEGER = 0x02
BIT_STRING = 0x03
OID = 0x06
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def sequence(*parts: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(parts))


def explicit(number: int, content: bytes) -> bytes:
    """Context-specific constructed tag [number] around `content`."""
    return tlv(0xA0 | number, content)


def integer(n: int) -> bytes:
    if n < 0:
        raise InvalidInput("only non-negative integers are needed here")
    # One extra byte when the top bit is set keeps the value positive.
    return tlv(INTEGER, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def bit_string(data: bytes) -> bytes:
    return tlv(BIT_STRING, b"\x00" + data)  # no unused bits


def time(moment: datetime) -> bytes:
    """UTCTime up to 2049 and GeneralizedTime after, as RFC 5280 requires."""
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return tlv(UTC_TIME, moment.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(GENERALIZED_TIME, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of element) of the element at `pos`."""
    if pos + 2 > len(data):
        raise InvalidInput("truncated DER")
    tag, first = data[pos], data[pos + 1]
    start = pos + 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise InvalidInput("unsupported DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    if start + length > len(data):
        raise InvalidInput("truncated DER")
    return tag, start, start + length


def children(element: bytes) -> list[bytes]:
    """The complete encodings of the elements inside a constructed `element`."""
    _, pos, end = _header(element, 0)
    out = []
    while pos < end:
        _, _, stop = _header(element, pos)
        out.append(element[pos:stop])
        pos = stop
    return out


def content(element: bytes) -> bytes:
    _, start, end = _header(element, 0)
    return element[start:end]
