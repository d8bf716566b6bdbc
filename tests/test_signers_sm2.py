"""SM2/SM3 signatures: round trip, and interop with OpenSSL both ways."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree

from gateway.codes import DSIG_NS
from gateway.errors import ConfigError, SignatureInvalid
from signers import FileKey, Suite, SuiteRegistry, get_suite, sign, verify
from signers import sm2 as sm2_module
from signers.testkeys import ensure_identity
from tests.test_signers import ceb303, parse, replace_once

pytest.importorskip("tongsuopy", reason="SM2 needs tongsuopy")

DISTID = "distid:1234567812345678"


def _openssl_has_sm2() -> bool:
    if shutil.which("openssl") is None:
        return False
    run = subprocess.run(
        ["openssl", "list", "-public-key-algorithms"], capture_output=True, text=True, timeout=30
    )
    return "SM2" in run.stdout


needs_openssl = pytest.mark.skipif(not _openssl_has_sm2(), reason="openssl without SM2")


def openssl(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, timeout=30, cwd=cwd
    )


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sm2keys")


@pytest.fixture(scope="module")
def identity(keydir: Path) -> tuple[Path, Path]:
    return ensure_identity(keydir, "card", key_type="sm2", common_name="SM2 card")


@pytest.fixture(scope="module")
def key(identity: tuple[Path, Path]) -> FileKey:
    return FileKey.from_config(*identity)


@pytest.fixture(scope="module")
def signed(key: FileKey) -> bytes:
    return sign(parse(ceb303()), key, get_suite("sm2-sm3"))


def signature_parts(data: bytes) -> tuple[bytes, bytes]:
    """(canonical SignedInfo in document context, raw SignatureValue) of a signed message."""
    sig = etree.fromstring(data).find(f"{{{DSIG_NS}}}Signature")
    assert sig is not None
    return etree.tostring(sig[0], method="c14n"), base64.b64decode(sig[1].text or "")


def test_round_trip(key: FileKey, signed: bytes) -> None:
    assert key.key_type == "sm2"
    result = verify(signed, trusted=key.certificate)
    assert result.signature_uri == "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"
    assert result.digest_uri == "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"


def test_signature_value_is_raw_r_s(signed: bytes) -> None:
    _, value = signature_parts(signed)
    assert len(value) == 64


def test_tampering_is_detected(signed: bytes) -> None:
    with pytest.raises(SignatureInvalid) as err:
        verify(replace_once(signed, b"13.14", b"13.41"))
    assert err.value.code == "1004"
    value = re.search(rb"<ds:SignatureValue>(.)", signed)
    assert value is not None
    flipped = b"A" if value.group(1) != b"A" else b"B"
    with pytest.raises(SignatureInvalid) as err:
        verify(signed[: value.start(1)] + flipped + signed[value.end(1) :])
    assert err.value.code == "1001"


def test_rsa_suite_with_sm2_key_is_config_error(key: FileKey) -> None:
    with pytest.raises(ConfigError):
        sign(parse(ceb303()), key, get_suite("rsa-sha1"))


def test_sm2_key_and_other_certificate_do_not_match(
    identity: tuple[Path, Path], keydir: Path
) -> None:
    _, other_cert = ensure_identity(keydir, "other", key_type="sm2")
    with pytest.raises(ConfigError, match="does not belong"):
        FileKey.from_config(identity[0], other_cert)


def test_cryptography_parses_our_sm2_certificate(identity: tuple[Path, Path]) -> None:
    cert = x509.load_pem_x509_certificate(identity[1].read_bytes())
    assert cert.signature_algorithm_oid.dotted_string == sm2_module.SM2_WITH_SM3_OID
    assert sm2_module.is_sm2_certificate(cert)


def test_deployed_w3_variant_with_sha1_digest(key: FileKey) -> None:
    # Seen in practice: the SM2 URI under the w3.org namespace, with a SHA-1 reference digest.
    variant = Suite(
        "sm2-sm3-w3",
        "http://www.w3.org/2000/09/xmldsig#sm2-sm3",
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "sm3",
        "sm2",
        digest_hash="sha1",
    )
    registry = SuiteRegistry()
    registry.register(variant)
    data = sign(parse(ceb303()), key, variant)
    with pytest.raises(SignatureInvalid, match="not allowed"):
        verify(data, registry=registry)
    assert verify(data, registry=registry, allowed=variant.uris).key_name


@needs_openssl
def test_openssl_verifies_our_signature(
    signed: bytes, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    signed_info, raw = signature_parts(signed)
    (tmp_path / "si.bin").write_bytes(signed_info)
    (tmp_path / "sig.der").write_bytes(sm2_module.raw_to_der(raw))
    assert (
        openssl(
            "x509", "-in", identity[1], "-pubkey", "-noout", "-out", "pub.pem", cwd=tmp_path
        ).returncode
        == 0
    )
    run = openssl(
        "dgst",
        "-sm3",
        "-sigopt",
        DISTID,
        "-verify",
        "pub.pem",
        "-signature",
        "sig.der",
        "si.bin",
        cwd=tmp_path,
    )
    assert run.returncode == 0 and "Verified OK" in run.stdout, run.stderr


@needs_openssl
def test_we_verify_an_openssl_signature(
    signed: bytes, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    signed_info, raw = signature_parts(signed)
    (tmp_path / "si.bin").write_bytes(signed_info)
    run = openssl(
        "dgst",
        "-sm3",
        "-sigopt",
        DISTID,
        "-sign",
        identity[0],
        "-out",
        "sig.der",
        "si.bin",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    theirs = (tmp_path / "sig.der").read_bytes()  # DER (r, s): accepted as well as raw r||s
    forged = replace_once(signed, base64.b64encode(raw), base64.b64encode(theirs))
    assert verify(forged).key_name


@needs_openssl
def test_openssl_made_identity_signs(tmp_path: Path) -> None:
    assert openssl("genpkey", "-algorithm", "SM2", "-out", "k.pem", cwd=tmp_path).returncode == 0
    run = openssl(
        "req",
        "-new",
        "-x509",
        "-key",
        "k.pem",
        "-sm3",
        "-sigopt",
        DISTID,
        "-subj",
        "/CN=openssl card",
        "-days",
        "30",
        "-out",
        "c.pem",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    key = FileKey.from_config(tmp_path / "k.pem", tmp_path / "c.pem")
    assert verify(sign(parse(ceb303()), key, get_suite("sm2-sm3"))).certificate == key.certificate


@needs_openssl
def test_openssl_accepts_our_sm2_certificate(identity: tuple[Path, Path]) -> None:
    run = openssl("verify", "-CAfile", identity[1], identity[1], cwd=identity[1].parent)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_openssl
def test_encrypted_sm2_key(identity: tuple[Path, Path], tmp_path: Path) -> None:
    run = openssl(
        "pkcs8",
        "-topk8",
        "-in",
        identity[0],
        "-out",
        "enc.pem",
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:sm2-secret",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    key = FileKey.from_config(tmp_path / "enc.pem", identity[1], password="sm2-secret")
    assert key.key_type == "sm2"
    with pytest.raises(ConfigError) as err:
        FileKey.from_config(tmp_path / "enc.pem", identity[1], password="bad-secret")
    assert "bad-secret" not in str(err.value) and "enc.pem" in str(err.value)
