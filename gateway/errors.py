"""The one exception tree of the gateway.

Every error that the gateway, its business systems and its lower packages (receipts,
schemas, signers, transports, devices) raise on purpose is one of these; `devices` keeps its
own reader errors, which the card backend (signers/card.py) translates into CardErrors where
they enter. Each line: the class, what it means, whether a retry of the same call can help
(`retryable`), and what it leaves a declaration's record in — "none": refused before
anything is stored; "kept": the record keeps its status; else the status. Lines without
these two columns inherit their parent's. Whatever its class, an error raised while signing
a stored declaration leaves it in signing_failed (gateway/core/signing.py).

                                                                                 retry record
    GatewayError                  base: `retryable`, `status`, as_dict()
    ├── MisuseError               the caller (ERP, operator, code) asked wrong   no   none
    │   ├── InvalidMessage        XSD or business rules refused it (violations)  no   none
    │   │   ├── BodyTooLarge      an HTTP body over the limit (413)              no   none
    │   │   ├── BodyTooSlow       an HTTP body not received in time (408)        no   none
    │   │   ├── DuplicateDocument business key live already: appType 2 (R-COM-5) no   none
    │   │   ├── StateConflict     not allowed in the record's state (R-COM-5)    no   kept
    │   │   │   └── BiometricRefused  the declarant failed the place's biometric   no   kept
    │   │   │                         check at declare (R-BDR-6)
    │   │   └── InvalidField      a builder (DXP envelope, receipt) refused a    no   none
    │   │                         field value; also a ValueError
    │   ├── InvalidInput          a library call got a value it cannot take      no   none
    │   │                         (argument, bytes, URL); also a ValueError
    │   ├── AccessDenied          bad API key, or another enterprise's record    no   none
    │   │   ├── LoginRefused      a border terminal/officer login refused        no   none
    │   │   ├── SessionExpired    a border session logged out or idle too long   no   none
    │   │   ├── LoginRequired     no ops-console session: its login page (303)   no   none
    │   │   └── CsrfRefused       a console POST without its CSRF token (403)    no   none
    │   ├── NotFound              no such record / message                       no   none
    │   ├── ConfigError           the configuration is inconsistent              no   none
    │   ├── TemplateRefused       a sealed biometric template did not open:      no   none
    │   │                         wrong key, another resident's or kind, altered
    │   ├── SignatureInvalid      a signature did not verify (1001/1002/1004)    no   none
    │   └── AlreadySigned         the message already carries a ds:Signature     no   signing_failed
    ├── OperationalError          a dependency outside the caller's control      yes  -
    │   ├── SigningError          the key backend could not sign                 yes  signing_failed
    │   │   └── CardError         the IC card could not sign; `reason` for ops   yes  signing_failed
    │   │       ├── CardRemoved         card pulled, or reset again and again
    │   │       ├── CardAbsent          no card (with that number) in any reader
    │   │       ├── ReaderGone          no PC/SC service, or the reader is gone
    │   │       ├── WrongPin            PIN refused; not presented again until fixed
    │   │       ├── CardLocked          too many wrong PINs: unlock at the desk
    │   │       ├── CertificateExpired  the card's certificate is out of validity
    │   │       ├── CardMismatch        not the enterprise's bound card (R-COM-3)
    │   │       └── CardTimeout         no card of the pool answered in time
    │   ├── TransportError        the broker refused or dropped a publish        yes  send_failed
    │   ├── PoolExhausted         no database connection came free in time (503) yes  none
    │   ├── ReceiptError          a customs receipt could not be read            no   kept
    │   └── BiometricDeviceError  a camera or fingerprint scanner is absent or   yes  none
    │                             failed; `reason` for ops (the tray's red light)
    └── PermanentFailure          a consumer handler's "retrying cannot help":   no   kept
                                  the message is dead-lettered at once

Errors say what went wrong in a broker's terms, whether a retry can help, and which status
the record ends in — the same way pyas2-lib's errors carry their MDN disposition. The two
that are also ValueErrors are so because they replace a ValueError that library callers
(and the tests of wrap, build_receipt, Topology…) already catch: they stay catchable both
ways.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One refused field: where, which rule, why. `line` is the XML source line, if known."""

    rule: str
    field: str
    message: str
    line: int | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        shown = f" (value {self.value!r})" if self.value is not None else ""
        return f"{where}{self.field}: {self.message}{shown} [{self.rule}]"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    retryable: bool = False
    #: record status this error leaves a declaration in, when it concerns one
    status: str | None = None

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "error": type(self).__name__,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.context:
            out["context"] = {k: str(v) for k, v in self.context.items()}
        return out


class MisuseError(GatewayError):
    """The request itself is wrong; sending it again unchanged will fail again."""


class InvalidMessage(MisuseError):
    """The message broke the schema (R-COM-1) or a business rule; nothing was stored."""

    def __init__(self, violations: list[Violation], message: str | None = None) -> None:
        self.violations = violations
        text = message or f"{len(violations)} violation(s): " + "; ".join(
            str(v) for v in violations[:5]
        )
        super().__init__(text)

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out["violations"] = [v.as_dict() for v in self.violations]
        return out


class BodyTooLarge(InvalidMessage):
    """An HTTP request body over `http.max_body_bytes` (413), refused before it is all read."""


class BodyTooSlow(InvalidMessage):
    """The body did not arrive within `http.body_seconds` (408): a slow client holds nothing."""


