"""XML-DSig for customs messages and the key backends that sign them.

Load the key once at start-up (`FileKey.from_config(...)`), then per message
`data = sign(root, key, get_suite("rsa-sha1"))` and send exactly `data`;
`verify(data, trusted=certificate)` checks a signed message.
"""

from signers.algorithms import (
    BUILTIN_SUITES,
    C14N,
    DEFAULT_ALLOWED,
    DEFAULT_SUITE,
    ENVELOPED,
    REGISTRY,
    WEAK_HASHES,
    DigestMethod,
    KeyType,
    SignatureMethod,
    Suite,
    SuiteRegistry,
    allow_list,
    get_suite,
    register_suite,
)
from signers.keys import FileKey, KeyBackend, check_signature, serial_hex
from signers.xmldsig import SIGNATURE_TAG, AlreadySigned, Verified, sign, verify

__all__ = [
    "BUILTIN_SUITES",
    "C14N",
    "DEFAULT_ALLOWED",
    "DEFAULT_SUITE",
    "ENVELOPED",
    "REGISTRY",
    "SIGNATURE_TAG",
    "WEAK_HASHES",
    "AlreadySigned",
    "DigestMethod",
    "FileKey",
    "KeyBackend",
    "KeyType",
    "SignatureMethod",
    "Suite",
    "SuiteRegistry",
    "Verified",
    "allow_list",
    "check_signature",
    "get_suite",
    "register_suite",
    "serial_hex",
    "sign",
    "verify",
]
