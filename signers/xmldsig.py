"""Enveloped XML-DSig exactly as the customs profile wants it (ceb-messages.md, "Signature").

    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
      <ds:SignedInfo>  C14N 1.0 inclusive, SignatureMethod, one Reference URI="" with the
                       enveloped-signature transform, DigestMethod, DigestValue
      <ds:SignatureValue>  base64 of the backend's raw signature over the canonical SignedInfo
      <ds:KeyInfo>  ds:KeyName (certificate serial, lower-case hex) then
                    ds:X509Data/ds:X509Certificate (base64 DER)

Why it is hand-written: signxml refuses SHA-1 (the standard's generic suite) and knows no SM2.

Two details decide whether customs accepts a signature:
- SignedInfo is canonicalized *in document context*: inclusive C14N of a subtree renders every
  namespace in scope, so the root's declarations (xmlns:ceb, xmlns:xsi, a default namespace)
  appear in the signed bytes. We canonicalize SignedInfo after the Signature is in the tree.
- The bytes sent are the bytes signed. `sign` returns the serialized document; nothing may
  re-serialize it afterwards. The Signature gets no surrounding whitespace: a tail text node
  would survive the enveloped transform on the verifier's side and break the digest.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from gateway import xmlsafe
from gateway.codes import CEB_NS, DSIG_NS, ExchangeErrorCode
from gateway.errors import (  # AlreadySigned: defined in the tree, still importable here
    AlreadySigned,
    ConfigError,
    GatewayError,
    MisuseError,
    SignatureInvalid,
    SigningError,
)
from signers.algorithms import (
    C14N,
    DEFAULT_ALLOWED,
    ENVELOPED,
    REGISTRY,
    Suite,
    SuiteRegistry,
    hash_algorithm,
)
from signers.keys import KeyBackend, certificate_key_type, check_signature, serial_hex

SIGNATURE_TAG = f"{{{DSIG_NS}}}Signature"
_EXTEND_MESSAGE = f"{{{CEB_NS}}}ExtendMessage"
_XML_ATTRIBUTE = "{http://www.w3.org/XML/1998/namespace}"
#: Transforms lists accepted on verify. A trailing C14N transform changes nothing (it is
#: applied anyway); everything else (XPath, XSLT, exclusive C14N…) is refused.
_TRANSFORMS = ((ENVELOPED,), (ENVELOPED, C14N))

_INVALID = ExchangeErrorCode.SIGNATURE_INVALID.value
_MISMATCH = ExchangeErrorCode.SIGNATURE_MISMATCH.value
_EXPIRED = ExchangeErrorCode.CERTIFICATE_EXPIRED.value


@dataclass(frozen=True)
class Verified:
    """A signature that verified: who signed and with what."""

    certificate: x509.Certificate
    signature_uri: str
    digest_uri: str
    key_name: str

    @property
    def serial(self) -> str:
        return serial_hex(self.certificate)


# --------------------------------------------------------------------------- signing


def sign(root: etree._Element, key: KeyBackend, suite: Suite) -> bytes:
    """Add an enveloped ds:Signature to `root` (in place) and return the document's bytes
    (UTF-8, with XML declaration): send exactly these bytes. The Signature goes before
    ceb:ExtendMessage when there is one (export-message order), else last.

    Raises AlreadySigned, ConfigError (suite does not fit the key), SigningError (the backend
    failed; retryable — the tree is left unsigned so a retry can sign it)."""
    _check_can_sign(root, key, suite)
    digest = _digest(root.getroottree(), suite.digest_hash)
    signature = _signature_element(suite, digest, key.certificate)
    _insert(root, signature)
    try:
        value = _sign_signed_info(key, signature[0], suite)
    except BaseException:
        root.remove(signature)
        raise
    signature[1].text = _b64(value)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def _check_can_sign(root: etree._Element, key: KeyBackend, suite: Suite) -> None:
    if root.getparent() is not None:
        raise MisuseError("an enveloped signature goes on the document's root element")
    if root.find(SIGNATURE_TAG) is not None:
        raise AlreadySigned(f"{etree.QName(root).localname} already carries a ds:Signature")
    if key.key_type != suite.key_type:
        raise ConfigError(
            f"suite {suite.name} needs an {suite.key_type} key, the signing key is {key.key_type}"
        )


def _digest(tree: etree._ElementTree, hash_name: str) -> bytes:
    """Hash of the inclusive C14N (no comments) of the whole document: what URI="" means."""
    h = hashes.Hash(hash_algorithm(hash_name))
    h.update(etree.tostring(tree, method="c14n", exclusive=False, with_comments=False))
    return h.finalize()


def _ds(parent: etree._Element, name: str, algorithm: str | None = None) -> etree._Element:
    attrs = {"Algorithm": algorithm} if algorithm is not None else {}
    return etree.SubElement(parent, f"{{{DSIG_NS}}}{name}", attrs)


def _signature_element(suite: Suite, digest: bytes, cert: x509.Certificate) -> etree._Element:
    signature = etree.Element(SIGNATURE_TAG, nsmap={"ds": DSIG_NS})
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", C14N)
    _ds(signed_info, "SignatureMethod", suite.signature_uri)
    reference = _ds(signed_info, "Reference")
    reference.set("URI", "")
    _ds(_ds(reference, "Transforms"), "Transform", ENVELOPED)
    _ds(reference, "DigestMethod", suite.digest_uri)
    _ds(reference, "DigestValue").text = _b64(digest)
    _ds(signature, "SignatureValue")
    key_info = _ds(signature, "KeyInfo")
    _ds(key_info, "KeyName").text = serial_hex(cert)
    _ds(_ds(key_info, "X509Data"), "X509Certificate").text = _b64(cert.public_bytes(Encoding.DER))
    return signature


def _insert(root: etree._Element, signature: etree._Element) -> None:
    extend = root.find(_EXTEND_MESSAGE)
    if extend is not None:
        extend.addprevious(signature)
    else:
        root.append(signature)


def _sign_signed_info(key: KeyBackend, signed_info: etree._Element, suite: Suite) -> bytes:
    data = _c14n(signed_info)
    try:
        return key.sign(data, suite)
    except GatewayError:
        raise
    except Exception as exc:  # a backend's own failure: card pulled, driver error…
        raise SigningError(f"{key.describe()} could not sign: {exc}") from exc


def _c14n(element: etree._Element) -> bytes:
    """Inclusive C14N 1.0 of a subtree in document context: it carries the namespaces and the
    xml:* attributes (xml:lang, xml:space…) it inherits. lxml declares the ancestors'
    namespaces itself but not their xml:* attributes: those are set on the element for the
    time of the call (customs messages normally have none: then nothing is touched)."""
    inherited = _inherited_xml_attributes(element)
    for name, value in inherited.items():
        element.set(name, value)
    try:
        return etree.tostring(element, method="c14n", exclusive=False, with_comments=False)
    finally:
        for name in inherited:
            del element.attrib[name]


def _inherited_xml_attributes(element: etree._Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for ancestor in element.iterancestors():
        for name, value in ancestor.attrib.items():
            if str(name).startswith(_XML_ATTRIBUTE) and name not in element.attrib:
                found.setdefault(str(name), str(value))  # the nearest ancestor wins
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class _Parts:
    """What a ds:Signature says, read strictly."""

    signed_info: etree._Element
    signature_uri: str
    digest_uri: str
    digest_value: bytes
    signature_value: bytes
    key_name: str
    certificate: x509.Certificate


def verify(
    data: bytes,
    *,
    trusted: x509.Certificate | None = None,
    allowed: frozenset[str] | None = None,
    at: datetime | None = None,
    registry: SuiteRegistry | None = None,
) -> Verified:
    """Verify the enveloped signature of a message. Raises SignatureInvalid with code 1001
    (bad signature, untrusted certificate, algorithm not allowed, malformed), 1002 (certificate
    not valid at `at`, default now) or 1004 (data changed after signing); InvalidMessage when
    `data` is not well-formed XML. `allowed` is a set of URIs (default: the built-in suites)."""
    tree = xmlsafe.parse(data)
    signature = _find_signature(tree.getroot())
    parts = _read_signature(signature)
    key_type, signature_hash, digest_hash = _resolve(
        parts, DEFAULT_ALLOWED if allowed is None else allowed, registry or REGISTRY
    )
    _check_certificate(parts, key_type, trusted, at)
    signed_bytes = _c14n(parts.signed_info)  # while the Signature is still in the document
    _detach(signature)  # the enveloped-signature transform
    if not hmac.compare_digest(_digest(tree, digest_hash), parts.digest_value):
        raise SignatureInvalid("signature does not match data: digest differs", code=_MISMATCH)
    if not check_signature(
        parts.certificate, key_type, signature_hash, parts.signature_value, signed_bytes
    ):
        raise _invalid(f"signature value does not verify with certificate {parts.key_name}")
    return Verified(parts.certificate, parts.signature_uri, parts.digest_uri, parts.key_name)


def _invalid(message: str) -> SignatureInvalid:
    return SignatureInvalid(message, code=_INVALID)


def _find_signature(root: etree._Element) -> etree._Element:
    found = root.findall(SIGNATURE_TAG)
    if len(found) != 1:
        raise _invalid("no enveloped ds:Signature" if not found else "more than one ds:Signature")
    return found[0]


def _elements(parent: etree._Element, *names: str) -> list[etree._Element]:
    """The element children of `parent`, which must be exactly ds:`names` in order."""
    children = [c for c in parent if isinstance(c.tag, str)]
    tags = [f"{{{DSIG_NS}}}{n}" for n in names]
    if [c.tag for c in children] != tags:
        where = etree.QName(parent).localname
        raise _invalid(f"malformed signature: {where} must contain {', '.join(names)}")
    return children


def _algorithm(element: etree._Element) -> str:
    if len(element):
        raise _invalid(f"malformed signature: {etree.QName(element).localname} has parameters")
    return element.get("Algorithm", "")


def _read_signature(signature: etree._Element) -> _Parts:
    signed_info, signature_value, key_info = _elements(
        signature, "SignedInfo", "SignatureValue", "KeyInfo"
    )
    c14n, method, reference = _elements(
        signed_info, "CanonicalizationMethod", "SignatureMethod", "Reference"
    )
    if _algorithm(c14n) != C14N:
        raise _invalid(f"canonicalization {_algorithm(c14n)} is not allowed (only {C14N})")
    digest_method, digest_value = _read_reference(reference)
    key_name, certificate = _read_key_info(key_info)
    return _Parts(
        signed_info=signed_info,
        signature_uri=_algorithm(method),
        digest_uri=_algorithm(digest_method),
        digest_value=_unb64(digest_value, "DigestValue"),
        signature_value=_unb64(signature_value, "SignatureValue"),
        key_name=key_name,
        certificate=certificate,
    )


def _read_reference(reference: etree._Element) -> tuple[etree._Element, etree._Element]:
    if reference.get("URI") != "":
        raise _invalid('the Reference must be URI="" (the whole document)')
    transforms, digest_method, digest_value = _elements(
        reference, "Transforms", "DigestMethod", "DigestValue"
    )
    steps = [t for t in transforms if isinstance(t.tag, str)]
    if any(t.tag != f"{{{DSIG_NS}}}Transform" for t in steps):
        raise _invalid("malformed signature: Transforms holds only Transform elements")
    algorithms = tuple(_algorithm(t) for t in steps)
    if algorithms not in _TRANSFORMS:
        raise _invalid(f"transforms {', '.join(algorithms) or '(none)'} are not allowed")
    return digest_method, digest_value


def _read_key_info(key_info: etree._Element) -> tuple[str, x509.Certificate]:
    key_name, x509_data = _elements(key_info, "KeyName", "X509Data")
    (cert_element,) = _elements(x509_data, "X509Certificate")
    try:
        certificate = x509.load_der_x509_certificate(_unb64(cert_element, "X509Certificate"))
    except ValueError as exc:
        raise _invalid(f"unreadable X509Certificate: {exc}") from None
    name = (key_name.text or "").strip()
    if not _same_serial(name, certificate):
        raise _invalid(f"KeyName {name!r} is not the certificate serial {serial_hex(certificate)}")
    return name, certificate


def _same_serial(name: str, certificate: x509.Certificate) -> bool:
    try:
        return int(name, 16) == certificate.serial_number
    except ValueError:
        return False


def _unb64(element: etree._Element, what: str) -> bytes:
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except ValueError:
        raise _invalid(f"{what} is not valid base64") from None


def _resolve(
    parts: _Parts, allowed: frozenset[str], registry: SuiteRegistry
) -> tuple[str, str, str]:
    """(key type, signature hash, digest hash) for the URIs the sender declared."""
    for uri in (parts.signature_uri, parts.digest_uri):
        if uri not in allowed:
            raise _invalid(f"algorithm {uri} is not allowed")
    method = registry.signature_method(parts.signature_uri)
    digest_hash = registry.digest_method(parts.digest_uri)
    if method is None or digest_hash is None:
        unknown = parts.signature_uri if method is None else parts.digest_uri
        raise _invalid(f"algorithm {unknown} is allowed but no suite defines it")
    return method[0], method[1], digest_hash


def _check_certificate(
    parts: _Parts, key_type: str, trusted: x509.Certificate | None, at: datetime | None
) -> None:
    cert = parts.certificate
    if certificate_key_type(cert) != key_type:
        raise _invalid(f"{parts.signature_uri} needs an {key_type} certificate")
    if trusted is not None and cert != trusted:
        raise _invalid(
            f"signed with certificate {serial_hex(cert)} ({cert.subject.rfc4514_string()}), "
            f"not the trusted certificate {serial_hex(trusted)}"
        )
    moment = datetime.now(UTC) if at is None else at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a naive time is taken as UTC
    if moment > cert.not_valid_after_utc:
        raise SignatureInvalid(
            f"certificate {serial_hex(cert)} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
            code=_EXPIRED,
        )
    if moment < cert.not_valid_before_utc:
        raise SignatureInvalid(
            f"certificate {serial_hex(cert)} is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M}",
            code=_EXPIRED,
        )


def _detach(element: etree._Element) -> None:
    """Remove `element` but keep its tail text: in lxml the tail belongs to the element, in
    the XPath data model (and in the enveloped transform) it is the parent's next text node."""
    parent = element.getparent()
    assert parent is not None
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
