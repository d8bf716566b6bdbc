"""The watched inbound folder: `<folder>/<ENTERPRISE CODE>/*.xml`.

A file is taken only once it has stopped changing (same size and mtime on two scans, and
older than `settle_seconds`), and never while it is named `.*`, `*.part` or `*.tmp` — so a
file still being written is never half-read. Each file ends in `done/` (with the result
beside it) or `failed/` (with the error report beside it); nothing is ever deleted. A file
that fails for an operational reason (database down) stays where it is and is tried again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.core.intake import Intake
from gateway.errors import MisuseError, OperationalError

log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
OUTCOME_DIRS = ("done", "failed")


@dataclass
class FolderIntake:
    intake: Intake
    root: Path
    settle_seconds: float = 1.0
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def candidates(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        found = []
        for ent_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            found += [p for p in sorted(ent_dir.iterdir()) if _wanted(p)]
        return found

    def scan(self) -> int:
        """Process every settled file once; returns how many reached done/ or failed/."""
        handled = 0
        for path in self.candidates():
            if self._settled(path):
                handled += self._take(path)
        return handled

    def _settled(self, path: Path) -> bool:
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        mark = (st.st_size, st.st_mtime_ns)
        previous, self._seen[path] = self._seen.get(path), mark
        return previous == mark and time.time() - st.st_mtime >= self.settle_seconds

    def _take(self, path: Path) -> int:
        code = path.parent.name
        try:
            result = self.intake.submit(code, path.read_bytes(), "folder")
        except OperationalError as exc:
            log.warning("folder intake of %s postponed: %s", path, exc.message)
            return 0
        except MisuseError as exc:
            self._finish(path, "failed", "errors.json", exc.as_dict())
            return 1
        self._finish(path, "done", "result.json", result.as_dict())
        return 1

    def _finish(self, path: Path, outcome: str, suffix: str, report: dict[str, object]) -> None:
        target_dir = path.parent / outcome
        target_dir.mkdir(exist_ok=True)
        target = _free_name(target_dir / path.name)
        # Report first, then move: a crash in between leaves the file to be taken again, and
        # intake is idempotent for the same bytes.
        report_path = target.with_name(target.name + "." + suffix)
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        path.replace(target)
        self._seen.pop(path, None)
        log.info("folder intake: %s -> %s/", path.name, outcome)

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.scan()
            except Exception:  # the watcher must survive a bad disk moment
                log.exception("folder scan failed; retrying")
            stop.wait(poll)


def _wanted(path: Path) -> bool:
    name = path.name
    return (
        path.is_file()
        and not name.startswith(".")
        and not name.lower().endswith(SKIP_SUFFIXES)
        and not name.endswith((".result.json", ".errors.json"))
    )


def _free_name(target: Path) -> Path:
    if not target.exists():
        return target
    stamp = time.strftime("%Y%m%d%H%M%S")
    n = 1
    while True:
        candidate = target.with_name(f"{target.stem}.{stamp}.{n}{target.suffix}")
        if not candidate.exists():
            return candidate
        n += 1
