"""A business system's own tables: a branch of Alembic revisions in the system's folder,
upgraded with the core's chain (BusinessSystem.migrations, gateway/core/migrate.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from gateway.core.db import Database
from gateway.core.migrate import upgrade

BRANCH = """
from alembic import op
import sqlalchemy as sa

revision = "tst_0001"
down_revision = None
branch_labels = ("tst",)
depends_on = "0004_documents_key"


def upgrade() -> None:
    op.create_table("tst_notes", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("tst_notes")
"""


def test_a_systems_branch_is_upgraded_with_the_core(tmp_path: Path) -> None:
    folder = tmp_path / "versions"
    folder.mkdir()
    (folder / "tst_0001_notes.py").write_text(BRANCH)
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        upgrade(db, folders=[folder])
        upgrade(db, folders=[folder])  # at every start: nothing left to do
        tables = set(inspect(db.engine).get_table_names())
        assert {"tst_notes", "documents", "job_leases"} <= tables
    finally:
        db.dispose()
