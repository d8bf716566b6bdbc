"""The README's "What to try next" tour, every command of it, on a fresh database and broker
names, each in its own process as a newcomer types it (issue 17, item 6): each ends with the
exit status the README gives (0 unless its comment says `exit N`) and none prints a
traceback. `serve` and `customs-sim` (the lines ending in `&`) run in the background for the
commands after them, and must stop cleanly too."""

from __future__ import annotations

import glob
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
import yaml

from tests.stack import raw_config
from tests.transport_fixtures import unique_prefix

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PROGRAM = "customs-gateway"
#: lines of the tour that set up the shell rather than run a command
SHELL_SETUP = re.compile(r"^export \w+=")


@dataclass(frozen=True)
class Step:
    line: str
    args: list[str]
    exit_code: int
    background: bool


def tour_block(text: str) -> list[str]:
    """The first ```sh block under the README's "What to try next" heading."""
    found = re.search(r"^## What to try next\n(.*?)^## ", text, re.S | re.M)
    assert found, 'README.md has no "## What to try next" section'
    block = re.search(r"```sh\n(.*?)```", found.group(1), re.S)
    assert block, '"What to try next" has no ```sh block'
    return [line for line in block.group(1).splitlines() if line.strip()]


def parse(line: str) -> Step | None:
    command, _, comment = line.partition("  #")
    command = command.strip()
    if SHELL_SETUP.match(command):
        return None
    background = command.endswith("&")
    args = shlex.split(command.rstrip("&"))
    assert args[0] == PROGRAM, f"a tour line that is not a {PROGRAM} command: {line!r}"
    wanted = re.search(r"\bexit (\d+)", comment)
    return Step(line, args[1:], int(wanted.group(1)) if wanted else 0, background)


def test_the_tour_is_parsed_as_the_readme_says() -> None:
    steps = [s for s in map(parse, tour_block(README.read_text(encoding="utf-8"))) if s]
    assert len(steps) >= 12
    assert any(s.args[:1] == ["serve"] and s.background for s in steps)
    assert any(s.exit_code == 1 for s in steps)  # a refusal is part of the tour


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def config(tmp_path: Path, keys_dir: Path, broker: None) -> tuple[Path, int]:
    """A fresh SQLite database, its own broker names and HTTP port."""
    port = _free_port()
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    raw["http"] = {"host": "127.0.0.1", "port": port}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path, port


def _expand(args: list[str]) -> list[str]:
    """The shell's globbing, relative to the clone."""
    out: list[str] = []
    for arg in args:
        matches = sorted(glob.glob(arg, root_dir=ROOT)) if "*" in arg else []
        out += matches or [arg]
    return out


def _command(config: Path, step: Step) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", "--config", str(config), *_expand(step.args)]


def _environment(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMS_GATEWAY_")}
    return {**env, "CUSTOMS_GATEWAY_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}


def _wait_http(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve stopped:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"serve did not answer on port {port}:\n{log.read_text()[-3000:]}")


def test_every_tour_command_runs_on_a_fresh_database_without_a_traceback(
    config: tuple[Path, int], tmp_path: Path
) -> None:
    path, port = config
    env = _environment(path)
    steps = [s for s in map(parse, tour_block(README.read_text(encoding="utf-8"))) if s]
    running: list[tuple[Step, subprocess.Popen[bytes], Path, IO[bytes]]] = []
    try:
        for n, step in enumerate(steps):
            if step.background:
                log = tmp_path / f"background-{n}.log"
                out = log.open("wb")
                proc = subprocess.Popen(
                    _command(path, step), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                )
                running.append((step, proc, log, out))
                if step.args[0] == "serve":
                    _wait_http(port, proc, log)
                continue
            done = subprocess.run(
                _command(path, step), cwd=ROOT, env=env, capture_output=True, timeout=600
            )
            output = (done.stdout + done.stderr).decode("utf-8", "replace")
            assert "Traceback" not in output, f"{step.line}\n{output}"
            assert done.returncode == step.exit_code, f"{step.line}\n{output}"
    finally:
        for _step, proc, _log, out in running:
            proc.send_signal(signal.SIGTERM)
        for step, proc, log, out in running:
            try:
                proc.wait(timeout=120)
            finally:
                out.close()
            text = log.read_text(encoding="utf-8", errors="replace")
            assert "Traceback" not in text, f"{step.line}\n{text[-4000:]}"


# --- the first hour's failures: one line saying what to do, never a traceback ----------------


def _run(config: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), *args],
        cwd=ROOT,
        env=_environment(config),
        capture_output=True,
        timeout=600,
    )
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")


