"""The resident ID card (居民身份证): an emulated card and the reader-side code over PC/SC.

Border residents log in at the terminal by an ID-card read (R-BDR-1); the registry shows the
ID number masked (R-BDR-2). Real second-generation cards are read through a SAM module; here
the card speaks a small APDU profile of our own, through the same PC/SC stack as the IC card:

    SELECT       00 A4 04 00 Lc AID
    GET DATA     80 CA 02 01 00        length of the identity record (2 bytes)
    READ BINARY  00 B0 off-hi off-lo Le

The record is a list of TLVs (tag: 1 byte, length: 2 bytes big-endian, value): text fields
in UTF-8, the photo as image bytes. The reader checks the ID number's check digit
(GB 11643-1999) so a misread never passes as a person.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import Any

from devices import pcsc

AID = bytes.fromhex("D15600000549444341")  # "D156000005" + "IDCA"
ATR = bytes.fromhex("3B8880014944434152440000")
CHUNK = 240
LONG_TERM = "长期"


class Tag(IntEnum):
    NAME = 1
    SEX = 2
    ETHNICITY = 3
    BIRTH = 4
    ADDRESS = 5
    ID_NUMBER = 6
    ISSUER = 7
    VALID_FROM = 8
    VALID_TO = 9
    PHOTO = 10


class IdCardError(pcsc.DeviceError):
    """The card is not a readable resident ID card (bad record, bad check digit)."""


@dataclass(frozen=True)
class ResidentId:
    name: str
    sex: str  # "1" male, "2" female (GB/T 2261.1)
    ethnicity: str
    birth: date
    address: str
    id_number: str
    issuer: str
    valid_from: date
    valid_to: date | None  # None: long-term (长期)
    photo: bytes = field(repr=False)

    @property
    def masked_id(self) -> str:
        """The ID number as the registry shows it (R-BDR-2): 450*****214."""
        return f"{self.id_number[:3]}*****{self.id_number[-3:]}"

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sex": self.sex,
            "ethnicity": self.ethnicity,
            "birth": self.birth.isoformat(),
            "address": self.address,
            "id_number_masked": self.masked_id,
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else LONG_TERM,
            "photo_bytes": len(self.photo),
        }


def check_digit(first17: str) -> str:
    """GB 11643-1999 (ISO 7064 MOD 11-2) check character of an ID number."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def valid_id_number(number: str) -> bool:
    return len(number) == 18 and number[:17].isdigit() and check_digit(number[:17]) == number[17]


# --- the emulated card -------------------------------------------------------------------------


def encode(person: ResidentId) -> bytes:
    fields = {
        Tag.NAME: person.name.encode(),
        Tag.SEX: person.sex.encode(),
        Tag.ETHNICITY: person.ethnicity.encode(),
        Tag.BIRTH: person.birth.strftime("%Y%m%d").encode(),
        Tag.ADDRESS: person.address.encode(),
        Tag.ID_NUMBER: person.id_number.encode(),
        Tag.ISSUER: person.issuer.encode(),
        Tag.VALID_FROM: person.valid_from.strftime("%Y%m%d").encode(),
        Tag.VALID_TO: (
            person.valid_to.strftime("%Y%m%d") if person.valid_to else LONG_TERM
        ).encode(),
        Tag.PHOTO: person.photo,
    }
    return b"".join(struct.pack(">BH", tag, len(v)) + v for tag, v in fields.items())


@dataclass
class ResidentIdCard:
    """An emulated ID card holding `person`."""

    person: ResidentId
    atr: bytes = ATR
    _selected: bool = False

    def reset(self) -> None:
        self._selected = False

    def process(self, apdu: bytes) -> bytes:
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        if ins == 0xA4:
            self._selected = apdu[5 : 5 + apdu[4]] == AID if len(apdu) > 5 else False
            return b"\x90\x00" if self._selected else b"\x6a\x82"
        if not self._selected:
            return b"\x69\x85"
        record = encode(self.person)
        if ins == 0xCA and (p1, p2) == (2, 1):
            return len(record).to_bytes(2, "big") + b"\x90\x00"
        if ins == 0xB0:
            offset = (p1 << 8) | p2
            if offset >= len(record):
                return b"\x6b\x00"
            return record[offset : offset + CHUNK] + b"\x90\x00"
        return b"\x6d\x00"


def sample_photo(width: int = 102, height: int = 126) -> bytes:
    """A grey-gradient PNG the size of the card's photo (102 x 126)."""
    rows = b"".join(b"\x00" + bytes((x + y) % 256 for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# --- the reader side ---------------------------------------------------------------------------


def read_id_card(reader: str) -> ResidentId:
    """Read the ID card in `reader` over PC/SC. Device errors as in `devices.pcsc`;
    IdCardError when the card is not a readable ID card."""
    conn = pcsc.connect(reader)
    try:
        _command(conn, reader, b"\x00\xa4\x04\x00" + bytes([len(AID)]) + AID)
        size = int.from_bytes(_command(conn, reader, b"\x80\xca\x02\x01\x00"), "big")
        record = b""
        while len(record) < size:
            record += _command(conn, reader, b"\x00\xb0" + len(record).to_bytes(2, "big") + b"\x00")
    finally:
        pcsc.disconnect(conn)
    return decode(record)


def _command(conn: Any, reader: str, apdu: bytes) -> bytes:
    data, status = pcsc.transmit(conn, reader, apdu)
    if status != 0x9000:
        raise IdCardError(f"the card in {reader!r} is not a resident ID card (SW {status:04X})")
    return data


def decode(record: bytes) -> ResidentId:
    fields: dict[int, bytes] = {}
    offset = 0
    while offset + 3 <= len(record):
        tag, size = struct.unpack_from(">BH", record, offset)
        fields[tag] = record[offset + 3 : offset + 3 + size]
        offset += 3 + size
    try:
        text = {t: fields[t].decode() for t in Tag if t != Tag.PHOTO}
        person = ResidentId(
            name=text[Tag.NAME],
            sex=text[Tag.SEX],
            ethnicity=text[Tag.ETHNICITY],
            birth=_date(text[Tag.BIRTH]),
            address=text[Tag.ADDRESS],
            id_number=text[Tag.ID_NUMBER],
            issuer=text[Tag.ISSUER],
            valid_from=_date(text[Tag.VALID_FROM]),
            valid_to=None if text[Tag.VALID_TO] == LONG_TERM else _date(text[Tag.VALID_TO]),
            photo=fields[Tag.PHOTO],
        )
    except (KeyError, ValueError) as exc:
        raise IdCardError(f"unreadable ID card record ({exc})") from None
    if not valid_id_number(person.id_number):
        raise IdCardError("the ID number read fails its check digit (GB 11643)")
    return person


def _date(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
