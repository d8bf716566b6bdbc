"""Algorithm URIs of the customs XML-DSig profile, and the suites that pair them.

A *suite* names what the gateway writes when it signs: a SignatureMethod URI, a DigestMethod
URI, the hash the signature uses and the key type it needs. Deployed practice differs between
implementations (some write the SM2 URI under the w3.org namespace, some pair sm2-sm3 with a
SHA-1 reference digest), so suites are data: register another one, or override a built-in one,
without touching the signing code.

Verification goes the other way: it reads the URIs the sender declared, checks them against an
allow-list (a frozenset of URIs) and resolves each URI through the registry. SHA-1 is weak but it
is what the customs standard's generic suite uses, so the default allow-list admits it — and says
so explicitly with `allow_weak=True`; `allow_list(...)` refuses weak suites unless asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum

from cryptography.hazmat.primitives import hashes

from gateway.errors import ConfigError


class SignatureMethod(StrEnum):
    RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    SM2_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"


class DigestMethod(StrEnum):
    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"


class KeyType(StrEnum):
    RSA = "rsa"
    SM2 = "sm2"


#: inclusive C14N 1.0 without comments: the only canonicalization the profile uses
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

#: hashes that are broken for collision resistance; accepted only when asked for explicitly
WEAK_HASHES = frozenset({"sha1"})

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sm3": hashes.SM3,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The `cryptography` hash object for a suite's hash name ("sha1", "sha256", "sm3")."""
    try:
        return _HASHES[name]()
    except KeyError:
        raise ConfigError(f"unknown hash {name!r}; known: {', '.join(_HASHES)}") from None


@dataclass(frozen=True)
class Suite:
    """What a signature is made with. `digest_hash` differs from `hash_name` only in suites
    seen in the wild that pair an SM2/SM3 signature with a SHA-1 reference digest."""

    name: str
    signature_uri: str
    digest_uri: str
    hash_name: str
    key_type: str
    digest_hash: str = ""

    def __post_init__(self) -> None:
        # Store plain strings: the URIs are compared, hashed and written into XML.
        for field in ("signature_uri", "digest_uri", "key_type"):
            value = getattr(self, field)
            object.__setattr__(self, field, value.value if isinstance(value, Enum) else value)
        if not self.digest_hash:
            object.__setattr__(self, "digest_hash", self.hash_name)
        for name in (self.hash_name, self.digest_hash):
            hash_algorithm(name)
        if self.key_type not in {k.value for k in KeyType}:
            raise ConfigError(f"suite {self.name}: unknown key type {self.key_type!r}")

    @property
    def weak(self) -> bool:
        return bool({self.hash_name, self.digest_hash} & WEAK_HASHES)

    @property
    def uris(self) -> frozenset[str]:
        return frozenset({self.signature_uri, self.digest_uri})


RSA_SHA1 = Suite("rsa-sha1", SignatureMethod.RSA_SHA1, DigestMethod.SHA1, "sha1", KeyType.RSA)
RSA_SHA256 = Suite(
    "rsa-sha256", SignatureMethod.RSA_SHA256, DigestMethod.SHA256, "sha256", KeyType.RSA
)
SM2_SM3 = Suite("sm2-sm3", SignatureMethod.SM2_SM3, DigestMethod.SM3, "sm3", KeyType.SM2)
BUILTIN_SUITES: tuple[Suite, ...] = (RSA_SHA1, RSA_SHA256, SM2_SM3)
DEFAULT_SUITE = RSA_SHA1.name


def allow_list(suites: Iterable[Suite], *, allow_weak: bool = False) -> frozenset[str]:
    """The URIs of `suites`, for `verify(allowed=...)`. A weak suite is refused unless
    `allow_weak` — so admitting SHA-1 is always a visible decision in the caller's code."""
    uris: set[str] = set()
    for suite in suites:
        if suite.weak and not allow_weak:
            raise ConfigError(
                f"suite {suite.name} uses a weak hash (SHA-1); pass allow_weak=True to accept it"
            )
        uris |= suite.uris
    return frozenset(uris)


#: what `verify` accepts by default: the built-in suites. SHA-1 is in because the customs
#: standard's generic suite is rsa-sha1.
DEFAULT_ALLOWED = allow_list(BUILTIN_SUITES, allow_weak=True)


class SuiteRegistry:
    """Suites by name (for signing) and what each URI means (for verifying)."""

    def __init__(self, suites: Iterable[Suite] = BUILTIN_SUITES) -> None:
        self._by_name: dict[str, Suite] = {}
        self._signature: dict[str, tuple[str, str]] = {}  # uri -> (key type, hash)
        self._digest: dict[str, str] = {}  # uri -> hash
        for suite in suites:
            self.register(suite)

    def register(self, suite: Suite, *, replace: bool = False) -> None:
        """Add `suite`; `replace=True` lets it take over an existing name. A URI may be shared
        by several suites only if it means the same thing in each (else ConfigError)."""
        if suite.name in self._by_name and not replace:
            raise ConfigError(f"suite {suite.name} is already registered; use replace=True")
        self._claim(self._signature, suite.signature_uri, (suite.key_type, suite.hash_name))
        self._claim(self._digest, suite.digest_uri, suite.digest_hash)
        self._by_name[suite.name] = suite

    @staticmethod
    def _claim(table: dict, uri: str, meaning: object) -> None:
        known = table.setdefault(uri, meaning)
        if known != meaning:
            raise ConfigError(f"algorithm URI {uri} already means {known}, not {meaning}")

    def get(self, name: str) -> Suite:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name))
            raise ConfigError(f"unknown signature suite {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def suites(self) -> tuple[Suite, ...]:
        """The registered suites: `allow_list(registry.suites(), allow_weak=True)` admits on
        verify exactly what this gateway is configured to sign with."""
        return tuple(self._by_name.values())

    def signature_method(self, uri: str) -> tuple[str, str] | None:
        """(key type, hash name) that a SignatureMethod URI stands for, or None if unknown."""
        return self._signature.get(uri)

    def digest_method(self, uri: str) -> str | None:
        """Hash name that a DigestMethod URI stands for, or None if unknown."""
        return self._digest.get(uri)


#: the process-wide registry used when a caller passes none
REGISTRY = SuiteRegistry()


def get_suite(name: str = DEFAULT_SUITE) -> Suite:
    return REGISTRY.get(name)


def register_suite(suite: Suite, *, replace: bool = False) -> None:
    REGISTRY.register(suite, replace=replace)
