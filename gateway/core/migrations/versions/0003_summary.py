"""summary declarations (R-ECX-8): inventory lists and lines for summaries, job store

Revision ID: 0003_summary
Revises: 0002_apt
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_summary"
down_revision = "0002_apt"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_AMOUNT = sa.Numeric(19, 5)
_PENDING = "summary_key IS NULL AND entry_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "summary_lists",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("enterprise_id", _ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("business_key", sa.String(300), nullable=False, unique=True),
        sa.Column("agent_code", sa.String(18), nullable=False),
        sa.Column("agent_name", sa.String(100), nullable=False),
        sa.Column("ebc_code", sa.String(18), nullable=False),
        sa.Column("ebc_name", sa.String(100), nullable=False),
        sa.Column("owner_code", sa.String(18), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("port_code", sa.String(4), nullable=False),
        sa.Column("traf_mode", sa.String(1), nullable=False),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("trade_mode", sa.String(4), nullable=False),
        sa.Column("statistics_flag", sa.String(1), nullable=False),
        sa.Column("logistics_no", sa.String(32), nullable=False),
        sa.Column("gross_weight", _AMOUNT, nullable=True),
        sa.Column("net_weight", _AMOUNT, nullable=True),
        sa.Column("invt_no", sa.String(20), nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("summary_key", sa.String(300), nullable=True),
        sa.Column("summarised_at", _TS, nullable=True),
        sa.Column("entry_id", sa.String(18), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_summary_lists_pending",
        "summary_lists",
        ["statistics_flag", "closed_at", "enterprise_id"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )
    op.create_index("ix_summary_lists_invt", "summary_lists", ["invt_no"])
    op.create_index("ix_summary_lists_summary", "summary_lists", ["summary_key"])
    op.create_table(
        "summary_list_items",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "list_id",
            _ID,
            sa.ForeignKey("summary_lists.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("gnum", sa.Integer(), nullable=False),
        sa.Column("gcode", sa.String(10), nullable=False),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("qty", _AMOUNT, nullable=True),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("qty1", _AMOUNT, nullable=True),
        sa.Column("unit1", sa.String(3), nullable=False),
        sa.Column("total_price", _AMOUNT, nullable=True),
        sa.Column("entry_id", sa.String(18), nullable=True),
        sa.Column("gseqno", sa.Integer(), nullable=True),
    )
    op.create_index("ix_summary_items_list", "summary_list_items", ["list_id"])
    # APScheduler's SQLAlchemy job store (gateway/summary/schedule.py), in its own layout:
    # made here so that several gateways starting together never race to create it.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_index("ix_summary_items_list", table_name="summary_list_items")
    op.drop_table("summary_list_items")
    for index in ("ix_summary_lists_summary", "ix_summary_lists_invt", "ix_summary_lists_pending"):
        op.drop_index(index, table_name="summary_lists")
    op.drop_table("summary_lists")
