"""Biometric data never reaches a log (R-BDR-3; common rule: secrets and biometric data never
reach a log): with every logger at DEBUG, a whole enrolment, checks and the vault leave no
template byte, no base64 or hex of one, and no descriptor float in any record."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import SimulatedCamera
from devices.fingerprint import SimulatedScanner
from gateway.border.biometrics import (
    FaceMatcher,
    FingerEnroller,
    KeyRing,
    MinutiaeMatcher,
    Template,
    TemplateKind,
    TemplateVault,
    check_face,
    check_finger,
    enrol_face,
)
from gateway.border.biometrics.face import descriptor_of
from gateway.border.biometrics.fingerprint import from_bytes
from gateway.border.biometrics.templates import unpack_parts
from gateway.errors import TemplateRefused

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DB2_B = DATA / "fingerprints-fvc" / "DB2_B"
RESIDENT = "450102199001011234"


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    before = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    caplog.set_level(logging.DEBUG)
    yield caplog
    for lg, level, disabled in before:
        lg.setLevel(level)
        lg.disabled = disabled


def portrait(subject: int, image: int) -> np.ndarray:
    face = cv2.imread(str(DATA / "faces-orl" / f"s{subject}" / f"{image}.pgm"), 0)
    assert face is not None
    canvas = np.full((480, 640), 40, np.uint8)
    canvas[72 : 72 + 336, 182 : 182 + 276] = cv2.resize(face, None, fx=3.0, fy=3.0)
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def forbidden(template: Template) -> set[str]:
    """Renderings of a template that a log line must never hold."""
    data = template.data
    out = {data[:12].hex(), base64.b64encode(data[:48]).decode()[:32], repr(data[:12])[2:-1]}
    out.add(base64.b64encode(data).decode()[:32])
    if template.kind is TemplateKind.FACE:
        for value in descriptor_of(template)[:8]:
            out |= {f"{value:.4f}", repr(float(value))[:8]}
    else:
        for part in unpack_parts(data):
            out.add(part[:12].hex())
            x, y = from_bytes(part)[0][:2]
            out.add(f"{x:.1f}, {y:.1f}")
    return {text for text in out if len(text) >= 6}


def run_everything() -> list[Template]:
    enroller = FingerEnroller(MinutiaeMatcher())
    scanner = SimulatedScanner([DB2_B / f"104_{n}.tif" for n in (1, 2, 3, 4)])
    finger = enroller.enrol([scanner.capture() for _ in range(3)])
    assert finger.ok and finger.template is not None
    assert check_finger(scanner, [finger.template], enroller).passed
    matcher = FaceMatcher()
    face = enrol_face(SimulatedCamera([portrait(20, 1)]), matcher)
    assert face.ok and face.template is not None
    assert check_face(SimulatedCamera([portrait(20, 8)]), face.template, matcher).passed
    assert not check_face(SimulatedCamera([portrait(5, 1)]), face.template, matcher).passed
    vault = TemplateVault(KeyRing({"k1": b"k" * 32}))
    blob = vault.seal(face.template, RESIDENT)
    with pytest.raises(TemplateRefused):
        vault.open(blob, "someone else", TemplateKind.FACE)
    return [finger.template, face.template]


def test_no_log_record_holds_a_template_or_descriptor(
    every_logger_at_debug: pytest.LogCaptureFixture,
) -> None:
    templates = run_everything()
    records = every_logger_at_debug.records
    assert any(r.name.startswith(("gateway.border", "devices")) for r in records)  # logging ran
    texts = [r.getMessage() + repr(r.args) + str(r.exc_text or "") for r in records]
    for template in templates:
        for shown in forbidden(template):
            leaked = [t for t in texts if shown in t]
            assert leaked == [], f"{template!r} leaked as {shown!r}"
    assert not any(RESIDENT in t for t in texts)


def test_the_scan_sees_a_leak_in_any_of_its_renderings(
    every_logger_at_debug: pytest.LogCaptureFixture,
) -> None:
    # the check above must be able to fail: each way a careless line could log a template
    image = cv2.imread(str(DATA / "faces-orl" / "s9" / "1.pgm"), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    face = FaceMatcher().extract(image)
    leak = logging.getLogger("gateway.border.biometrics.leaky")
    renderings = [
        face.data,
        face.data.hex(),
        base64.b64encode(face.data).decode(),
        descriptor_of(face),
        descriptor_of(face).tolist(),
    ]
    for rendering in renderings:
        every_logger_at_debug.clear()
        leak.debug("template %s", rendering)
        [record] = [r for r in every_logger_at_debug.records if r.name == leak.name]
        text = record.getMessage()
        assert any(shown in text for shown in forbidden(face)), type(rendering)
