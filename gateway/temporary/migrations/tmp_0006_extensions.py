"""temporary goods: extensions (延期申报) of approved review confirmations

Revision ID: tmp_0006
Revises: tmp_0005 (branch temporary)
"""

import sqlalchemy as sa
from alembic import op

revision = "tmp_0006"
down_revision = "tmp_0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tmp_extensions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", _ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("agent_code", sa.String(10), nullable=False),
        sa.Column("cop_no", sa.String(30), nullable=False),
        sa.Column("pre_entry_no", sa.String(16), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("confirmation_id", _ID, sa.ForeignKey("tmp_confirmations.id"), nullable=True),
        sa.Column("confirm_no", sa.String(20), nullable=False),
        sa.Column("extend_date", sa.String(8), nullable=False),
        sa.Column("approval_no", sa.String(50), nullable=False),
        sa.Column("previous_date", sa.String(8), nullable=False),
        sa.Column("allowed_date", sa.String(8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("operator_name", sa.String(50), nullable=False),
        sa.Column("input_code", sa.String(18), nullable=False),
        sa.Column("input_name", sa.String(200), nullable=False),
        sa.Column("review_remarks", sa.String(5000), nullable=False),
        sa.Column("filled_at", _TS, nullable=False),
        sa.Column("declared_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("agent_code", "cop_no", name="uq_tmp_extension_key"),
        sa.UniqueConstraint("pre_entry_no", name="uq_tmp_extension_pre_entry_no"),
    )
    op.create_index(
        "ix_tmp_extensions_enterprise", "tmp_extensions", ["enterprise_id", "filled_at"]
    )
    op.create_index("ix_tmp_extensions_confirmation_id", "tmp_extensions", ["confirmation_id"])


def downgrade() -> None:
    op.drop_index("ix_tmp_extensions_confirmation_id", table_name="tmp_extensions")
    op.drop_index("ix_tmp_extensions_enterprise", table_name="tmp_extensions")
    op.drop_table("tmp_extensions")
