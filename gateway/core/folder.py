"""The watched inbound folder: `<folder>/<ENTERPRISE CODE>/<file>` (docs/folder-channel.md).

Each entry of an enterprise folder is handled on its own: whatever goes wrong with one is
reported for that one, and the scan goes on with the next entry and the next enterprise.

- An entry is looked at only once it has stopped changing: its inode, type, size and mtime
  (lstat) stayed the same for `settle_seconds`, measured on the gateway's own monotonic clock
  between scans — never from the file's mtime, which a copy may set in the past.
- Names ending `.part`, `.tmp`, `.partial`, `.crdownload` and dotfiles not ending `.xml` are
  in progress (or not ours) and left alone; real `done/` and `failed/` folders are ours.
- Only regular files with one name are read, opened with O_NOFOLLOW: a symbolic link, a hard
  link, a directory, a FIFO/socket/device, a dotfile `*.xml`, a file named `done` or `failed`,
  a file over `intake.max_bytes` (from fstat of the opened file, before reading; never more
  than the limit is read) is refused unread with a report in `failed/` naming rule and reason.
- A read file is submitted through intake: `done/` with `<name>.result.json`, or `failed/`
  with `<name>.errors.json`. Nothing is ever deleted. A database outage leaves it in place.
- What cannot be moved out (a name too long to carry a report, an immutable file, a blocked
  outcome folder) stays, is logged once and is listed in `failed/refused.json`; an accepted
  file is never submitted again while it is unchanged, and is moved as soon as it can be.

Everything is reached through directory descriptors opened with O_NOFOLLOW, so a link put
in place of `done/` or of a report's name never sends a write outside the folder.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.core.config import IntakeConfig
from gateway.core.intake import Intake
from gateway.errors import InvalidMessage, MisuseError, OperationalError, Violation

log = logging.getLogger(__name__)

RULE = "R-COM-1"
IN_PROGRESS = (".part", ".tmp", ".partial", ".crdownload")
OUTCOME_DIRS = ("done", "failed")
#: in failed/: what the gateway will not take or could not move, still in the folder
SUMMARY = "refused.json"
#: longest file name (UTF-8 bytes) taken: its report name and a collision stamp still fit
#: in the 255 bytes a Linux file system allows
MAX_NAME_BYTES = 200

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the lstat must not hang the scan on open.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

#: inode, type and permissions, size, mtime: any change restarts the quiet time
Mark = tuple[int, int, int, int]


@dataclass
class _Seen:
    mark: Mark
    since: float  # the gateway's clock when this mark was first seen
    warned: bool = False  # a postponement was logged for this mark


@dataclass
class _Held:
    """An entry decided on (refused, or accepted by intake) that could not leave the folder."""

    mark: Mark
    outcome: str  # "done" or "failed"
    suffix: str  # "result.json" or "errors.json"
    report: dict[str, Any]
    problem: str
    #: its name in the outcome folder once the report is written there: only the move is left
    target: str | None = None
    #: False when trying again cannot help until the entry changes (a name too long)
    retry: bool = True


class _Changed(Exception):
    """The entry changed between the settled lstat and the read: wait for it to settle again."""


@dataclass
class _Folder:
    """What the watcher remembers of one enterprise folder between scans."""

    code: str
    fd: int = -1  # the folder, opened with O_NOFOLLOW for the length of one scan
    seen: dict[str, _Seen] = field(default_factory=dict)
    held: dict[str, _Held] = field(default_factory=dict)
    #: the list last written to failed/refused.json (None: not written by this process yet)
    summary: list[dict[str, Any]] | None = None

    def forget(self, name: str) -> None:
        self.seen.pop(name, None)
        self.held.pop(name, None)


@dataclass
class FolderIntake:
    intake: Intake
    root: Path
    settle_seconds: float = IntakeConfig.settle_seconds
    #: the quiet time is measured on this clock (tests drive it; no sleeping)
    clock: Callable[[], float] = time.monotonic
    _folders: dict[str, _Folder] = field(default_factory=dict)
    _said: set[tuple[str, ...]] = field(default_factory=set)

    def scan(self) -> int:
        """Look at every entry once; returns how many left for done/ or failed/."""
        try:
            root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        try:
            return sum(self._scan_enterprise(root_fd, f) for f in self._enterprises(root_fd))
        finally:
            os.close(root_fd)

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.scan()
            except Exception:  # the watcher must survive a bad disk moment
                log.exception("folder scan failed; retrying")
            stop.wait(poll)

    # -- enterprise folders ------------------------------------------------------------

    def _enterprises(self, root_fd: int) -> list[_Folder]:
        with os.scandir(root_fd) as found:
            entries = sorted(found, key=lambda e: e.name)
        codes = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                codes.append(entry.name)
            elif not entry.name.startswith("."):
                self._say_once(
                    ("root", entry.name),
                    "folder intake: %r in %s is not a directory (links are never followed);"
                    " ignored",
                    _shown(entry.name),
                    self.root,
                )
        self._folders = {c: self._folders.get(c) or _Folder(c) for c in codes}
        return list(self._folders.values())

    def _scan_enterprise(self, root_fd: int, f: _Folder) -> int:
        try:
            f.fd = os.open(f.code, _DIR_FLAGS, dir_fd=root_fd)
        except OSError as exc:
            self._say_once(("open", f.code), "folder intake: cannot open %s/: %s", f.code, exc)
            return 0
        try:
            return self._scan_entries(f)
        except OSError as exc:  # listing the folder itself failed: the next one goes on
            self._say_once(("scan", f.code), "folder intake: cannot scan %s/: %s", f.code, exc)
            return 0
        finally:
            os.close(f.fd)
            f.fd = -1

    def _scan_entries(self, f: _Folder) -> int:
        with os.scandir(f.fd) as found:
            names = sorted(e.name for e in found if not _ignored(e))
        present = set(names)
        for gone in [n for n in (*f.seen, *f.held) if n not in present]:
            f.forget(gone)
        # A `done` or `failed` that is not a real folder is refused first (below); until
        # then no message is submitted here, as its outcome could not be filed.
        blocked = not all(_usable_outcome(f.fd, d) for d in OUTCOME_DIRS)
        handled = 0
        for name in names:
            try:
                handled += self._entry(f, name, blocked)
            except FileNotFoundError:  # gone since the listing
                f.forget(name)
        self._write_summary(f)
        return handled

    # -- one entry -------------------------------------------------------------------------

    def _entry(self, f: _Folder, name: str, blocked: bool) -> int:
        st = os.stat(name, dir_fd=f.fd, follow_symlinks=False)
        mark = _mark(st)
        held = f.held.pop(name, None)
        if held is not None and held.mark == mark:
            return (
                self._file(f, name, held, quiet=True) if held.retry else self._keep(f, name, held)
            )
        if not self._settled(f, name, mark):
            return 0
        refused = _refusal(name, st, self.intake.max_bytes)
        if refused is not None:
            return self._refuse(f, name, mark, refused)
        if blocked:
            self._say_once(
                ("blocked", f.code),
                "folder intake: %s/ waits: its done/ or failed/ is not a folder",
                f.code,
            )
            return 0
        return self._take(f, name, mark)

    def _settled(self, f: _Folder, name: str, mark: Mark) -> bool:
        now = self.clock()
        seen = f.seen.get(name)
        if seen is None or seen.mark != mark:
            f.seen[name] = _Seen(mark, now)
            return False
        return now - seen.since >= self.settle_seconds

    def _refuse(self, f: _Folder, name: str, mark: Mark, report: dict[str, Any]) -> int:
        held = _Held(mark, "failed", "errors.json", report, problem="")
        if len(os.fsencode(name)) > MAX_NAME_BYTES:
            # No report fits beside it: it stays, listed in failed/refused.json.
            held.problem, held.retry = (
                "left in place: its name is too long to carry a report",
                False,
            )
            return self._hold(f, name, held)
        return self._file(f, name, held)

    def _take(self, f: _Folder, name: str, mark: Mark) -> int:
        try:
            data = _read(f.fd, name, mark, self.intake.max_bytes)
        except _Changed:
            f.seen.pop(name, None)
            return 0
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # became a link since the lstat: looked at again
                f.seen.pop(name, None)
                return 0
            return self._file(f, name, _Held(mark, "failed", "errors.json", _unreadable(exc), ""))
        try:
            result = self.intake.submit(f.code, data, "folder")
        except MisuseError as exc:
            return self._file(f, name, _Held(mark, "failed", "errors.json", exc.as_dict(), ""))
        except Exception as exc:  # noqa: BLE001 - the database or a bug: the file waits
            self._postponed(f, name, exc)
            return 0
        return self._file(f, name, _Held(mark, "done", "result.json", result.as_dict(), ""))

    def _postponed(self, f: _Folder, name: str, exc: Exception) -> None:
        seen = f.seen.get(name)
        if seen is None or seen.warned:
            return
        seen.warned = True
        if isinstance(exc, OperationalError):
            log.warning("folder intake of %s/%r postponed: %s", f.code, _shown(name), exc.message)
        else:
            log.exception("folder intake of %s/%r failed; tried again", f.code, _shown(name))

    # -- filing an outcome -----------------------------------------------------------------

    def _file(self, f: _Folder, name: str, held: _Held, quiet: bool = False) -> int:
        """Report first, then move: a crash in between leaves the file to be taken again, and
        intake is idempotent for the same bytes."""
        try:
            with _opened_dir(f.fd, held.outcome) as out_fd:
                if held.target is None:
                    held.target = _write_report(out_fd, name, held.suffix, held.report)
                _move(f.fd, name, out_fd, held.target)
        except OSError as exc:
            if not _exists(f.fd, name):  # taken away meanwhile: nothing left to file
                f.forget(name)
                return 0
            held.problem = _problem(held, exc)
            return self._keep(f, name, held) if quiet else self._hold(f, name, held)
        f.forget(name)
        log.info("folder intake: %s/%r -> %s/", f.code, _shown(name), held.outcome)
        return 1

    def _hold(self, f: _Folder, name: str, held: _Held) -> int:
        """It stays in the folder: said once, listed in failed/refused.json."""
        log.warning("folder intake: %s/%r %s", f.code, _shown(name), held.problem)
        return self._keep(f, name, held)

    def _keep(self, f: _Folder, name: str, held: _Held) -> int:
        f.seen.pop(name, None)
        f.held[name] = held
        return 0

    # -- failed/refused.json ---------------------------------------------------------------

    def _write_summary(self, f: _Folder) -> None:
        entries = [
            {"name": _shown(name), "outcome": h.outcome, "problem": h.problem, "report": h.report}
            for name, h in sorted(f.held.items())
        ]
        if f.summary == entries:
            return
        try:
            _save_summary(f.fd, f.code, entries)
        except OSError as exc:
            self._say_once(
                ("summary", f.code),
                "folder intake: cannot write %s/failed/%s: %s",
                f.code,
                SUMMARY,
                exc,
            )
            return
        f.summary = entries

    def _say_once(self, key: tuple[str, ...], message: str, *args: object) -> None:
        if key not in self._said:
            self._said.add(key)
            log.warning(message, *args)


# -- what is looked at ---------------------------------------------------------------------


def _ignored(entry: os.DirEntry[str]) -> bool:
    """In progress, not ours to judge, or the gateway's own folders."""
    name = entry.name
    lower = name.lower()
    if lower.endswith(IN_PROGRESS):
        return True
    if name.startswith(".") and not lower.endswith(".xml"):
        return True
    return name in OUTCOME_DIRS and entry.is_dir(follow_symlinks=False)


