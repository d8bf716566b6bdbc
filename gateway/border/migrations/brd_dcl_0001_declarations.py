"""border trade, declarations side: supervised places, goods catalogue, declarations, delegates

Revision ID: brd_dcl_0001
Branch: border (gateway/border/migrations), on the core's 0006_documents_stored_at. The
people side's revisions (brd_reg_*) are branch "border_people" in the same folder.
"""

import sqlalchemy as sa
from alembic import op

revision = "brd_dcl_0001"
down_revision = None
branch_labels = ("border",)
depends_on = "0006_documents_stored_at"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "brd_places",
        sa.Column("place_code", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("district", sa.String(4), nullable=False),
        sa.Column("operator_code", sa.String(18), nullable=False),
        sa.Column("method", sa.String(12), nullable=False),
    )
    op.create_table(
        "brd_goods_catalogue",
        sa.Column("goods_code", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("unit", sa.String(10), nullable=False),
    )
    op.create_table(
        "brd_declarations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("form", sa.String(2), nullable=False),
        sa.Column("decl_type", sa.String(2), nullable=False),
        sa.Column("pre_entry_no", sa.String(18), nullable=False),
        sa.Column("district", sa.String(4), nullable=False),
        sa.Column("place_code", sa.String(20), nullable=False),
        sa.Column("business_mode", sa.String(2), nullable=False),
        sa.Column("transport_mode", sa.String(1), nullable=False),
        sa.Column("declarant_type", sa.String(1), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("declarant_name", sa.String(50), nullable=False),
        sa.Column("terminal_id", sa.String(30), nullable=False),
        sa.Column("original_id", _ID, sa.ForeignKey("brd_declarations.id"), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("verification", sa.JSON(), nullable=True),
        sa.Column("review_opinion", sa.String(2000), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("declared_at", _TS, nullable=True),
        sa.Column("auth_deadline", _TS, nullable=True),
        sa.UniqueConstraint("pre_entry_no", name="uq_brd_pre_entry_no"),
    )
    op.create_index("ix_brd_declarations_person", "brd_declarations", ["id_number", "form"])
    op.create_table(
        "brd_delegates",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("declaration_id", _ID, sa.ForeignKey("brd_declarations.id"), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=True),
        sa.UniqueConstraint("declaration_id", "id_number", name="uq_brd_delegate"),
    )


def downgrade() -> None:
    op.drop_table("brd_delegates")
    op.drop_index("ix_brd_declarations_person", table_name="brd_declarations")
    op.drop_table("brd_declarations")
    op.drop_table("brd_goods_catalogue")
    op.drop_table("brd_places")
