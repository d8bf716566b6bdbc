"""scripts/setup.sh's checks on a Debian machine (issue 17, item 8): tools in /usr/sbin are
found without it on PATH (a non-root user's), so nothing is reinstalled on every run; a
service listening beyond loopback is told from one on loopback only (the set-up then narrows
it). The functions run in bash as the scripts source them; nothing is installed here."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"
USER_PATH = "/usr/local/bin:/usr/bin:/bin"  # a normal user's: no sbin


def _bash(script: str, path: str = USER_PATH) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-c", f"source {SETUP}; {script}"],
        env={"PATH": path, "HOME": "/tmp"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _an_sbin_tool() -> str:
    for name in ("rabbitmq-server", "pcscd", "rabbitmqctl", "ldconfig", "sysctl"):
        if Path("/usr/sbin", name).exists() or Path("/sbin", name).exists():
            return name
    pytest.fail("no tool in /usr/sbin on this Debian machine (scripts/setup.sh installs some)")


def test_a_tool_in_sbin_is_found_without_sbin_on_path() -> None:
    tool = _an_sbin_tool()
    assert _bash(f"command -v {tool}").returncode != 0  # what the set-up used to rely on
    assert _bash(f"have {tool}").returncode == 0
    assert _bash("have no-such-tool-anywhere").returncode != 0


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> Iterator[int]:
    with socket.socket() as s:
        s.bind((request.param, 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("ss") is None, reason="scripts/setup.sh installs iproute2")
@pytest.mark.parametrize(("listener", "beyond"), [("0.0.0.0", True), ("127.0.0.1", False)],
                         indirect=["listener"])  # fmt: skip
def test_listening_beyond_loopback_is_told_from_loopback_only(listener: int, beyond: bool) -> None:
    found = _bash(f"listens_beyond_loopback {listener}", path=f"{USER_PATH}:/usr/sbin:/sbin")
    assert (found.returncode == 0) is beyond, found.stderr


def test_the_script_parses() -> None:
    assert subprocess.run(["/bin/bash", "-n", str(SETUP)], timeout=60).returncode == 0
