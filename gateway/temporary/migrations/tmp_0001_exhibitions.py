"""temporary goods: exhibition registrations and their change applications

Revision ID: tmp_0001
Branch: temporary (gateway/temporary/migrations), on the core's 0004_documents_key
"""

import sqlalchemy as sa
from alembic import op

revision = "tmp_0001"
down_revision = None
branch_labels = ("temporary",)
depends_on = "0004_documents_key"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tmp_exhibitions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", _ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("agent_code", sa.String(10), nullable=False),
        sa.Column("cop_no", sa.String(30), nullable=False),
        sa.Column("pre_entry_no", sa.String(16), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("exhibition_name", sa.String(200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("operator_name", sa.String(50), nullable=False),
        sa.Column("input_code", sa.String(18), nullable=False),
        sa.Column("input_name", sa.String(200), nullable=False),
        sa.Column("filled_at", _TS, nullable=False),
        sa.Column("declared_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("agent_code", "cop_no", name="uq_tmp_exhibition_key"),
        sa.UniqueConstraint("pre_entry_no", name="uq_tmp_exhibition_pre_entry_no"),
    )
    op.create_index(
        "ix_tmp_exhibitions_enterprise", "tmp_exhibitions", ["enterprise_id", "filled_at"]
    )
    op.create_table(
        "tmp_exhibition_changes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("exhibition_id", _ID, sa.ForeignKey("tmp_exhibitions.id"), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("filled_at", _TS, nullable=False),
        sa.Column("declared_at", _TS, nullable=True),
        sa.Column("applied_at", _TS, nullable=True),
        sa.UniqueConstraint("exhibition_id", "seq_no", name="uq_tmp_change_seq"),
    )


def downgrade() -> None:
    op.drop_table("tmp_exhibition_changes")
    op.drop_index("ix_tmp_exhibitions_enterprise", table_name="tmp_exhibitions")
    op.drop_table("tmp_exhibitions")
