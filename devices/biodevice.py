"""What ops see of a biometric device: the driver tray's 外接设备状态 (seed 000/001 第二篇).

The manuals' tray tool shows each external device (身份证阅读器, 指纹采集器/指纹识别器, 摄像头)
green when its driver is configured and it answers, red otherwise. `DeviceStatus` is that
line; `StatusLight` is the small state each backend keeps so the status reflects the last
real attempt (a device that failed its last capture is red until one succeeds).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

log = logging.getLogger(__name__)


class DeviceKind(StrEnum):
    CAMERA = "camera"  # 摄像头
    FINGERPRINT = "fingerprint"  # 指纹采集器 / 指纹识别器


@dataclass(frozen=True)
class DeviceStatus:
    """One line of the tray's device status: green means ready."""

    kind: DeviceKind
    name: str  # backend and source, e.g. "opencv:0", "simulated:8 impressions"
    present: bool  # the device answered (opened) at least once
    configured: bool  # a driver/backend is chosen (配置设备 done)
    last_error: str | None = None  # reason code of the last failure, cleared by a success
    last_error_at: datetime | None = None

    @property
    def ready(self) -> bool:
        """The tray's green light."""
        return self.present and self.configured and self.last_error is None

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "name": self.name,
            "present": self.present,
            "configured": self.configured,
            "ready": self.ready,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
        }


class StatusLight:
    """The mutable status of one device backend, safe to read from another thread."""

    def __init__(self, kind: DeviceKind, name: str, *, configured: bool = True) -> None:
        self._lock = threading.Lock()
        self._kind, self._name, self._configured = kind, name, configured
        self._present = False
        self._error: str | None = None
        self._error_at: datetime | None = None

    def ok(self) -> None:
        with self._lock:
            self._present, self._error, self._error_at = True, None, None

    def failed(self, reason: str, *, present: bool | None = None) -> None:
        """Record a failure by its reason code (never an image or a template)."""
        log.warning("%s device %s: %s", self._kind.value, self._name, reason)
        with self._lock:
            self._error, self._error_at = reason, datetime.now(UTC)
            if present is not None:
                self._present = present

    def status(self) -> DeviceStatus:
        with self._lock:
            return DeviceStatus(
                self._kind,
                self._name,
                self._present,
                self._configured,
                self._error,
                self._error_at,
            )
