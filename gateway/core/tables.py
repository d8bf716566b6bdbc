"""Tables, progress bars and JSON for the command line, with rich (issue 17, item 4).

Every command prints through here: a table on a terminal (and plain aligned text, no colour
codes, when piped), a progress bar on stderr for long work (none when stderr is not a
terminal, so scripts and tests see clean output), and `--json` output that a script can
parse. Times are shown with their zone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

#: when not writing to a terminal: wide enough that a business key or a queue name is not cut
PIPE_WIDTH = 200


def console(*, err: bool = False) -> Console:
    """A console on the current stdout/stderr, looked up at each call (CliRunner swaps them)."""
    stream = sys.stderr if err else sys.stdout
    tty = stream.isatty()
    return Console(
        file=stream, width=None if tty else PIPE_WIDTH, highlight=False, soft_wrap=not tty
    )


def cell(value: Any) -> str:
    """A table cell: None as '-', datetimes as ISO with their zone."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Iterable[str] = (),
) -> None:
    """Print rows under `columns`; the columns named in `right` are right-aligned (numbers)."""
    rows = list(rows)
    if not rows:
        return  # the command's count line says "0 …"
    aligned = set(right)
    out = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in columns:
        out.add_column(name, justify="right" if name in aligned else "left", overflow="fold")
    for row in rows:
        out.add_row(*(cell(v) for v in row))
    console().print(out)


def beijing(iso: str | None) -> str | None:
    """A zoned ISO time as Beijing time with its offset, to the second (customs' clock)."""
    from gateway.codes import CHINA_TZ

    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(CHINA_TZ).isoformat(sep=" ", timespec="seconds")


def echo_json(value: Any, *, lines: bool = False) -> None:
    """`value` as JSON (UTF-8 text kept as is); `lines`: one object a line for a list."""
    if lines and isinstance(value, list):
        for item in value:
            click.echo(json.dumps(item, ensure_ascii=False, default=str))
        return
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


class Bar:
    """One progress task: `advance(n)` as work completes."""

    def __init__(self, progress: Progress | None, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Bar]:
    """A progress bar on stderr while the block runs (a spinner when `total` is unknown);
    nothing when stderr is not a terminal."""
    err = console(err=True)
    if not err.is_terminal:
        yield Bar(None, None)
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if total is not None:
        columns.append(MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        yield Bar(bar, bar.add_task(description, total=total))


def each(items: Sequence[Any], description: str) -> Iterator[Any]:
    """Iterate `items` with a progress bar."""
    with progress(description, total=len(items)) as bar:
        for item in items:
            yield item
            bar.advance()
