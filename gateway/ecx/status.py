"""Statuses of export records beyond the core's (registered by `system.SYSTEM`)."""

from __future__ import annotations

from enum import StrEnum


class EcxStatus(StrEnum):
    """Inventory lists (R-ECX-5): steps with no receipt code of their own."""

    FINALISED = "finalised"  # 结案: merged into a customs declaration (CEB792, R-ECX-8)
    REVOKED = "revoked"  # 撤销: customs approved the revoke application (CEB605/606)
