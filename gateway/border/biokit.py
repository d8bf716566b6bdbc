"""What enrolment and verification need of the biometric engines, in one place: the face
matcher, the finger enroller (its matcher), the template vault, the capture rules, and where
the devices of a desk are (R-BDR-3, R-BDR-6).

A desk is an officer's enrolment desk (`officer:<no>`) or a terminal (`terminal:<id>`); its
camera and fingerprint reader come from `devices(desk)`. Tests put a `Kit` with simulated
devices on `app.state.border_kit`; a deployment gets one built from the settings: the vault's
key file (made on first use, mode 0600), the default matchers, and a camera by OpenCV index or
path (`CUSTOMS_GATEWAY_BORDER_CAMERA`). No fingerprint reader backend ships beyond the
simulated one: a desk without one answers "no fingerprint reader" (BiometricDeviceError).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices import pcsc
from devices.camera import Camera, CaptureRules, OpenCvCamera
from devices.fingerprint import FingerprintScanner
from gateway.border.biometrics.enrolment import FingerEnroller
from gateway.border.biometrics.face import FaceMatcher
from gateway.border.biometrics.fingerprint import MinutiaeMatcher
from gateway.border.biometrics.vault import KeyRing, TemplateVault, add_key
from gateway.border.people_settings import PeopleSettings
from gateway.errors import BiometricDeviceError


@dataclass
class Devices:
    """The devices of one desk; None where the desk has none."""

    camera: Camera | None = None
    scanner: FingerprintScanner | None = None

    def need_camera(self) -> Camera:
        if self.camera is None:
            raise BiometricDeviceError("no camera at this desk (摄像头)", reason="no_camera")
        return self.camera

    def need_scanner(self) -> FingerprintScanner:
        if self.scanner is None:
            raise BiometricDeviceError(
                "no fingerprint reader at this desk (指纹识别器)", reason="no_scanner"
            )
        return self.scanner


DeviceSource = Callable[[str], Devices]


def status(devices: Devices, reader: str | None = None) -> dict[str, Any]:
    """The desk's 外接设备状态 (seed 000/001 第二篇): each device's light, green when ready;
    `reader` the ID-card reader a terminal reads cards in (present when pcscd knows it)."""
    out: dict[str, Any] = {
        "camera": devices.camera.status().as_dict() if devices.camera else None,
        "fingerprint": devices.scanner.status().as_dict() if devices.scanner else None,
    }
    if reader is not None:
        try:
            present = reader in pcsc.reader_names()
        except pcsc.DeviceError:
            present = False
        out["id_card_reader"] = {"name": reader, "present": present, "ready": present}
    return out


@dataclass
class Kit:
    face: FaceMatcher
    fingers: FingerEnroller
    vault: TemplateVault
    devices: DeviceSource
    capture_rules: CaptureRules = field(default_factory=CaptureRules)
    #: presses a finger's enrolment may take to gather three good ones (poor ones asked again)
    max_presses: int = 9


def vault_from(path: Path) -> TemplateVault:
    """The vault of a key file, which gets its first key when it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        add_key(path, "k1")
    return TemplateVault(KeyRing.from_file(path))


def configured_devices(settings: PeopleSettings) -> DeviceSource:
    cameras: dict[str, Camera] = {}

    def devices(desk: str) -> Devices:
        if settings.camera is None:
            return Devices()
        if desk not in cameras:
            source: Any = int(settings.camera) if settings.camera.isdigit() else settings.camera
            cameras[desk] = OpenCvCamera(source)
        return Devices(camera=cameras[desk])

    return devices


def build(settings: PeopleSettings, state_dir: Path) -> Kit:
    return Kit(
        face=FaceMatcher(),
        fingers=FingerEnroller(MinutiaeMatcher()),
        vault=vault_from(settings.key_file(state_dir)),
        devices=configured_devices(settings),
    )
