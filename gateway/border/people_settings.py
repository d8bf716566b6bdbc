"""Settings of the people side of border trade, from the environment
(`CUSTOMS_GATEWAY_BORDER_…`), since the core's configuration knows no business system.

- `IDLE_MINUTES` (15): a terminal session ends after this long without a request (the
  manual's "长时间不操作系统，提示超时", duration not given: 15 minutes is ours);
- `OFFICER_IDLE_MINUTES` (30): the same for an officer's session;
- `VERIFY_ATTEMPTS` (3): captures a biometric check may take before it fails (R-BDR-6);
- `VAULT_KEY_FILE`: the template vault's key file (default `<state_dir>/border-template-keys`);
- `CAMERA`: the desks' camera, an OpenCV device index or a video/image-sequence path.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PeopleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMS_GATEWAY_BORDER_", frozen=True)

    idle_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    officer_idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    verify_attempts: int = Field(default=3, ge=1, le=10)
    vault_key_file: Path | None = None
    camera: str | None = None

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def officer_idle(self) -> timedelta:
        return timedelta(minutes=self.officer_idle_minutes)

    def key_file(self, state_dir: Path) -> Path:
        return self.vault_key_file or Path(state_dir) / "border-template-keys"


@cache
def from_environment() -> PeopleSettings:
    return PeopleSettings()
