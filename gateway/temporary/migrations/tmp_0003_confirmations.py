"""temporary goods: review confirmations (暂时进出境审核确认)

Revision ID: tmp_0003
Revises: tmp_0002 (branch temporary)
"""

import sqlalchemy as sa
from alembic import op

revision = "tmp_0003"
down_revision = "tmp_0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tmp_confirmations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", _ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("agent_code", sa.String(10), nullable=False),
        sa.Column("cop_no", sa.String(30), nullable=False),
        sa.Column("pre_entry_no", sa.String(16), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("exhibition_id", _ID, sa.ForeignKey("tmp_exhibitions.id"), nullable=True),
        sa.Column("exhibition_no", sa.String(20), nullable=False),
        sa.Column("ie_date", sa.String(8), nullable=False),
        sa.Column("return_date", sa.String(8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("goods", sa.JSON(), nullable=False),
        sa.Column("operator_name", sa.String(50), nullable=False),
        sa.Column("input_code", sa.String(18), nullable=False),
        sa.Column("input_name", sa.String(200), nullable=False),
        sa.Column("review_remarks", sa.String(5000), nullable=False),
        sa.Column("close_date", sa.String(8), nullable=False),
        sa.Column("filled_at", _TS, nullable=False),
        sa.Column("declared_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("agent_code", "cop_no", name="uq_tmp_confirmation_key"),
        sa.UniqueConstraint("pre_entry_no", name="uq_tmp_confirmation_pre_entry_no"),
    )
    op.create_index(
        "ix_tmp_confirmations_enterprise", "tmp_confirmations", ["enterprise_id", "filled_at"]
    )
    op.create_index("ix_tmp_confirmations_exhibition_id", "tmp_confirmations", ["exhibition_id"])


def downgrade() -> None:
    op.drop_index("ix_tmp_confirmations_exhibition_id", table_name="tmp_confirmations")
    op.drop_index("ix_tmp_confirmations_enterprise", table_name="tmp_confirmations")
    op.drop_table("tmp_confirmations")
