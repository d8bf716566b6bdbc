"""Throwaway signing identities for tests and the demo: a key and a self-signed certificate.

Never for production: real keys live on the enterprise card, and their certificates come from
the China E-Port CA.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.errors import ConfigError
from signers import sm2
from signers.algorithms import KeyType


def ensure_identity(
    directory: Path,
    name: str,
    *,
    key_type: str = "rsa",
    days: int = 825,
    common_name: str | None = None,
) -> tuple[Path, Path]:
    """(key path, certificate path) of `name` in `directory`, creating them on first call and
    reusing them afterwards. Keys are written 0600. `key_type` is "rsa" (2048) or "sm2"."""
    directory = Path(directory)
    key_path, cert_path = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    directory.mkdir(parents=True, exist_ok=True)
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name or name)])
    if key_type == KeyType.RSA:
        key_pem, cert = _rsa_identity(subject, days)
    elif key_type == KeyType.SM2:
        key_pem, cert = _sm2_identity(subject, days)
    else:
        raise ConfigError(f"unknown key type {key_type!r} (rsa or sm2)")
    _write_private(key_path, key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def export_pkcs12(key_path: Path, cert_path: Path, out: Path, password: str) -> Path:
    """Bundle an RSA identity as PKCS#12 (how enterprises often hand over software keys)."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{key_path}: only RSA identities export to PKCS#12 here")
    data = pkcs12.serialize_key_and_certificates(
        out.stem.encode(), key, cert, None, serialization.BestAvailableEncryption(password.encode())
    )
    _write_private(out, data)
    return out


def _rsa_identity(subject: x509.Name, days: int) -> tuple[bytes, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, cert


def _sm2_identity(subject: x509.Name, days: int) -> tuple[bytes, x509.Certificate]:
    key = sm2.generate()
    cert = sm2.self_signed_certificate(key, subject, days=days, serial=x509.random_serial_number())
    return key.private_pem(), cert


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: a chmod after writing would leave a window.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)  # O_CREAT's mode is ignored when the file already existed