def _usable_outcome(ent_fd: int, name: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=ent_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return True  # made when first needed


def _mark(st: os.stat_result) -> Mark:
    return (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns)


def _refusal(name: str, st: os.stat_result, max_bytes: int) -> dict[str, Any] | None:
    """The report of an entry that is not read, or None for a file to submit."""
    found = _type_refusal(st) or _name_refusal(name) or _size_refusal(st, max_bytes)
    if found is None:
        return None
    reason, where, message = found
    return _refused(reason, Violation(RULE, where, message, value=_shown(name)))


def _type_refusal(st: os.stat_result) -> tuple[str, str, str] | None:
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return (
            "link",
            "(file type)",
            "a symbolic link: the gateway never follows links; put the file itself here",
        )
    if stat.S_ISDIR(mode):
        return "directory", "(file type)", "a directory: only files are taken"
    if not stat.S_ISREG(mode):
        return "special", "(file type)", "not a regular file (a FIFO, socket or device)"
    if st.st_nlink > 1:
        return (
            "hard_link",
            "(file type)",
            "a file with other names (a hard link): put a copy of its own here",
        )
    return None


def _name_refusal(name: str) -> tuple[str, str, str] | None:
    if name in OUTCOME_DIRS:
        return (
            "reserved_name",
            "(file name)",
            f"{name!r} is the gateway's own folder for outcomes; a file of that name blocks it",
        )
    if name.startswith("."):
        return (
            "hidden",
            "(file name)",
            "a hidden name (leading '.') marks a file in progress; rename it without the dot",
        )
    size = len(os.fsencode(name))
    if size > MAX_NAME_BYTES:
        return (
            "name_too_long",
            "(file name)",
            f"the name is {size} bytes (UTF-8), over the limit of {MAX_NAME_BYTES}",
        )
    return None


def _size_refusal(st: os.stat_result, max_bytes: int) -> tuple[str, str, str] | None:
    if st.st_size > max_bytes:
        return (
            "too_big",
            "(file size)",
            f"the file is {st.st_size} bytes, over the limit of {max_bytes} (intake.max_bytes)",
        )
    return None


def _refused(reason: str, violation: Violation) -> dict[str, Any]:
    """An InvalidMessage report, with `refused` naming the reason in one word."""
    return {**InvalidMessage([violation]).as_dict(), "refused": reason}


def _unreadable(exc: OSError) -> dict[str, Any]:
    message = f"cannot be read: {exc.strerror or exc}"
    return _refused("unreadable", Violation(RULE, "(file)", message))


def _shown(name: str) -> str:
    """The name as text for reports and logs, whatever bytes it is made of."""
    return os.fsencode(name).decode("utf-8", "replace")


# -- reading and filing --------------------------------------------------------------------


def _read(ent_fd: int, name: str, mark: Mark, limit: int) -> bytes:
    """The settled file's bytes, never more than `limit`: the size came from lstat and is
    checked again on the opened descriptor, before and after reading."""
    fd = os.open(name, _FILE_FLAGS, dir_fd=ent_fd)
    try:
        if _mark(os.fstat(fd)) != mark:
            raise _Changed
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if _mark(os.fstat(fd)) != mark or left <= 0:
            raise _Changed
    finally:
        os.close(fd)
    return b"".join(chunks)


@contextmanager
def _opened_dir(ent_fd: int, name: str) -> Iterator[int]:
    """The outcome folder, made if missing; a link or file in its place fails (OSError)."""
    with suppress(FileExistsError):
        os.mkdir(name, dir_fd=ent_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=ent_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _write_report(out_fd: int, name: str, suffix: str, report: dict[str, Any]) -> str:
    """Write `<target>.<suffix>` for a free target name in the outcome folder; the target.
    O_EXCL: an existing name (even a planted link) is never written through."""
    target = _free_name(out_fd, name, suffix)
    _write_new(out_fd, f"{target}.{suffix}", report)
    return target


def _write_new(dir_fd: int, name: str, body: dict[str, Any]) -> None:
    fd = os.open(name, _NEW_FLAGS, 0o644, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as out:
        out.write((json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode())


def _free_name(out_fd: int, name: str, suffix: str) -> str:
    stem, ext = os.path.splitext(name)
    stamp = time.strftime("%Y%m%d%H%M%S")
    candidate, n = name, 0
    while (
        candidate == SUMMARY
        or _exists(out_fd, candidate)
        or _exists(out_fd, f"{candidate}.{suffix}")
    ):
        n += 1
        candidate = f"{stem}.{stamp}.{n}{ext}"
    return candidate


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _move(ent_fd: int, name: str, out_fd: int, target: str) -> None:
    if _exists(out_fd, target):  # rename would replace it
        raise FileExistsError(errno.EEXIST, "target exists in the outcome folder", target)
    os.rename(name, target, src_dir_fd=ent_fd, dst_dir_fd=out_fd)


def _problem(held: _Held, exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if held.outcome == "done":
        return (
            f"accepted by intake but not moved to done/: {what}; it is not submitted again"
            " while unchanged, and is moved as soon as it can be"
        )
    return f"refused but not moved to failed/: {what}; moved as soon as it can be"


def _save_summary(ent_fd: int, code: str, entries: list[dict[str, Any]]) -> None:
    """failed/refused.json lists what stays in the folder; none left: the file goes."""
    if not entries:
        # Nothing to list: remove an old list, but never make failed/ just for that.
        with suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(f"failed/{SUMMARY}", dir_fd=ent_fd)
        return
    with _opened_dir(ent_fd, "failed") as out_fd:
        body = {
            "enterprise": code,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            "left_in_folder": entries,
        }
        tmp = f".{SUMMARY}.tmp"
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=out_fd)
        _write_new(out_fd, tmp, body)
        os.replace(tmp, SUMMARY, src_dir_fd=out_fd, dst_dir_fd=out_fd)
