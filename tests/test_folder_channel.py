"""The folder channel at its trust boundary (issue 11, findings 4, 8, 11 and 12).

Each test drives `FolderIntake.scan` itself against the gateway's real intake and SQLite
store, with the quiet time measured on a clock the test moves: no sleeping, no timing.
Files are also dated a minute back, so that the code before the fix (which judged the quiet
time from the file's mtime) looks at them the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from gateway.core.config import IntakeConfig
from gateway.core.folder import FolderIntake
from gateway.core.models import Enterprise, Message
from gateway.ecx import samples
from tests.stack import PLATFORM, Stack

pytestmark = pytest.mark.integration

SETTLE = 1.0
MakeStack = Callable[..., Stack]


class Clock:
    """The gateway's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _watcher(stack: Stack, settle: float = SETTLE) -> tuple[FolderIntake, Clock]:
    assert stack.config.intake.folder is not None
    folder = FolderIntake(stack.gateway.intake, stack.config.intake.folder, settle)
    clock = Clock()
    folder.clock = clock
    return folder, clock


def _scans(folder: FolderIntake, clock: Clock, count: int = 4) -> None:
    """Scans one quiet time apart: enough for every entry to settle and be filed."""
    for _ in range(count):
        folder.scan()
        clock.now += folder.settle_seconds + 1


def _inbox(stack: Stack, code: str) -> Path:
    assert stack.config.intake.folder is not None
    inbox = stack.config.intake.folder / code
    inbox.mkdir(parents=True, exist_ok=True)
    return inbox


def _aged(path: Path, seconds: float = 60.0) -> Path:
    when = time.time() - seconds
    os.utime(path, (when, when), follow_symlinks=False)
    return path


