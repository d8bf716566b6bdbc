"""cross-border export: loaded customs code tables and the B2B customs declarations

Revision ID: ecx_0001
Branch: ecx (gateway/ecx/migrations), on the core's 0004_documents_key
"""

import sqlalchemy as sa
from alembic import op

revision = "ecx_0001"
down_revision = None
branch_labels = ("ecx",)
depends_on = "0004_documents_key"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # gateway/ecx/codetables.py: a table loaded over the shipped one (issue #16 gap 9)
    op.create_table(
        "ecx_code_entries",
        sa.Column("table_name", sa.String(20), primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "ecx_code_tables",
        sa.Column("table_name", sa.String(20), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("loaded_at", _TS, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
    )
    # gateway/ecx/declarations.py: B2B customs declarations (报关单, R-ECX-9)
    op.create_table(
        "ecx_declarations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", _ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("seq_no", sa.String(18), nullable=False),
        sa.Column("entry_id", sa.String(18), nullable=True),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("ie_port", sa.String(4), nullable=False),
        sa.Column("trade_mode", sa.String(4), nullable=False),
        sa.Column("business_type", sa.String(1), nullable=False),
        sa.Column("status", sa.String(3), nullable=False),
        sa.Column("summary_state", sa.String(12), nullable=False),
        sa.Column("declared_at", _TS, nullable=False),
        sa.Column("stored_at", _TS, nullable=False),
        sa.Column("customs_updated_at", _TS, nullable=False),
        sa.Column("invt_no", sa.String(200), nullable=False),
        sa.Column("cop_no", sa.String(200), nullable=False),
        sa.Column("consignor_code", sa.String(200), nullable=False),
        sa.Column("head", sa.JSON(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("receipt_id", _ID, sa.ForeignKey("receipts.id"), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("seq_no", name="uq_ecx_declarations_seq_no"),
    )
    op.create_index(
        "ix_ecx_declarations_stored", "ecx_declarations", ["enterprise_id", "stored_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_ecx_declarations_stored", table_name="ecx_declarations")
    op.drop_table("ecx_declarations")
    op.drop_table("ecx_code_tables")
    op.drop_table("ecx_code_entries")
