"""Key backends: what signs the SignedInfo bytes.

`KeyBackend` is the one interface: the software key file here, the smart card and the card pool
later. A backend gets the exact bytes to sign (the canonical SignedInfo) and the suite, and does
the hashing itself — a card hashes on board or takes a DigestInfo, so the XML layer never hands
out a bare digest.

`FileKey` loads its key ONCE at construction (a PEM or PKCS#12 load costs about 70 ms; per
message it would cap the gateway below 15 signatures a second).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.errors import ConfigError
from signers import sm2
from signers.algorithms import KeyType, Suite, hash_algorithm

log = logging.getLogger(__name__)

PrivateKey = rsa.RSAPrivateKey | sm2.Sm2PrivateKey


@runtime_checkable
class KeyBackend(Protocol):
    """Something that signs with the private key of `certificate`."""

    @property
    def certificate(self) -> x509.Certificate: ...

    @property
    def key_type(self) -> str:
        """The key algorithm: "rsa" or "sm2" (a `KeyType` value)."""
        ...

    def sign(self, data: bytes, suite: Suite) -> bytes:
        """The raw signature value over `data`, hashed with `suite.hash_name`. Raise
        SigningError (retryable) when the device fails, ConfigError when the suite does
        not fit the key."""
        ...

    def describe(self) -> str:
        """One line for logs and ops screens; never a secret."""
        ...


def serial_hex(certificate: x509.Certificate) -> str:
    """The KeyName format: the serial's big-endian bytes in lower-case hex, no 0x, leading
    zero byte digits kept (customs cards write e.g. `03000000000cde6f`)."""
    serial = certificate.serial_number
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big").hex()


def certificate_key_type(certificate: x509.Certificate) -> str | None:
    """The certificate's key algorithm: "rsa", "sm2", or None for any other."""
    if sm2.is_sm2_certificate(certificate):
        return KeyType.SM2.value
    try:
        public = certificate.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None
    return KeyType.RSA.value if isinstance(public, rsa.RSAPublicKey) else None


def check_signature(
    certificate: x509.Certificate, key_type: str, hash_name: str, signature: bytes, data: bytes
) -> bool:
    """Whether `signature` over `data` verifies with the certificate's public key."""
    if certificate_key_type(certificate) != key_type:
        return False
    if key_type == KeyType.SM2:
        return hash_name == "sm3" and sm2.verify(certificate, signature, data)
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(signature, data, padding.PKCS1v15(), hash_algorithm(hash_name))
    except InvalidSignature:
        return False
    return True


class FileKey:
    """A software key: PEM private key + PEM certificate, or a PKCS#12 bundle (SM2: PEM only)."""

    def __init__(self, key: PrivateKey, certificate: x509.Certificate, *, source: str) -> None:
        self._key = key
        self._certificate = certificate
        self._source = source
        self._key_type = (KeyType.SM2 if isinstance(key, sm2.Sm2PrivateKey) else KeyType.RSA).value
        if not _matches(key, certificate):
            raise ConfigError(
                f"{source}: the private key does not belong to certificate serial "
                f"{serial_hex(certificate)} ({certificate.subject.rfc4514_string()})",
                path=source,
            )

    @classmethod
    def from_config(
        cls,
        key_path: str | Path,
        cert_path: str | Path | None = None,
        password: str | bytes | None = None,
        password_file: str | Path | None = None,
    ) -> FileKey:
        """Load from files. Without `cert_path` the key file must carry the certificate too
        (PKCS#12, or a PEM with both). Every failure is a ConfigError naming the path."""
        secret = _password(password, password_file)
        data = _read(key_path)
        if b"-----BEGIN" in data:
            key = _load_pem_key(data, secret, key_path)
            cert_data = _read(cert_path) if cert_path else data
            certificate = _load_certificate(cert_data, cert_path or key_path)
        else:
            key, certificate = _load_pkcs12(data, secret, key_path)
            if cert_path:
                certificate = _load_certificate(_read(cert_path), cert_path)
        backend = cls(key, certificate, source=str(key_path))
        log.info("loaded signing key: %s", backend.describe())
        return backend

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def key_type(self) -> str:
        return self._key_type

    def sign(self, data: bytes, suite: Suite) -> bytes:
        if suite.key_type != self._key_type:
            raise ConfigError(
                f"suite {suite.name} needs an {suite.key_type} key; "
                f"{self._source} is {self._key_type}"
            )
        if isinstance(self._key, sm2.Sm2PrivateKey):
            if suite.hash_name != "sm3":
                raise ConfigError(f"suite {suite.name}: SM2 signs with SM3, not {suite.hash_name}")
            return self._key.sign(data)
        return self._key.sign(data, padding.PKCS1v15(), hash_algorithm(suite.hash_name))

    def describe(self) -> str:
        cert = self._certificate
        size = f"-{self._key.key_size}" if isinstance(self._key, rsa.RSAPrivateKey) else ""
        return (
            f"file key {self._source} ({self._key_type}{size}, serial {serial_hex(cert)}, "
            f"{cert.subject.rfc4514_string()}, valid until {cert.not_valid_after_utc:%Y-%m-%d})"
        )

    def __repr__(self) -> str:
        return f"<FileKey {self.describe()}>"