def _drop(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return _aged(path)


def _order(stack: Stack, order_no: str) -> bytes:
    return samples.order_message(stack.ebc, PLATFORM, [order_no])


def _waybill(stack: Stack, logistics_no: str, order_no: str) -> bytes:
    return samples.waybill_message(
        stack.carrier, [samples.Shipment(logistics_no, stack.ebc, order_no)]
    )


def _messages(stack: Stack, code: str) -> int:
    with stack.gateway.db.session() as session:
        query = (
            select(func.count())
            .select_from(Message)
            .join(Enterprise, Enterprise.id == Message.enterprise_id)
            .where(Enterprise.code == code)
        )
        return int(session.scalar(query) or 0)


def _duplicates() -> float:
    labels = {"stage": "intake", "outcome": "duplicate"}
    return REGISTRY.get_sample_value("gateway_operations_total", labels) or 0.0


def _report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _left_in_folder(inbox: Path) -> dict[str, dict[str, Any]]:
    summary = inbox / "failed" / "refused.json"
    if not summary.exists():
        return {}
    return {e["name"]: e for e in _report(summary)["left_in_folder"]}


@pytest.fixture
def chattr() -> Iterator[list[Path]]:
    """Files made immutable by a test, released afterwards so tmp_path can be removed."""
    made: list[Path] = []
    yield made
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def _immutable(path: Path, made: list[Path]) -> None:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i needs root on ext4/xfs: {done.stderr.decode().strip()}")
    made.append(path)


# -- finding 4: one bad entry stops nothing else ------------------------------------------


@pytest.mark.parametrize("culprit", ["long_name", "file_named_done", "immutable"])
def test_one_bad_entry_stops_no_other_file_and_is_never_submitted_twice(
    make_stack: MakeStack, chattr: list[Path], culprit: str
) -> None:
    stack = make_stack()
    folder, clock = _watcher(stack)
    first, second = _inbox(stack, stack.ebc.code), _inbox(stack, stack.carrier.code)
    assert stack.ebc.code < stack.carrier.code  # the culprit's folder is scanned first
    _drop(first / "a.xml", _order(stack, "EO2026120400401"))
    _drop(second / "b.xml", _waybill(stack, "YT2026120400401", "EO2026120400401"))
    if culprit == "long_name":  # its report name would pass the 255 bytes a name may have
        bad = _drop(first / ("L" * 245 + ".xml"), _order(stack, "EO2026120400402"))
    elif culprit == "file_named_done":
        bad = _drop(first / "done", b"not a folder\n")
    else:
        bad = _drop(first / "c.xml", _order(stack, "EO2026120400403"))
        _immutable(bad, chattr)
    duplicates = _duplicates()

    _scans(folder, clock)

    assert (second / "done" / "b.xml").exists()  # the other enterprise went on
    assert (first / "done" / "a.xml").exists()  # and so did the culprit's own folder
    left = _left_in_folder(first)
    if culprit == "long_name":
        assert bad.exists() and left[bad.name]["report"]["refused"] == "name_too_long"
        assert left[bad.name]["report"]["violations"][0]["rule"] == "R-COM-1"
        stored = 1  # refused unread: never stored
    elif culprit == "file_named_done":
        report = _report(first / "failed" / "done.errors.json")
        assert report["refused"] == "reserved_name", report
        assert (first / "failed" / "done").read_bytes() == b"not a folder\n"
        stored = 1
    else:
        assert bad.exists() and "not moved to done/" in left["c.xml"]["problem"]
        assert left["c.xml"]["outcome"] == "done"
        assert _report(first / "done" / "c.xml.result.json")["duplicate"] is False
        stored = 2
    assert _messages(stack, stack.ebc.code) == stored

    _scans(folder, clock)  # later scans: the culprit is not submitted again

    assert _messages(stack, stack.ebc.code) == stored
    assert _duplicates() == duplicates
    assert len(list((first / "done").glob("*.result.json"))) == stored


def test_refused_json_lists_only_what_is_still_in_the_folder(make_stack: MakeStack) -> None:
    stack = make_stack()
    folder, clock = _watcher(stack)
    inbox = _inbox(stack, stack.ebc.code)
    long_name = _drop(inbox / ("L" * 245 + ".xml"), _order(stack, "EO2026120400404"))
    _scans(folder, clock)
    assert list(_left_in_folder(inbox)) == [long_name.name]

    _aged(long_name.rename(inbox / "short.xml"))  # the operator renames it
    _scans(folder, clock)

    assert (inbox / "done" / "short.xml").exists()
    assert not (inbox / "failed" / "refused.json").exists()


# -- finding 8: links are refused, never followed -----------------------------------------


def test_links_are_refused_with_a_report_and_never_followed(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    stack = make_stack()
    folder, clock = _watcher(stack)
    inbox = _inbox(stack, stack.ebc.code)
    outside = tmp_path / "outside"
    elsewhere = tmp_path / "elsewhere"
    outside.mkdir()
    elsewhere.mkdir()
    secret = _order(stack, "EO2026120400802").replace(
        b"<ceb:currency>142</ceb:currency>", b"<ceb:currency>SECRET8</ceb:currency>"
    )
    _drop(outside / "order.xml", _order(stack, "EO2026120400801"))
    _drop(outside / "secret.xml", secret)
    _drop(outside / "hard.xml", _order(stack, "EO2026120400803"))
    os.symlink(outside / "order.xml", inbox / "link.xml")
    os.symlink(outside / "secret.xml", inbox / "secret.xml")
    os.link(outside / "hard.xml", inbox / "hard.xml")
    os.symlink(elsewhere, inbox / "done")  # results must not be written through it
    for name in ("link.xml", "secret.xml", "done"):
        _aged(inbox / name)
    _drop(inbox / "good.xml", _order(stack, "EO2026120400804"))

    _scans(folder, clock)

    assert _messages(stack, stack.ebc.code) == 1  # good.xml only
    assert (inbox / "done" / "good.xml").exists() and not (inbox / "done").is_symlink()
    assert list(elsewhere.iterdir()) == []
    for name, reason in [
        ("link.xml", "link"),
        ("secret.xml", "link"),
        ("done", "link"),
        ("hard.xml", "hard_link"),
    ]:
        text = (inbox / "failed" / f"{name}.errors.json").read_text()
        assert json.loads(text)["refused"] == reason, text
        assert "SECRET8" not in text
        assert os.path.lexists(inbox / "failed" / name)
    assert (inbox / "failed" / "link.xml").is_symlink()  # the link moved, not its target
    assert (outside / "order.xml").exists() and (outside / "secret.xml").read_bytes() == secret


# -- finding 11: the size limit comes before reading --------------------------------------


def _bytes_read_by_this_thread() -> int:
    """rchar of /proc/thread-self/io: every byte this thread got from read() and friends."""
    for line in Path("/proc/thread-self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/thread-self/io")


def test_a_file_over_the_limit_is_refused_without_being_read(make_stack: MakeStack) -> None:
    stack = make_stack()
    folder, clock = _watcher(stack)
    inbox = _inbox(stack, stack.ebc.code)
    limit = stack.gateway.intake.max_bytes
    big = inbox / "big.xml"
    with big.open("wb") as out:  # sparse: ten times the limit, no disk blocks
        out.write(b"<?xml version='1.0'?>")
        out.truncate(limit * 10)
    _aged(big)

    before = _bytes_read_by_this_thread()
    _scans(folder, clock)
    read = _bytes_read_by_this_thread() - before

    assert read < limit, f"{read} bytes read for a file of {limit * 10}"
    report = _report(inbox / "failed" / "big.xml.errors.json")
    assert report["refused"] == "too_big"
    assert report["violations"][0]["rule"] == "R-COM-1"
    assert report["violations"][0]["field"] == "(file size)"


# -- finding 12: half-written files and entries left without a report ----------------------


def test_a_write_that_pauses_is_not_taken_half_written(make_stack: MakeStack) -> None:
    stack = make_stack()
    folder, clock = _watcher(stack, IntakeConfig().settle_seconds)
    inbox = _inbox(stack, stack.ebc.code)
    data = _order(stack, "EO2026120401201")
    slow = inbox / "slow.xml"
    slow.write_bytes(data[: len(data) // 2])
    _aged(slow, 3.5)  # the writer paused 3.5 s after its last write…

    folder.scan()
    clock.now += 3.5  # …and the gateway looked at it twice in that pause
    folder.scan()

    assert slow.exists() and not (inbox / "failed").exists() and not (inbox / "done").exists()
    with slow.open("ab") as out:  # the writer goes on
        out.write(data[len(data) // 2 :])
    _scans(folder, clock)
    assert (inbox / "done" / "slow.xml").read_bytes() == data


def test_directories_fifos_and_dotfiles_named_xml_get_a_report(make_stack: MakeStack) -> None:
    stack = make_stack()
    folder, clock = _watcher(stack)
    inbox = _inbox(stack, stack.ebc.code)
    (inbox / "dir.xml").mkdir()
    os.mkfifo(inbox / "fifo.xml")
    _drop(inbox / ".hidden.xml", _order(stack, "EO2026120401202"))
    _drop(inbox / "upload.xml.part", b"<half")  # in progress: left alone
    for name in ("dir.xml", "fifo.xml"):
        _aged(inbox / name)

    _scans(folder, clock)

    for name, reason in [
        ("dir.xml", "directory"),
        ("fifo.xml", "special"),
        (".hidden.xml", "hidden"),
    ]:
        report = _report(inbox / "failed" / f"{name}.errors.json")
        assert report["refused"] == reason, report
        assert report["violations"][0]["rule"] == "R-COM-1"
        assert report["violations"][0]["value"] == name
        assert os.path.lexists(inbox / "failed" / name) and not os.path.lexists(inbox / name)
    assert (inbox / "upload.xml.part").exists()
    assert _messages(stack, stack.ebc.code) == 0
