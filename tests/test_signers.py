"""Enveloped XML-DSig (RSA): our verifier, xmlsec1 as the independent one, key loading."""

from __future__ import annotations

import base64
import re
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.codes import CEB_NS, DSIG_NS
from gateway.errors import ConfigError, MisuseError, SignatureInvalid, SigningError
from signers import (
    BUILTIN_SUITES,
    DEFAULT_ALLOWED,
    AlreadySigned,
    FileKey,
    KeyBackend,
    SignatureMethod,
    Suite,
    SuiteRegistry,
    allow_list,
    get_suite,
    serial_hex,
    sign,
    verify,
)
from signers.testkeys import ensure_identity, export_pkcs12

XMLSEC1 = shutil.which("xmlsec1")
needs_xmlsec1 = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 not installed")

EXTEND = """
  <ceb:ExtendMessage>
    <ceb:name>demo</ceb:name>
    <ceb:version>1.0</ceb:version>
    <ceb:Message><note>free XML</note></ceb:Message>
  </ceb:ExtendMessage>"""


def ceb303(extend: bool = True) -> bytes:
    """A small but realistic export order message, pretty-printed as ERPs send it."""
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB303Message guid="4CDE1CFD-EDED-46B1-946C-B8022E42FC94" version="1.0"
    xmlns:ceb="{CEB_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <ceb:Order>
    <ceb:OrderHead>
      <ceb:guid>4CDE1CFD-EDED-46B1-946C-B8022E42FC94</ceb:guid>
      <ceb:appType>1</ceb:appType>
      <ceb:appTime>20240105101010</ceb:appTime>
      <ceb:appStatus>2</ceb:appStatus>
      <ceb:orderType>E</ceb:orderType>
      <ceb:orderNo>ORDER-2024-0001</ceb:orderNo>
      <ceb:ebpCode>1105910159</ceb:ebpCode>
      <ceb:ebpName>东方物通科技（北京）有限公司</ceb:ebpName>
      <ceb:ebcCode>1105910159</ceb:ebcCode>
      <ceb:ebcName>东方物通科技（北京）有限公司</ceb:ebcName>
      <ceb:goodsValue>13.14</ceb:goodsValue>
      <ceb:freight>0</ceb:freight>
      <ceb:currency>142</ceb:currency>
      <ceb:note>A &amp; B &lt;tested&gt; "quoted"</ceb:note>
    </ceb:OrderHead>
    <ceb:OrderList>
      <ceb:gnum>1</ceb:gnum>
      <ceb:itemNo>1122334455</ceb:itemNo>
      <ceb:itemName>茶叶 tea</ceb:itemName>
      <ceb:unit>035</ceb:unit>
      <ceb:currency>142</ceb:currency>
      <ceb:qty>1</ceb:qty>
      <ceb:price>13.14</ceb:price>
      <ceb:totalPrice>13.14</ceb:totalPrice>
    </ceb:OrderList>
  </ceb:Order>
  <ceb:BaseTransfer>
    <ceb:copCode>1105910159</ceb:copCode>
    <ceb:copName>东方物通科技（北京）有限公司</ceb:copName>
    <ceb:dxpMode>DXP</ceb:dxpMode>
    <ceb:dxpId>DXPENT0000458763</ceb:dxpId>
  </ceb:BaseTransfer>{EXTEND if extend else ""}
