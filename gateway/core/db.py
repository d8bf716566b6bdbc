"""Engine and sessions. SQLite (file, WAL) by default; PostgreSQL by URL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; busy_timeout turns lock contention
    # between our own threads into waiting instead of "database is locked" errors.
    # synchronous=FULL: WAL syncs the log at every commit. With NORMAL a commit survives a
    # crash of the process but not of the machine (power, kernel): the last transactions
    # before a checkpoint could vanish after the sender was told "stored". FULL costs an
    # fsync per commit (2-3 ms on this machine's disk, outside the GIL), which the workers'
    # batched transactions share; PostgreSQL's default (synchronous_commit=on) is the same.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


#: who may read the database files: they hold every declaration, receipt and key digest
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
#: files SQLite keeps beside the database; it creates them with the database file's own mode
SQLITE_SIBLINGS = ("", "-wal", "-shm", "-journal")


def _private_sqlite_file(path: Path) -> None:
    """Make the directory (0700) and the empty database file (0600) before SQLite does, which
    would create them world-readable under the usual umask. Files left by earlier versions
    are narrowed to 0600; an existing directory is left as it is (it may be shared)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
        path.parent.chmod(PRIVATE_DIR)  # mkdir's mode went through the umask
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for suffix in SQLITE_SIBLINGS:
        sibling = path.with_name(path.name + suffix)
        try:
            if sibling.stat().st_mode & 0o077:
                sibling.chmod(PRIVATE_FILE)
        except OSError:
            continue  # absent, or not ours to change: SQLite will say if it cannot open it


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            _private_sqlite_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """Owns the engine and hands out transactional sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        #: called with the session just before each commit (e.g. to write the notifications
        #: gathered during the transaction into the outbox, in the same transaction)
        self.before_commit: list[Callable[[Session], None]] = []
        self._joined = threading.local()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception. Inside
        `together()`, it is the shared transaction's session instead."""
        joined: Session | None = getattr(self._joined, "session", None)
        if joined is not None:
            yield joined
            return
        with self._factory() as session, session.begin():
            yield session
            for hook in self.before_commit:
                hook(session)

    @contextmanager
    def together(self) -> Iterator[None]:
        """Every `session()` this thread opens inside the block joins one transaction, which
        commits at the end of the block, or rolls back whole on an exception.

        For work that is cheap per item but paid per transaction (a commit, the notification
        row, the session itself): the receipts consumer applies the receipts it has been sent
        together. Code inside must not catch a database error and carry on: the shared
        transaction is then unusable, and the block fails (callers then redo item by item)."""
        if getattr(self._joined, "session", None) is not None:
            yield  # already inside one
            return
        with self.session() as session:
            self._joined.session = session
            try:
                yield
            finally:
                self._joined.session = None

    def dispose(self) -> None:
        self.engine.dispose()
