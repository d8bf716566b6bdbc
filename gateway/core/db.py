"""Engine and sessions. SQLite (file, WAL) by default; PostgreSQL by URL.

The connection pool is sized by the `database:` section of the configuration. A caller that
finds it saturated waits at most `pool_timeout` seconds and then gets `PoolExhausted` (HTTP
503 with Retry-After), never an endless queue; every wait is measured (metrics below).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from gateway.core.config import DatabaseConfig
from gateway.errors import PoolExhausted

POOL_WAIT = Histogram(
    "gateway_db_pool_wait_seconds",
    "Time spent waiting for a pooled database connection",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
POOL_WAIT_MAX = Gauge(
    "gateway_db_pool_wait_max_seconds", "Longest wait for a pooled connection in this process"
)
POOL_TIMEOUTS = Counter(
    "gateway_db_pool_timeouts", "Waits for a pooled connection that ran out (PoolExhausted)"
)
_max_lock = threading.Lock()
_max_wait = 0.0


def _note_wait(seconds: float) -> None:
    global _max_wait
    POOL_WAIT.observe(seconds)
    with _max_lock:
        if seconds > _max_wait:
            _max_wait = seconds
            POOL_WAIT_MAX.set(seconds)


class TimedQueuePool(QueuePool):
    """A QueuePool that measures how long each checkout waited for a free connection."""

    def connect(self) -> PoolProxiedConnection:
        started = time.perf_counter()
        try:
            return super().connect()
        except sa_exc.TimeoutError:
            POOL_TIMEOUTS.inc()
            raise
        finally:
            _note_wait(time.perf_counter() - started)


# SQLAlchemy's pools log their life (disposed, recreating) at INFO under the pool class's own
# module and name: under sqlalchemy.* that stays quiet (SQLAlchemy sets its loggers to WARNING),
# under ours it printed on every CLI command. Keep the subclass as quiet as the pool it extends.
logging.getLogger(f"{TimedQueuePool.__module__}.{TimedQueuePool.__name__}").setLevel(
    logging.WARNING
)


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


def make_engine(url: str, pool: DatabaseConfig | None = None) -> Engine:
    pool = pool or DatabaseConfig()
    sizing: dict[str, Any] = {
        "poolclass": TimedQueuePool,
        "pool_size": pool.pool_size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.pool_timeout,
    }
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        in_memory = not path or path == ":memory:"
        if not in_memory:
            _private_sqlite_file(Path(path))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if in_memory else sizing),  # one in-memory database per connection
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **sizing)


class Database:
    """Owns the engine and hands out transactional sessions."""

    def __init__(self, url: str, pool: DatabaseConfig | None = None) -> None:
        self.url = url
        self.pool = pool or DatabaseConfig()
        self.engine = make_engine(url, self.pool)
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
        try:
            with self._factory() as session, session.begin():
                yield session
                for hook in self.before_commit:
                    hook(session)
        except sa_exc.TimeoutError as exc:  # the pool stayed saturated for pool_timeout
            raise self.exhausted() from exc

    def in_shared_transaction(self) -> bool:
        """Whether this thread is inside `together()` (its sessions join one transaction)."""
        return getattr(self._joined, "session", None) is not None

    def exhausted(self) -> PoolExhausted:
        """The error for a pool that had no connection free within `pool_timeout`."""
        seconds = self.pool.pool_timeout
        return PoolExhausted(
            f"the database is busy: no connection came free within {seconds:g} s",
            retry_after=max(1, math.ceil(seconds)),
            pool_size=self.pool.pool_size + self.pool.max_overflow,
        )

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
