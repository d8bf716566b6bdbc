"""Run the Alembic migrations programmatically (no alembic.ini needed by operators).

The core's revisions are one chain in `migrations/versions`. A business system with tables
of its own keeps its revisions in its own folder (`BusinessSystem.migrations`) as a branch
of its own (`branch_labels = ("<system>",)`, its first revision `down_revision = None` and
`depends_on` the core revision it builds on), so systems add tables without touching the
core's chain; `upgrade` brings every installed branch to its head.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from gateway.core import registry
from gateway.core.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: the ops console's own table (its users), a branch like a system's (gateway/core/console/)
CONSOLE_MIGRATIONS = Path(__file__).resolve().parent / "console" / "migrations"


def alembic_config(url: str, folders: Sequence[Path] | None = None) -> AlembicConfig:
    """Alembic's configuration: the core's chain plus each system's folder (`folders`; by
    default those of the installed systems)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")  # alembic ≥ 1.16; the older name below
    cfg.set_main_option("version_path_separator", "os")
    systems = _system_folders() if folders is None else folders
    locations = [MIGRATIONS / "versions", CONSOLE_MIGRATIONS, *systems]
    cfg.set_main_option("version_locations", os.pathsep.join(str(f) for f in locations))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _system_folders() -> list[Path]:
    systems = registry.installed().systems.values()
    return [s.migrations for s in systems if s.migrations is not None]


def upgrade(db: Database, revision: str = "heads", folders: Sequence[Path] | None = None) -> None:
    """Bring the schema to `revision` (every branch's head by default); safe to run at every
    start and from several processes."""
    cfg = alembic_config(db.url, folders)
    with db.engine.begin() as conn:
        if not db.is_sqlite:
            # Two processes starting together must not both create the tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7263001)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
