"""SM2 signatures with SM3 (GB/T 32918.2, GM/T 0009), through tongsuopy.

`cryptography` has SM3 but no SM2. tongsuopy binds Tongsuo (the OpenSSL fork maintained for the
Chinese algorithms) and signs in about 0.4 ms; the pure-Python libraries (gmssl, gmalg) take
15 to 30 ms. Tongsuo computes Z with the standard default user id `1234567812345678`, which is
what customs cards and `openssl ... -sigopt distid:1234567812345678` use; it offers no other id.

Signature value encoding in XML: raw r||s, 32 bytes each (64 bytes, base64 88 chars). That is
what the customs u-key writes into SignatureValue in deployed practice (GM/T 0009 also lists
it); X.509 certificates keep DER (r, s) as usual. `verify` accepts both encodings.

tongsuopy is imported lazily so RSA-only deployments run without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.errors import ConfigError, InvalidInput
from signers import _der

DEFAULT_USER_ID = b"1234567812345678"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
SM2_CURVE_OID = "1.2.156.10197.1.301"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
_SM2_ALGORITHM = _der.sequence(_der.oid(EC_PUBLIC_KEY_OID), _der.oid(SM2_CURVE_OID))
_SIZE = 32  # bytes of r and of s


def _tongsuo() -> Any:
    try:
        import tongsuopy.crypto.asymciphers.ec as ec
        import tongsuopy.crypto.hashes as hashes
        import tongsuopy.crypto.serialization as serialization
    except ImportError as exc:
        raise ConfigError("SM2 needs the tongsuopy package (pip install tongsuopy)") from exc
    return ec, hashes, serialization


@dataclass(frozen=True)
class Sm2PrivateKey:
    """A loaded SM2 private key (tongsuopy object inside; never printed)."""

    _key: Any = field(repr=False)

    def sign(self, data: bytes) -> bytes:
        """SM2 over SM3(Z || data), raw r||s."""
        return der_to_raw(self.sign_der(data))

    def sign_der(self, data: bytes) -> bytes:
        ec, hashes, _ = _tongsuo()
        return bytes(self._key.sign(data, ec.ECDSA(hashes.SM3())))

    def public_spki(self) -> bytes:
        _, _, ser = _tongsuo()
        pub = self._key.public_key()
        return bytes(pub.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo))

    def private_pem(self) -> bytes:
        _, _, ser = _tongsuo()
        return bytes(
            self._key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        )


def generate() -> Sm2PrivateKey:
    ec, _, _ = _tongsuo()
    return Sm2PrivateKey(ec.generate_private_key(ec.SM2()))


def load_private_key(pem: bytes, password: bytes | None) -> Sm2PrivateKey:
    """Load a PEM SM2 private key. Raises ValueError/TypeError like `cryptography` does (ours:
    InvalidInput, a ValueError)."""
    ec, _, ser = _tongsuo()
    key = ser.load_pem_private_key(pem, password)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
        raise InvalidInput("not an SM2 private key")
    return Sm2PrivateKey(key)


def certificate_spki(certificate: x509.Certificate) -> bytes:
    """The SubjectPublicKeyInfo of a certificate, read from its DER (tbsCertificate field 7)."""
    tbs = _der.children(_der.children(certificate.public_bytes(Encoding.DER))[0])
    fields = tbs[1:] if tbs[0][0] == 0xA0 else tbs  # [0] version is optional (v1)
    return fields[5]


def is_sm2_certificate(certificate: x509.Certificate) -> bool:
    try:
        return _der.children(certificate_spki(certificate))[0] == _SM2_ALGORITHM
    except (ValueError, IndexError):
        return False


def key_matches(key: Sm2PrivateKey, certificate: x509.Certificate) -> bool:
    return is_sm2_certificate(certificate) and _point(certificate) == _point_of_spki(
        key.public_spki()
    )


def verify(certificate: x509.Certificate, signature: bytes, data: bytes) -> bool:
    """True when `signature` (raw r||s or DER) is the certificate key's SM2/SM3 signature."""
    ec, hashes, ser = _tongsuo()
    if not is_sm2_certificate(certificate):
        return False
    try:
        der = raw_to_der(signature) if len(signature) == 2 * _SIZE else signature
        public = ser.load_der_public_key(certificate_spki(certificate))
        public.verify(der, data, ec.ECDSA(hashes.SM3()))
    except Exception:  # tongsuopy raises its own InvalidSignature, and ValueError
        return False
    return True


def _point(certificate: x509.Certificate) -> bytes:
    return _point_of_spki(certificate_spki(certificate))


def _point_of_spki(spki: bytes) -> bytes:
    return _der.content(_der.children(spki)[1])


def der_to_raw(signature: bytes) -> bytes:
    r, s = decode_dss_signature(signature)
    return r.to_bytes(_SIZE, "big") + s.to_bytes(_SIZE, "big")


def raw_to_der(signature: bytes) -> bytes:
    if len(signature) != 2 * _SIZE:
        raise InvalidInput(f"raw SM2 signature must be {2 * _SIZE} bytes, not {len(signature)}")
    r, s = signature[:_SIZE], signature[_SIZE:]
    return encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))


def self_signed_certificate(
    key: Sm2PrivateKey, subject: x509.Name, *, days: int, serial: int
) -> x509.Certificate:
    """A v3 self-signed SM2-with-SM3 certificate, built by hand: no Python library here can
    build one. Used by test identities; `openssl verify` accepts it."""
    now = datetime.now(UTC).replace(microsecond=0)
    name = subject.public_bytes()
    algorithm = _der.sequence(_der.oid(SM2_WITH_SM3_OID))
    tbs = _der.sequence(
        _der.explicit(0, _der.integer(2)),
        _der.integer(serial),
        algorithm,
        name,
        _der.sequence(_der.time(now - timedelta(days=1)), _der.time(now + timedelta(days=days))),
        name,
        key.public_spki(),
    )
    der = _der.sequence(tbs, algorithm, _der.bit_string(key.sign_der(tbs)))
    return x509.load_der_x509_certificate(der)