</ceb:CEB303Message>
"""
    return text.encode("utf-8")


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def children(data: bytes) -> list[str]:
    return [etree.QName(c).localname for c in parse(data) if isinstance(c.tag, str)]


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def identity(keydir: Path) -> tuple[Path, Path]:
    return ensure_identity(keydir, "enterprise", common_name="Demo Enterprise")


@pytest.fixture(scope="module")
def key(identity: tuple[Path, Path]) -> FileKey:
    return FileKey.from_config(*identity)


@pytest.fixture(scope="module")
def other_key(keydir: Path) -> FileKey:
    return FileKey.from_config(*ensure_identity(keydir, "other"))


@pytest.fixture(scope="module")
def signed(key: FileKey) -> bytes:
    return sign(parse(ceb303()), key, get_suite("rsa-sha1"))


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new, 1)


# --------------------------------------------------------------------------- signing


@pytest.mark.parametrize("suite", ["rsa-sha1", "rsa-sha256"])
def test_sign_then_verify(key: FileKey, suite: str) -> None:
    data = sign(parse(ceb303()), key, get_suite(suite))
    result = verify(data, trusted=key.certificate)
    assert result.signature_uri == get_suite(suite).signature_uri
    assert result.digest_uri == get_suite(suite).digest_uri
    assert result.certificate == key.certificate
    assert result.key_name == serial_hex(key.certificate) == result.serial


def test_signature_goes_before_extend_message(signed: bytes) -> None:
    assert children(signed) == ["Order", "BaseTransfer", "Signature", "ExtendMessage"]


def test_signature_goes_last_without_extend_message(key: FileKey) -> None:
    data = sign(parse(ceb303(extend=False)), key, get_suite())
    assert children(data) == ["Order", "BaseTransfer", "Signature"]
    verify(data)


def test_signature_layout(signed: bytes, key: FileKey) -> None:
    assert signed.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    sig = parse(signed).find(f"{{{DSIG_NS}}}Signature")
    assert sig is not None and sig.prefix == "ds" and sig.tail is None
    ns = {"ds": DSIG_NS}
    assert sig.xpath("ds:SignedInfo/ds:Reference/@URI", namespaces=ns) == [""]
    assert sig.xpath(
        "ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform/@Algorithm", namespaces=ns
    ) == ["http://www.w3.org/2000/09/xmldsig#enveloped-signature"]
    assert [etree.QName(c).localname for c in sig.find("ds:KeyInfo", ns)] == ["KeyName", "X509Data"]
    assert sig.findtext("ds:KeyInfo/ds:KeyName", namespaces=ns) == serial_hex(key.certificate)
    der = base64.b64decode(sig.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=ns))
    assert x509.load_der_x509_certificate(der) == key.certificate


def test_signed_info_is_canonicalized_in_document_context(signed: bytes) -> None:
    # The root's namespace declarations are part of the signed SignedInfo bytes.
    signed_info = parse(signed).find(f"{{{DSIG_NS}}}Signature/{{{DSIG_NS}}}SignedInfo")
    c14n = etree.tostring(signed_info, method="c14n")
    assert c14n.startswith(
        b'<ds:SignedInfo xmlns:ceb="http://www.chinaport.gov.cn/ceb" '
        b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xsi='
    )


def test_returned_bytes_verify_as_bytes_only(signed: bytes, tmp_path: Path) -> None:
    path = tmp_path / "CEB303Message_1.xml"
    path.write_bytes(signed)
    assert verify(path.read_bytes()).key_name
    assert verify(bytes(bytearray(signed))).key_name


def test_reformatting_after_signing_breaks_it(signed: bytes) -> None:
    # The integrators' classic: pretty-printing the signed message changes the data.
    pretty = etree.tostring(
        etree.fromstring(signed, etree.XMLParser(remove_blank_text=True)),
        pretty_print=True,
        xml_declaration=True,
        encoding="UTF-8",
    )
    with pytest.raises(SignatureInvalid) as err:
        verify(pretty)
    assert err.value.code == "1004"


def test_default_namespace_document(key: FileKey) -> None:
    data = ceb303().replace(b"ceb:", b"").replace(b"xmlns:ceb=", b"xmlns=")
    signed = sign(parse(data), key, get_suite("rsa-sha256"))
    assert b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">' in signed
    assert verify(signed).key_name
    assert children(signed)[-2:] == ["Signature", "ExtendMessage"]


def test_gb2312_input_is_signed_as_utf8(key: FileKey) -> None:
    data = ceb303().decode().replace('encoding="UTF-8"', 'encoding="GB2312"').encode("gb2312")
    signed = sign(parse(data), key, get_suite())
    assert "东方物通".encode() in signed
    verify(signed)


def test_signing_twice_is_refused(key: FileKey, signed: bytes) -> None:
    with pytest.raises(AlreadySigned) as err:
        sign(parse(signed), key, get_suite())
    assert isinstance(err.value, MisuseError) and not err.value.retryable


def test_only_the_document_root_is_signed(key: FileKey) -> None:
    order = parse(ceb303())[0]
    with pytest.raises(MisuseError):
        sign(order, key, get_suite())


def test_suite_must_fit_the_key(key: FileKey) -> None:
    with pytest.raises(ConfigError, match="sm2"):
        sign(parse(ceb303()), key, get_suite("sm2-sm3"))


class BrokenCard:
    """A backend whose device fails mid-signature, like a pulled card."""

    def __init__(self, inner: FileKey) -> None:
        self.certificate = inner.certificate
        self.key_type = inner.key_type

    def sign(self, data: bytes, suite: Suite) -> bytes:
        raise OSError("card removed from reader")

    def describe(self) -> str:
        return "card 1234567890123 in Virtual PCD 00 00"


def test_backend_failure_is_retryable_signing_error(key: FileKey) -> None:
    card = BrokenCard(key)
    assert isinstance(card, KeyBackend)
    root = parse(ceb303())
    with pytest.raises(SigningError, match="card removed") as err:
        sign(root, card, get_suite())
    assert err.value.retryable and "card 1234567890123" in err.value.message
    # The tree is left unsigned, so the retry signs it.
    assert children(etree.tostring(root)) == ["Order", "BaseTransfer", "ExtendMessage"]
    verify(sign(root, key, get_suite()))


# --------------------------------------------------------------------------- xmlsec1


def xmlsec1(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert XMLSEC1 is not None
    return subprocess.run(
        [XMLSEC1, "--verify", *map(str, args)], capture_output=True, text=True, timeout=30
    )


@needs_xmlsec1
@pytest.mark.parametrize("suite", ["rsa-sha1", "rsa-sha256"])
@pytest.mark.parametrize("extend", [True, False])
def test_xmlsec1_accepts_our_signatures(
    key: FileKey, identity: tuple[Path, Path], tmp_path: Path, suite: str, extend: bool
) -> None:
    path = tmp_path / "signed.xml"
    path.write_bytes(sign(parse(ceb303(extend)), key, get_suite(suite)))
    # With the public key given...
    run = xmlsec1("--pubkey-cert-pem", identity[1], path)
    assert run.returncode == 0, run.stderr
    # ...and with the certificate in KeyInfo checked against a trust anchor.
    run = xmlsec1("--trusted-pem", identity[1], path)
    assert run.returncode == 0, run.stderr


@needs_xmlsec1
def test_xmlsec1_accepts_default_namespace(
    key: FileKey, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    data = ceb303().replace(b"ceb:", b"").replace(b"xmlns:ceb=", b"xmlns=")
    path = tmp_path / "signed.xml"
    path.write_bytes(sign(parse(data), key, get_suite()))
    run = xmlsec1("--pubkey-cert-pem", identity[1], path)
    assert run.returncode == 0, run.stderr


@needs_xmlsec1
def test_xmlsec1_agrees_on_inherited_xml_lang(
    key: FileKey, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    # C14N 1.0 carries xml:* attributes of ancestors into the canonical SignedInfo.
    data = ceb303().replace(b'version="1.0"\n', b'version="1.0" xml:lang="zh"\n', 1)
    signed = sign(parse(data), key, get_suite())
    assert b"<ds:SignedInfo>" in signed  # only in the signed bytes, not in the document
    verify(signed)
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    run = xmlsec1("--pubkey-cert-pem", identity[1], path)
    assert run.returncode == 0, run.stderr


@needs_xmlsec1
def test_xmlsec1_refuses_tampered_and_foreign(
    signed: bytes, other_key: FileKey, keydir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tampered.xml"
    path.write_bytes(replace_once(signed, b"ORDER-2024-0001", b"ORDER-2024-0002"))
    assert xmlsec1("--pubkey-cert-pem", keydir / "enterprise.cert.pem", path).returncode != 0
    path.write_bytes(signed)
    assert xmlsec1("--pubkey-cert-pem", keydir / "other.cert.pem", path).returncode != 0


# --------------------------------------------------------------------------- verifying


def expect_invalid(data: bytes, code: str, **kwargs: object) -> SignatureInvalid:
    with pytest.raises(SignatureInvalid) as err:
        verify(data, **kwargs)  # type: ignore[arg-type]
    assert err.value.code == code, err.value.message
    return err.value


def test_one_changed_character_is_1004(signed: bytes) -> None:
    err = expect_invalid(replace_once(signed, b"13.14", b"13.15"), "1004")
    assert "signature does not match data" in err.message


def test_changed_signature_value_is_1001(signed: bytes) -> None:
    value = re.search(rb"<ds:SignatureValue>(.)", signed)
    assert value is not None
    flipped = b"B" if value.group(1) != b"B" else b"C"
    tampered = signed[: value.start(1)] + flipped + signed[value.end(1) :]
    expect_invalid(tampered, "1001")


def test_changed_signed_info_is_1001(signed: bytes) -> None:
    # A forged DigestValue that matches other data still fails on SignatureValue.
    tampered = replace_once(signed, b"ORDER-2024-0001", b"ORDER-2024-0009")
    digest = hashes.Hash(hashes.SHA1())
    tree = etree.fromstring(tampered)
    sig = tree.find(f"{{{DSIG_NS}}}Signature")
    old = sig.findtext(f".//{{{DSIG_NS}}}DigestValue").encode()
    tree.remove(sig)
    digest.update(etree.tostring(tree.getroottree(), method="c14n"))
    forged = base64.b64encode(digest.finalize())
    expect_invalid(replace_once(tampered, old, forged), "1001")


def test_other_trusted_certificate_is_refused(signed: bytes, other_key: FileKey) -> None:
    err = expect_invalid(signed, "1001", trusted=other_key.certificate)
    assert "not the trusted certificate" in err.message


def test_signature_by_other_key_with_our_certificate_is_1001(
    signed: bytes, key: FileKey, other_key: FileKey
) -> None:
    # Signed by `other`, then KeyInfo swapped to claim to be `key`.
    theirs = sign(parse(ceb303()), other_key, get_suite())
    ours_b64 = base64.b64encode(key.certificate.public_bytes(serialization.Encoding.DER))
    theirs_b64 = base64.b64encode(other_key.certificate.public_bytes(serialization.Encoding.DER))
    forged = replace_once(theirs, theirs_b64, ours_b64)
    forged = replace_once(
        forged, serial_hex(other_key.certificate).encode(), serial_hex(key.certificate).encode()
    )
    expect_invalid(forged, "1001", trusted=key.certificate)


def test_expired_certificate_is_1002(signed: bytes, key: FileKey, keydir: Path) -> None:
    later = key.certificate.not_valid_after_utc + timedelta(seconds=1)
    err = expect_invalid(signed, "1002", at=later)
    assert "expired" in err.message
    expect_invalid(signed, "1002", at=key.certificate.not_valid_before_utc - timedelta(1))
    short = FileKey.from_config(*ensure_identity(keydir, "short", days=1))
    data = sign(parse(ceb303()), short, get_suite())
    verify(data)
    expect_invalid(data, "1002", at=datetime.now(UTC) + timedelta(days=2))


def test_algorithm_not_allowed_is_refused(signed: bytes) -> None:
    strong = allow_list([s for s in BUILTIN_SUITES if not s.weak])
    err = expect_invalid(signed, "1001", allowed=strong)
    assert SignatureMethod.RSA_SHA1 in err.message


def test_weak_algorithms_need_explicit_consent() -> None:
    with pytest.raises(ConfigError, match="allow_weak"):
        allow_list(BUILTIN_SUITES)
    assert allow_list(BUILTIN_SUITES, allow_weak=True) == DEFAULT_ALLOWED
    assert get_suite().name == "rsa-sha1" and get_suite().weak


def test_missing_signature_is_1001() -> None:
    expect_invalid(ceb303(), "1001")


def test_two_signatures_are_refused(signed: bytes) -> None:
    sig = re.search(rb"<ds:Signature .*</ds:Signature>", signed, re.S)
    assert sig is not None
    expect_invalid(signed.replace(sig.group(0), sig.group(0) * 2), "1001")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (b'URI=""', b'URI="#order"', 'URI=""'),
        (
            b'xmldsig#enveloped-signature"/>',
            b'xmldsig#enveloped-signature"/><ds:Transform '
            b'Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>',
            "not allowed",
        ),
        (b"REC-xml-c14n-20010315", b"REC-xml-c14n-20010315#WithComments", "canonicalization"),
        (b"<ds:KeyName>", b"<ds:KeyName>ff", "KeyName"),
        (
            b"http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            b"http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3",
            "needs an sm2 certificate",
        ),
    ],
)
def test_unexpected_structures_are_refused(
    signed: bytes, old: bytes, new: bytes, words: str
) -> None:
    err = expect_invalid(replace_once(signed, old, new), "1001")
    assert words in err.message


def resign(data: bytes, key: FileKey) -> bytes:
    """Recompute SignatureValue after a test edited SignedInfo (as another signer would)."""
    root = etree.fromstring(data)
    sig = root.find(f"{{{DSIG_NS}}}Signature")
    signed_info = etree.tostring(sig[0], method="c14n")
    sig[1].text = base64.b64encode(key.sign(signed_info, get_suite())).decode()
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def test_trailing_c14n_transform_is_accepted(signed: bytes, key: FileKey) -> None:
    # Some implementations list C14N after the enveloped transform; it changes nothing.
    variant = replace_once(
        signed,
        b'enveloped-signature"/>',
        b'enveloped-signature"/>'
        b'<ds:Transform Algorithm="http://www.w3.org/TR/2001/'
        b'REC-xml-c14n-20010315"/>',
    )
    expect_invalid(variant, "1001")  # SignedInfo changed: the old SignatureValue fails...
    assert verify(resign(variant, key)).key_name  # ...re-signed, the structure is accepted


def test_whitespace_after_the_signature_is_kept_by_the_enveloped_transform(signed: bytes) -> None:
    # Another signer might put the Signature's surrounding whitespace after it, not before.
    moved = replace_once(
        signed, b"</ceb:BaseTransfer>\n  <ds:Signature", b"</ceb:BaseTransfer><ds:Signature"
    )
    moved = replace_once(
        moved, b"</ds:Signature><ceb:ExtendMessage", b"</ds:Signature>\n  <ceb:ExtendMessage"
    )
    assert verify(moved).key_name


def test_not_xml_is_invalid_message() -> None:
    from gateway.errors import InvalidMessage

    with pytest.raises(InvalidMessage):
        verify(b"<ceb:CEB303Message")
    with pytest.raises(InvalidMessage):
        verify(b'<!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>')


# --------------------------------------------------------------------------- suites


def test_deployed_variant_suite_with_w3_sm2_uri_registers() -> None:
    registry = SuiteRegistry()
    variant = Suite(
        "sm2-sm3-w3",
        "http://www.w3.org/2000/09/xmldsig#sm2-sm3",
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "sm3",
        "sm2",
        digest_hash="sha1",
    )
    registry.register(variant)
    assert registry.signature_method(variant.signature_uri) == ("sm2", "sm3")
    assert registry.digest_method(variant.digest_uri) == "sha1"
    assert variant.weak


def test_registry_refuses_conflicting_meanings() -> None:
    registry = SuiteRegistry()
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(Suite("rsa-sha1", SignatureMethod.RSA_SHA1, "urn:x", "sha1", "rsa"))
    with pytest.raises(ConfigError, match="already means"):
        registry.register(Suite("odd", SignatureMethod.RSA_SHA1, "urn:d", "sha256", "rsa"))
    override = Suite("rsa-sha1", "urn:example:rsa-sha1", "urn:example:sha1", "sha1", "rsa")
    registry.register(override, replace=True)
    assert registry.get("rsa-sha1") == override
    with pytest.raises(ConfigError, match="unknown signature suite"):
        registry.get("dsa")


def test_overridden_uris_sign_and_verify(key: FileKey) -> None:
    registry = SuiteRegistry()
    suite = Suite("rsa-sha256", "urn:example:rsa-sha256", "urn:example:sha256", "sha256", "rsa")
    registry.register(suite, replace=True)
    data = sign(parse(ceb303()), key, suite)
    expect_invalid(data, "1001")  # not in the default allow-list
    result = verify(data, allowed=suite.uris, registry=registry)
    assert result.signature_uri == "urn:example:rsa-sha256"
    allowed = allow_list(registry.suites(), allow_weak=True)
    assert verify(data, allowed=allowed, registry=registry).key_name


# --------------------------------------------------------------------------- keys


def test_serial_hex_keeps_the_leading_zero_byte() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "card")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x03000000000CDE6F)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    assert serial_hex(cert) == "03000000000cde6f"  # as customs cards write it


def test_ensure_identity_is_idempotent_and_private(tmp_path: Path) -> None:
    key_path, cert_path = ensure_identity(tmp_path, "demo")
    before = key_path.read_bytes(), cert_path.read_bytes()
    assert ensure_identity(tmp_path, "demo") == (key_path, cert_path)
    assert (key_path.read_bytes(), cert_path.read_bytes()) == before
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_pem_with_key_and_certificate_in_one_file(
    identity: tuple[Path, Path], tmp_path: Path
) -> None:
    combined = tmp_path / "both.pem"
    combined.write_bytes(identity[0].read_bytes() + identity[1].read_bytes())
    assert FileKey.from_config(combined).certificate.serial_number


def test_pkcs12_with_password(identity: tuple[Path, Path], tmp_path: Path) -> None:
    p12 = export_pkcs12(*identity, tmp_path / "card.p12", "s3cret-Pa55")
    key = FileKey.from_config(p12, password="s3cret-Pa55")
    verify(sign(parse(ceb303()), key, get_suite()), trusted=key.certificate)
    secret_file = tmp_path / "password.txt"
    secret_file.write_text("s3cret-Pa55\n")
    assert FileKey.from_config(p12, password_file=secret_file).certificate == key.certificate


def test_wrong_password_is_config_error_without_the_password(
    identity: tuple[Path, Path], tmp_path: Path
) -> None:
    p12 = export_pkcs12(*identity, tmp_path / "card.p12", "right-one")
    with pytest.raises(ConfigError) as err:
        FileKey.from_config(p12, password="Wr0ng-Guess")
    shown = f"{err.value} {err.value.as_dict()} {err.value!r} {err.value.__cause__!r}"
    assert str(p12) in str(err.value)
    assert "Wr0ng-Guess" not in shown and "right-one" not in shown
    with pytest.raises(ConfigError, match="password missing"):
        FileKey.from_config(p12)


def test_encrypted_pem_key(identity: tuple[Path, Path], tmp_path: Path) -> None:
    plain = serialization.load_pem_private_key(identity[0].read_bytes(), None)
    encrypted = tmp_path / "enc.key.pem"
    encrypted.write_bytes(
        plain.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pem-pass"),
        )
    )
    assert FileKey.from_config(encrypted, identity[1], password=b"pem-pass").key_type == "rsa"
    with pytest.raises(ConfigError) as err:
        FileKey.from_config(encrypted, identity[1], password="nope-nope")
    assert "nope-nope" not in str(err.value) and str(encrypted) in str(err.value)


def test_missing_files_name_the_path(identity: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.pem"):
        FileKey.from_config(tmp_path / "missing.pem", identity[1])
    with pytest.raises(ConfigError, match="nocert.pem"):
        FileKey.from_config(identity[0], tmp_path / "nocert.pem")
    with pytest.raises(ConfigError, match="pw.txt"):
        FileKey.from_config(identity[0], identity[1], password_file=tmp_path / "pw.txt")


def test_key_and_certificate_must_match(identity: tuple[Path, Path], keydir: Path) -> None:
    _, other_cert = ensure_identity(keydir, "other")
    with pytest.raises(ConfigError, match="does not belong"):
        FileKey.from_config(identity[0], other_cert)


def test_describe_shows_no_secret(
    identity: tuple[Path, Path], tmp_path: Path, key: FileKey
) -> None:
    p12 = export_pkcs12(*identity, tmp_path / "card.p12", "hidden-pw")
    text = FileKey.from_config(p12, password="hidden-pw").describe() + repr(key)
    assert "hidden-pw" not in text and "PRIVATE" not in text
    assert serial_hex(key.certificate) in text and "rsa-2048" in text
