"""The parties messages name: an enterprise's customs code, registered name and DXP id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Party:
    """An enterprise as the messages name it: customs code, registered name, DXP id."""

    code: str
    name: str
    dxp_id: str
