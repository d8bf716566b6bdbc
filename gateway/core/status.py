"""Record statuses and how customs' returnStatus codes map onto them (R-COM-4)."""

from __future__ import annotations

from enum import StrEnum

from gateway.codes import ReturnStatus
from gateway.errors import ConfigError


class Status(StrEnum):
    """Status of one document. Gateway steps first, then customs outcomes.

    These are the statuses every business system shares; a system's own (an inventory
    list's finalised, an appointment's booked…) are its own enum, registered with the core
    (`BusinessSystem.statuses`, `register`), and `status_of` reads any stored value."""

    SAVED = "saved"  # 暂存: kept by the gateway, not declared (R-COM-2)
    PENDING_SIGN = "pending_sign"  # declared by the enterprise, waiting for its signature
    SIGNING_FAILED = "signing_failed"  # the key backend failed; retryable
    SIGNED = "signed"  # signed and in the outbox, waiting for the broker
    SENT = "sent"  # confirmed by the broker on its way to customs
    SEND_FAILED = "send_failed"  # 发往海关失败 at the gateway
    EPORT_SAVED = "eport_saved"  # returnStatus 1
    DECLARING = "declaring"  # returnStatus 2
    SENT_TO_CUSTOMS = "sent_to_customs"  # returnStatus 3
    CUSTOMS_SEND_FAILED = "customs_send_failed"  # returnStatus 4
    RETURNED = "returned"  # 100 退单
    STORED = "stored"  # 120 入库成功
    MANUAL_REVIEW = "manual_review"  # 300
    CONCLUDED = "concluded"  # 399 审结
    INSPECTION = "inspection"  # 500 查验
    HANDED_OVER = "handed_over"  # 505
    SUSPENDED = "suspended"  # 600
    RELEASED = "released"  # 800 放行
    CLOSED = "closed"  # 899 结关
    STORE_FAILED = "store_failed"  # negative business code: 海关入库失败
    FORMAT_FAILED = "format_failed"  # CEB900, exchange codes 0001-0999
    SECURITY_FAILED = "security_failed"  # CEB900, exchange codes 1000-1999 (signature)
    DELETED = "deleted"  # appType 3 on a record customs does not hold


FROM_RETURN_STATUS: dict[ReturnStatus, Status] = {
    ReturnStatus.EPORT_SAVED: Status.EPORT_SAVED,
    ReturnStatus.EPORT_DECLARING: Status.DECLARING,
    ReturnStatus.SENT_TO_CUSTOMS: Status.SENT_TO_CUSTOMS,
    ReturnStatus.SEND_TO_CUSTOMS_FAILED: Status.CUSTOMS_SEND_FAILED,
    ReturnStatus.RETURNED: Status.RETURNED,
    ReturnStatus.STORED: Status.STORED,
    ReturnStatus.MANUAL_REVIEW: Status.MANUAL_REVIEW,
    ReturnStatus.CONCLUDED: Status.CONCLUDED,
    ReturnStatus.INSPECTION: Status.INSPECTION,
    ReturnStatus.HANDED_OVER: Status.HANDED_OVER,
    ReturnStatus.SUSPENDED: Status.SUSPENDED,
    ReturnStatus.RELEASED: Status.RELEASED,
    ReturnStatus.CLOSED: Status.CLOSED,
}


def status_for_return(return_status: str) -> Status | None:
    """Map a receipt's returnStatus; negative codes are business-rule refusals."""
    code = return_status.strip()
    if code.startswith("-"):
        return Status.STORE_FAILED
    try:
        return FROM_RETURN_STATUS[ReturnStatus(code)]
    except ValueError:
        return None


#: R-COM-5: modify and delete are allowed only here. The gateway's own failures count as
#: "sent-to-customs failed": nothing reached customs, so the enterprise may fix and resend.
MODIFIABLE = frozenset(
    {
        Status.SAVED,
        Status.RETURNED,
        Status.SEND_FAILED,
        Status.CUSTOMS_SEND_FAILED,
        Status.STORE_FAILED,
        Status.FORMAT_FAILED,
        Status.SECURITY_FAILED,
        Status.SIGNING_FAILED,
    }
)


#: Lifecycle order, to break a returnTime tie between two receipts (customs can stamp two
#: steps in the same millisecond): the later step wins, an earlier one never undoes it.
LIFECYCLE = (
    Status.SENT,
    Status.EPORT_SAVED,
    Status.DECLARING,
    Status.SENT_TO_CUSTOMS,
    Status.CUSTOMS_SEND_FAILED,
    Status.STORE_FAILED,
    Status.FORMAT_FAILED,
    Status.SECURITY_FAILED,
    Status.RETURNED,
    Status.STORED,
    Status.MANUAL_REVIEW,
    Status.INSPECTION,
    Status.SUSPENDED,
    Status.CONCLUDED,
    Status.HANDED_OVER,
    Status.RELEASED,
    Status.CLOSED,
)
_RANK: dict[StrEnum, int] = {status: n for n, status in enumerate(LIFECYCLE)}


def later_in_lifecycle(new: StrEnum, current: StrEnum) -> bool:
    return _RANK.get(new, -1) > _RANK.get(current, -1)


# --- statuses of the business systems -----------------------------------------------------------

#: enums of the installed systems' own statuses, after the core's (gateway.core.registry)
_ENUMS: list[type[StrEnum]] = [Status]


def register(enum: type[StrEnum]) -> None:
    """Know a business system's own statuses; a value may mean one status only."""
    taken = {s.value for e in _ENUMS for s in e}
    clash = sorted(taken & {s.value for s in enum})
    if enum not in _ENUMS and clash:
        raise ConfigError(f"status value(s) declared twice: {', '.join(clash)}")
    if enum not in _ENUMS:
        _ENUMS.append(enum)


def status_of(value: str) -> StrEnum:
    """The status a stored value names, the core's or an installed system's."""
    for enum in _ENUMS:
        try:
            return enum(value)
        except ValueError:
            continue
    raise ConfigError(f"unknown status {value!r}: no installed business system declares it")


def extend_lifecycle(steps: tuple[StrEnum, ...]) -> None:
    """A system's lifecycle steps, ranked after the core's (returnTime ties)."""
    for step in steps:
        _RANK.setdefault(step, len(_RANK))