def test_ops_before_serve_ever_ran_says_to_start_it(config: tuple[Path, int]) -> None:
    path, _port = config
    code, out = _run(path, "ops", "dead-letters", "gateway.inbound")
    assert code == 1 and "Traceback" not in out, out
    assert "does not exist yet: start `customs-gateway serve` once" in out
    code, out = _run(path, "ops", "queues")
    assert code == 0 and "pika" not in out and "WARNING" not in out, out
    assert "not declared yet" in out


def test_an_unreachable_broker_and_an_unmigrated_database_are_one_line_each(
    config: tuple[Path, int], tmp_path: Path
) -> None:
    path, _port = config
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["amqp"]["url"] = f"amqp://guest:guest@127.0.0.1:{_free_port()}/%2F"  # nothing listens
    unreachable = tmp_path / "unreachable.yaml"
    unreachable.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    code, out = _run(unreachable, "ops", "queues")
    assert code == 1 and "Traceback" not in out and "pika" not in out, out
    assert out.strip().startswith("Error: RabbitMQ at 127.0.0.1:") and len(out.splitlines()) == 1
    code, out = _run(path, "summary", "preview")  # nothing has created the tables yet
    assert code == 1 and "Traceback" not in out, out
    assert "run `customs-gateway db upgrade`" in out


def test_the_appointment_example_on_a_fresh_clone_names_what_is_missing(
    config: tuple[Path, int],
) -> None:
    """Before `apt-refdata --sample` the request is refused naming each unknown code (R-APT-1),
    no `no such table` crash; after it, accepted."""
    path, _port = config
    request = "examples/appointments/APT101-request.xml"
    code, out = _run(path, "check", request, "--at", "2026-12-03 10:00")
    assert code == 1 and "Traceback" not in out and "no such table" not in out, out
    assert "[R-APT-1]" in out and "is not a known port" in out
    code, out = _run(path, "apt-refdata", "--sample")
    assert code == 0, out
    code, out = _run(path, "check", request, "--at", "2026-12-03 10:00")
    assert code == 0, out


def test_json_output_for_scripts_and_times_with_their_zone(config: tuple[Path, int]) -> None:
    """`--json` where a script would want it parses as JSON; history times carry a zone."""
    import json
    from datetime import datetime

    path, _port = config
    code, out = _run(path, "submit", "examples/ecx/CEB303-order.xml")
    assert code == 0, out
    code, out = _run(path, "status", "1", "--json")
    assert code == 0, out
    view = json.loads(out)
    assert view["status"] == "pending_sign"
    for at in [view["created_at"], *(h["at"] for h in view["history"])]:
        assert datetime.fromisoformat(at).utcoffset() is not None, at
    code, out = _run(path, "status", "1")  # the table: Beijing time with its offset
    assert code == 0 and "+08:00" in out and "pending_sign" in out, out
    code, out = _run(path, "ops", "stuck", "--older-than", "0s", "--json")
    stuck = json.loads(out)
    assert code == 0 and [r["id"] for r in stuck["records"]] == [1, 2], out
    assert all(datetime.fromisoformat(r["since"]).utcoffset() is not None for r in stuck["records"])
    code, out = _run(path, "ops", "queues", "--json")
    assert code == 0 and all(q["messages"] is None for q in json.loads(out)), out


def test_every_command_and_subcommand_answers_help() -> None:
    """Every command of the core and of the installed systems says what it does (`--help`)."""
    import click
    from click.testing import CliRunner

    from gateway.core.cli import main

    runner = CliRunner()
    ctx = click.Context(main)
    names = main.list_commands(ctx)
    assert {"validate", "check", "submit", "status", "ops", "serve", "summary"} <= set(names)
    for name in names:
        command = main.get_command(ctx, name)
        assert command is not None, name
        paths = [[name]]
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in command.list_commands(ctx)]
        for path in paths:
            result = runner.invoke(main, [*path, "--help"])
            assert result.exit_code == 0 and "Usage:" in result.output, (path, result.output)
