"""The chaos test, CI size: gateway processes killed, RabbitMQ and PostgreSQL restarted;
nothing accepted is lost and customs processes nothing twice (bench/chaos.py, --short)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def test_chaos_short_run_loses_nothing_and_duplicates_nothing() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), "--short"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    report = run.stdout
    assert run.returncode == 0, report + run.stderr[-3000:]
    assert "lost:                          0" in report
    assert "processed twice by customs:    0" in report
    assert "restart RabbitMQ node" in report and "restart PostgreSQL" in report
    assert report.count("kill -9 gateway") >= 5
