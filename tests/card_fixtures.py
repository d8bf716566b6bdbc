"""Emulated IC cards over real PC/SC for the tests: one private pcscd per test run (4 slots),
test identities on cards. pyscard talks to pcscd, pcscd to vpcd, vpcd to our emulator."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devices import pcsc
from devices.iccard import EnterpriseCard
from devices.rig import CardRig, card_from_files
from signers.testkeys import ensure_identity

PIN = "246810"


@dataclass(frozen=True)
class Identity:
    key_file: Path
    cert_file: Path

    def card(self, number: str, *, pin: str = PIN, delay: float = 0.0) -> EnterpriseCard:
        return card_from_files(number, self.key_file, self.cert_file, pin, delay)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file.read_bytes())


@pytest.fixture(scope="session")
def card_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardRig]:
    missing = pcsc.missing_tools()
    if missing:
        pytest.fail(
            "card tests need " + ", ".join(missing) + " (scripts/setup.sh installs "
            "libpcsclite-dev pcscd vsmartcard-vpcd iproute2 and pyscard)"
        )
    rig = CardRig(tmp_path_factory.mktemp("pcscd"), slots=4).start()
    yield rig
    gc.collect()  # release pyscard connections while pcscd still answers
    rig.stop()


@pytest.fixture
def rig(card_rig: CardRig) -> Iterator[CardRig]:
    """The session's rig with every slot emptied after the test."""
    yield card_rig
    for index in range(len(card_rig.slots)):
        card_rig.pull(index)


@pytest.fixture(scope="session")
def card_ids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    base = tmp_path_factory.mktemp("card-ids")
    ids = {
        name: Identity(*ensure_identity(base, name, key_type=kt))
        for name, kt in (("rsa", "rsa"), ("rsa2", "rsa"), ("sm2", "sm2"))
    }
    ids["expired"] = _expired_identity(base)
    return ids


def _expired_identity(base: Path) -> Identity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "expired card")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=800))
        .not_valid_after(now - timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = base / "expired.key.pem", base / "expired.cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Identity(key_file, cert_file)
