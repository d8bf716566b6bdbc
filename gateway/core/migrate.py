"""Run the Alembic migrations programmatically (no alembic.ini needed by operators)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from gateway.core.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run at every start and from several processes."""
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        if not db.is_sqlite:
            # Two processes starting together must not both create the tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7263001)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