def _matches(key: PrivateKey, certificate: x509.Certificate) -> bool:
    if isinstance(key, sm2.Sm2PrivateKey):
        return sm2.key_matches(key, certificate)
    try:
        public = certificate.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return False
    return isinstance(public, rsa.RSAPublicKey) and public.public_numbers() == (
        key.public_key().public_numbers()
    )


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc


def _password(password: str | bytes | None, password_file: str | Path | None) -> bytes | None:
    if password is not None and password_file is not None:
        raise ConfigError("give the key password as a value or as a file, not both")
    if password_file is not None:
        # Only the line end an editor adds is dropped: spaces may be part of a password.
        return _read(password_file).rstrip(b"\r\n")
    return password.encode() if isinstance(password, str) else password


def _password_error(path: str | Path, secret: bytes | None, exc: Exception) -> ConfigError:
    """A ConfigError for a key that did not open. The password never goes into the message."""
    if isinstance(exc, TypeError):  # cryptography: password given/missing for this key
        hint = "password missing" if secret is None else "the key is not encrypted"
        return ConfigError(f"cannot load key {path}: {hint}", path=str(path))
    hint = "wrong password, or not a key file" if secret else "password missing, or not a key file"
    return ConfigError(f"cannot load key {path}: {hint}", path=str(path))


def _load_pem_key(data: bytes, secret: bytes | None, path: str | Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, secret)
    except UnsupportedAlgorithm:
        return _load_sm2_key(data, secret, path)  # cryptography knows no SM2 curve
    except (ValueError, TypeError) as exc:
        raise _password_error(path, secret, exc) from None
    return _rsa_only(key, path)


def _load_sm2_key(data: bytes, secret: bytes | None, path: str | Path) -> sm2.Sm2PrivateKey:
    try:
        return sm2.load_private_key(data, secret)
    except (ValueError, TypeError) as exc:
        raise _password_error(path, secret, exc) from None


def _rsa_only(key: object, path: str | Path) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            f"{path}: {type(key).__name__} keys are not supported (RSA or SM2)", path=str(path)
        )
    return key


def _load_pkcs12(
    data: bytes, secret: bytes | None, path: str | Path
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(data, secret)
    except UnsupportedAlgorithm as exc:
        raise ConfigError(f"{path}: unsupported key in PKCS#12 (SM2 keys: use PEM)") from exc
    except (ValueError, TypeError) as exc:
        raise _password_error(path, secret, exc) from None
    if key is None or certificate is None:
        raise ConfigError(f"{path}: the PKCS#12 bundle needs both a key and its certificate")
    return _rsa_only(key, path), certificate


def _load_certificate(data: bytes, path: str | Path) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)[0]  # the leaf comes first
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: no readable certificate ({exc})", path=str(path)) from None