class DuplicateDocument(InvalidMessage):
    """A live record with this business key exists; modify it with appType 2 (R-COM-5)."""


class StateConflict(InvalidMessage):
    """The record's state does not allow the operation (R-COM-5)."""


class BiometricRefused(StateConflict):
    """A border declarant did not pass the supervised place's face or fingerprint check at
    declare (R-BDR-6): nothing is signed or sent, the record keeps its status and its history
    says why. Carries the outcome's words only, never an image or a template."""


class InvalidField(InvalidMessage, ValueError):
    """A message builder (`transports.wrap`, `receipts.build_receipt`…) refused a field value;
    each violation names the field and its rule. Also a ValueError: it replaces the one these
    builders raised, which their callers (and tests) catch as for any bad argument."""


class InvalidInput(MisuseError, ValueError):
    """A library function got a value it cannot take: a wrong argument, bytes that are not
    what they claim (DER, an SM2 key), a schema URL outside the XSD folders. Code called it
    wrong, so retrying cannot help. Also a ValueError: it replaces the one these functions
    raised, which callers catch (`except ValueError` around key loading, DER parsing…)."""


class AccessDenied(MisuseError):
    """Unknown API key, or the record belongs to another enterprise."""


class LoginRefused(AccessDenied):
    """A border-trade login refused (R-BDR-1): unknown ID card, expired ID or registration,
    disabled (停用), not synced to customs, officer card unknown or PIN wrong; `reason` is the
    short code a terminal shows its message for."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class SessionExpired(AccessDenied):
    """A border-trade session that is over: logged out, idle too long (超时), or unknown."""


class LoginRequired(AccessDenied):
    """No ops-console session: the console answers with its login page (303, HX-Redirect)."""

    def __init__(self, message: str = "the console needs a login") -> None:
        super().__init__(message)


class CsrfRefused(AccessDenied):
    """An ops-console POST without the session's CSRF token: 403, nothing done."""

    def __init__(self, message: str = "the form's CSRF token is missing or wrong") -> None:
        super().__init__(message)


class NotFound(MisuseError):
    """No record or message with that id visible to the caller."""


class ConfigError(MisuseError):
    """The configuration is inconsistent (missing key file, unknown algorithm…)."""


class TemplateRefused(MisuseError):
    """A sealed biometric template (R-BDR-3) did not open: the key that sealed it is gone or
    wrong, it was sealed for another resident or another kind (a blob moved between people),
    or its bytes were altered. Never says which, and never carries the template."""


class OperationalError(GatewayError):
    """A dependency failed; a retry may help."""

    retryable = True


class SigningError(OperationalError):
    """The key backend could not produce a signature; the declaration waits in signing_failed."""

    status = "signing_failed"


class CardError(SigningError):
    """The IC card could not sign; `reason` is a short code for ops screens. Raised by the
    card backend (signers/card.py), which translates the reader layer's errors into these."""

    reason = "card"


class CardRemoved(CardError):
    """The card left the reader during a command, or kept being reset."""

    reason = "card_removed"


class CardAbsent(CardError):
    """No card in the reader, or no card with the bound number in any reader."""

    reason = "no_card"


class ReaderGone(CardError):
    """No PC/SC service, or the reader is not (or no longer) connected."""

    reason = "reader_gone"


class WrongPin(CardError):
    """The card refused the PIN; it is not presented again until the PIN is corrected."""

    reason = "wrong_pin"


class CardLocked(CardError):
    """Too many wrong PINs: the card must be unlocked at the e-port service desk."""

    reason = "card_locked"


class CertificateExpired(CardError):
    """The card's certificate is not (or no longer) in its validity period."""

    reason = "certificate_expired"


class CardMismatch(CardError):
    """The card is not the one bound to the enterprise (R-COM-3)."""

    reason = "card_mismatch"


class CardTimeout(CardError):
    """No card of a pool answered within the signing timeout."""

    reason = "timeout"


class TransportError(OperationalError):
    """The broker refused, dropped or did not confirm a publish."""

    status = "send_failed"


class PoolExhausted(OperationalError):
    """No pooled database connection came free within `database.pool_timeout` seconds: the
    request is refused (HTTP 503 with `Retry-After`) instead of queueing without end."""

    def __init__(self, message: str, *, retry_after: int = 1, **context: Any) -> None:
        super().__init__(message, retry_after_seconds=retry_after, **context)
        self.retry_after = retry_after


class ReceiptError(OperationalError):
    """A customs receipt could not be parsed; it is kept for ops, never dropped."""

    retryable = False


class AlreadySigned(MisuseError):
    """The message already carries a Signature. A misuse, not a SigningError: re-signing would
    fail the same way every time, so it must not be retried; sign the unsigned original."""


class SignatureInvalid(MisuseError):
    """A signature did not verify; `code` is the exchange-layer error code (1001, 1002, 1004)."""

    def __init__(self, message: str, code: str = "1001", **context: Any) -> None:
        super().__init__(message, **context)
        self.code = code


class PermanentFailure(GatewayError):
    """A consumer handler's way to say "retrying cannot help": the message is dead-lettered at
    once (transports/consumer.py)."""

    retryable = False


class BiometricDeviceError(OperationalError):
    """A camera or fingerprint scanner is not there, not configured, or failed to capture
    (the driver tray's red light); `reason` is the short code ops screens show."""

    def __init__(self, message: str, reason: str = "device", **context: Any) -> None:
        super().__init__(message, **context)
        self.reason = reason
