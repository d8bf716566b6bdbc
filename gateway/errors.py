"""The one exception tree of the gateway.

    GatewayError                      base; carries `retryable` and the record status it maps to
    ├── MisuseError                   the caller (an ERP, an operator) asked for something wrong
    │   ├── InvalidMessage            XSD or business rules refused the message (has violations)
    │   │   ├── BodyTooLarge          an HTTP body over the limit (413)
    │   │   ├── BodyTooSlow           an HTTP body not received in time (408)
    │   │   ├── DuplicateDocument     business key already live; appType 2 needed (R-COM-5)
    │   │   └── StateConflict         operation not allowed in the record's state (R-COM-5)
    │   ├── AccessDenied              bad API key, or another enterprise's record
    │   ├── NotFound                  no such record / message
    │   ├── ConfigError               configuration is inconsistent
    │   └── SignatureInvalid          a signature did not verify (exchange code 1001/1002/1004)
    └── OperationalError              something outside the caller's control failed
        ├── SigningError              the key backend could not sign (card pulled, bad PIN…)
        ├── TransportError            the broker refused or dropped a publish
        └── ReceiptError              a customs receipt could not be read

Errors say what went wrong in a broker's terms, whether a retry can help, and which status
the record ends in — the same way pyas2-lib's errors carry their MDN disposition.
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


class AccessDenied(MisuseError):
    """Unknown API key, or the record belongs to another enterprise."""


class NotFound(MisuseError):
    """No record or message with that id visible to the caller."""


class ConfigError(MisuseError):
    """The configuration is inconsistent (missing key file, unknown algorithm…)."""


class OperationalError(GatewayError):
    """A dependency failed; a retry may help."""

    retryable = True


class SigningError(OperationalError):
    """The key backend could not produce a signature; the declaration waits in signing_failed."""

    status = "signing_failed"


class TransportError(OperationalError):
    """The broker refused, dropped or did not confirm a publish."""

    status = "send_failed"


class ReceiptError(OperationalError):
    """A customs receipt could not be parsed; it is kept for ops, never dropped."""

    retryable = False


class SignatureInvalid(MisuseError):
    """A signature did not verify; `code` is the exchange-layer error code (1001, 1002, 1004)."""

    def __init__(self, message: str, code: str = "1001", **context: Any) -> None:
        super().__init__(message, **context)
        self.code = code
