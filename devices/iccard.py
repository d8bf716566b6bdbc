"""An emulated enterprise IC card (电子口岸卡介质): the commands the gateway's card backend sends.

The command set (ISO 7816-4 style, our own card profile):

    SELECT         00 A4 04 00 Lc AID                    select the e-port application
    VERIFY         00 20 00 00 Lc PIN                    63Cx: x tries left; 6983: locked
    GET DATA       80 CA 01 01 00                        the card number (ASCII)
    GET DATA       80 CA 01 02 00                        the certificate's length (2 bytes)
    READ BINARY    00 B0 off-hi off-lo Le                the DER certificate, in chunks
    SIGN           80 2A 9E xx Lc data 00  (CLA 10: more data follows, command chaining)
                   xx = 01: RSA PKCS#1 v1.5 over a DigestInfo (SHA-1 or SHA-256)
                   xx = 02: SM2 with SM3 over the message (Z with the user id 1234567812345678)

Three wrong PINs lock the card for good (6983), as on real cards; a right PIN resets the
counter. SIGN needs a verified PIN in this session (6982 otherwise). `delay` is the time one
signature takes (real cards: about 250 a minute, 0.24 s each).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from signers import sm2

AID = bytes.fromhex("D156000001455041524B")  # "D156000001" + "EPARK"
ATR = bytes.fromhex("3B8A80014543415244000000000000")

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_LOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00

SIGN_RSA_DIGESTINFO = 0x01
SIGN_SM2_SM3 = 0x02
CHUNK = 240
MAX_TRIES = 3

#: DER DigestInfo prefixes (RFC 8017 section 9.2, note 1)
DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
}
#: SHA-1 because the customs standard's generic suite (rsa-sha1) signs with it
_HASHES: dict[str, hashes.HashAlgorithm] = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}  # noqa: S303


def sw(code: int, data: bytes = b"") -> bytes:
    return data + code.to_bytes(2, "big")


@dataclass
class EnterpriseCard:
    """The card's contents: number, key, certificate, PIN; and its state (tries, session)."""

    card_number: str
    key: rsa.RSAPrivateKey | sm2.Sm2PrivateKey
    certificate: x509.Certificate
    pin: str
    delay: float = 0.0
    tries_left: int = MAX_TRIES
    signatures: int = 0
    #: (start, end) of each signature, monotonic clock: lets a test see two cards overlap
    busy: list[tuple[float, float]] = field(default_factory=list, repr=False)
    atr: bytes = ATR
    _selected: bool = field(default=False, repr=False)
    _verified: bool = field(default=False, repr=False)
    _chain: bytes = field(default=b"", repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def locked(self) -> bool:
        return self.tries_left <= 0

    def reset(self) -> None:
        self._selected = self._verified = False
        self._chain = b""

    def process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return sw(SW_WRONG_LENGTH)
        cla, ins, p1, p2 = apdu[:4]
        body = _body(apdu)
        if ins == 0xA4:
            return self._select(body)
        if not self._selected:
            return sw(SW_CONDITIONS)
        handler = {0x20: self._verify, 0xCA: self._get_data, 0xB0: self._read_binary}.get(ins)
        if handler is not None:
            return handler(p1, p2, body)
        if ins == 0x2A and cla & 0xEF == 0x80:
            return self._sign(cla & 0x10 != 0, p2, body)
        return sw(SW_INS)

    def _select(self, body: bytes) -> bytes:
        self.reset()
        self._selected = body == AID
        return sw(SW_OK if self._selected else SW_NOT_FOUND)

    def _verify(self, p1: int, p2: int, body: bytes) -> bytes:
        if self.locked:
            return sw(SW_LOCKED)
        if body == self.pin.encode():
            self.tries_left, self._verified = MAX_TRIES, True
            return sw(SW_OK)
        self.tries_left -= 1
        self._verified = False
        return sw(SW_LOCKED if self.locked else 0x63C0 | self.tries_left)

    def _get_data(self, p1: int, p2: int, body: bytes) -> bytes:
        if (p1, p2) == (1, 1):
            return sw(SW_OK, self.card_number.encode())
        if (p1, p2) == (1, 2):
            return sw(SW_OK, len(self._der()).to_bytes(2, "big"))
        return sw(SW_WRONG_P1P2)

    def _read_binary(self, p1: int, p2: int, body: bytes) -> bytes:
        der, offset = self._der(), (p1 << 8) | p2
        if offset >= len(der):
            return sw(SW_WRONG_P1P2)
        return sw(SW_OK, der[offset : offset + CHUNK])

    def _der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)

    def _sign(self, more: bool, mode: int, body: bytes) -> bytes:
        if self.locked:
            return sw(SW_LOCKED)
        if not self._verified:
            self._chain = b""
            return sw(SW_SECURITY)
        self._chain += body
        if more:
            return sw(SW_OK)
        data, self._chain = self._chain, b""
        started = time.monotonic()
        signature = self._compute(mode, data)
        if signature is None:
            return sw(SW_WRONG_DATA)
        if self.delay:
            time.sleep(self.delay)  # the card's own computing time
        self.signatures += 1
        self.busy.append((started, time.monotonic()))
        return sw(SW_OK, signature)

    def _compute(self, mode: int, data: bytes) -> bytes | None:
        if mode == SIGN_SM2_SM3 and isinstance(self.key, sm2.Sm2PrivateKey):
            return self.key.sign(data)
        if mode == SIGN_RSA_DIGESTINFO and isinstance(self.key, rsa.RSAPrivateKey):
            for name, prefix in DIGEST_INFO.items():
                digest = data[len(prefix) :]
                if data.startswith(prefix) and len(digest) == _HASHES[name].digest_size:
                    return self.key.sign(digest, padding.PKCS1v15(), Prehashed(_HASHES[name]))
        return None


def _body(apdu: bytes) -> bytes:
    """The command data of a short APDU (case 3 or 4); empty for case 1 and 2."""
    if len(apdu) <= 5:
        return b""
    size = apdu[4]
    return apdu[5 : 5 + size]
