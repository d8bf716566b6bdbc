"""Who declares at a border-trade terminal, and how they prove it (R-BDR-1, R-BDR-6, R-BDR-7).

The one interface between the people side of the border system (registry, terminals,
sessions, biometrics: `registry`, `sessions`, `verification`) and the declarations side
(`declarations`, the checks, the simulated customs). A declaration is made by a `Declarant`
that a terminal session stands for; the biometric rule asks a `BiometricGate` to check that
declarant at the terminal before the declaration is signed and sent, and a representative's
declaration waits until each delegating resident has passed face authentication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    """The identities a registered person can pick at the terminal (身份选择)."""

    RESIDENT = "1"  # 边民
    GROUP_REPRESENTATIVE = "2"  # 互助组代表
    COOPERATIVE_REPRESENTATIVE = "3"  # 合作社代表

    @property
    def is_representative(self) -> bool:
        return self is not Role.RESIDENT


class BiometricMethod(StrEnum):
    """How a supervised place checks a declarant at the terminal (kept by customs in the
    supervision application; 认证方式在监管应用维护)."""

    FACE = "face"
    FINGERPRINT = "fingerprint"


def mask_id(id_number: str) -> str:
    """An ID number as every page, answer and log shows it (R-BDR-2): 450*****214."""
    return f"{id_number[:3]}*****{id_number[-3:]}"


@dataclass(frozen=True)
class Organisation:
    """The mutual-aid group (互助组) or cooperative (合作社) a representative declares for."""

    registration_no: str
    name: str
    uscc: str | None = None  # 合作社统一信用代码; groups have none


@dataclass(frozen=True)
class Declarant:
    """The person a terminal session stands for, in the role they picked.

    `id_number` is the full number: it goes into the declaration customs receives and into
    the database, never into a log or an API answer (use `masked_id`)."""

    id_number: str = field(repr=False)
    name: str
    role: Role
    district: str  # 关区代码, e.g. 8609
    terminal_id: str
    place_code: str  # 监管场所编号 of the terminal's supervised place
    organisation: Organisation | None = None
    # the residents a representative declares for (委托边民): each must pass face
    # authentication before the declaration is declared (R-BDR-7)
    members: tuple[str, ...] = field(default=(), repr=False)

    @property
    def masked_id(self) -> str:
        return mask_id(self.id_number)


@dataclass(frozen=True)
class Verification:
    """The outcome of a biometric check; never carries an image or template."""

    passed: bool
    method: BiometricMethod
    attempts: int
    reason: str = ""  # why it failed, in words an operator understands


class BiometricGate(Protocol):
    """Checks the declarant at the terminal with the place's method, with a bounded number
    of attempts (R-BDR-6)."""

    def verify_declarant(self, declarant: Declarant, method: BiometricMethod) -> Verification: ...
