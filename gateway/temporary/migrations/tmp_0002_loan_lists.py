"""temporary goods: loaned-exhibit lists and the customs declarations linked to exhibitions

Revision ID: tmp_0002
Revises: tmp_0001 (branch temporary)
"""

import sqlalchemy as sa
from alembic import op

revision = "tmp_0002"
down_revision = "tmp_0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_QTY = sa.Numeric(19, 5)
_MONEY = sa.Numeric(19, 4)


def upgrade() -> None:
    op.create_table(
        "tmp_declaration_goods",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("exhibition_no", sa.String(20), nullable=False),
        sa.Column("entry_id", sa.String(18), nullable=False),
        sa.Column("item_no", sa.Integer(), nullable=False),
        sa.Column("hs_code", sa.String(10), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("qty", _QTY, nullable=False),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("qty1", _QTY, nullable=True),
        sa.Column("unit1", sa.String(3), nullable=False),
        sa.Column("qty2", _QTY, nullable=True),
        sa.Column("unit2", sa.String(3), nullable=False),
        sa.Column("price", _MONEY, nullable=False),
        sa.Column("total", _MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("origin", sa.String(3), nullable=False),
        sa.Column("licences", sa.String(100), nullable=False),
        sa.UniqueConstraint("entry_id", "item_no", name="uq_tmp_decl_goods_line"),
    )
    op.create_index(
        "ix_tmp_declaration_goods_exhibition_no", "tmp_declaration_goods", ["exhibition_no"]
    )
    op.create_table(
        "tmp_loan_lists",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", _ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("agent_code", sa.String(10), nullable=False),
        sa.Column("cop_no", sa.String(30), nullable=False),
        sa.Column("pre_entry_no", sa.String(16), nullable=False),
        sa.Column("exhibition_id", _ID, sa.ForeignKey("tmp_exhibitions.id"), nullable=False),
        sa.Column("exhibition_no", sa.String(20), nullable=False),
        sa.Column("exhibition_name", sa.String(200), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("operator_name", sa.String(50), nullable=False),
        sa.Column("input_code", sa.String(18), nullable=False),
        sa.Column("input_name", sa.String(200), nullable=False),
        sa.Column("filled_at", _TS, nullable=False),
        sa.Column("declared_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("agent_code", "cop_no", name="uq_tmp_loan_key"),
        sa.UniqueConstraint("pre_entry_no", name="uq_tmp_loan_pre_entry_no"),
    )
    op.create_index(
        "ix_tmp_loan_lists_enterprise", "tmp_loan_lists", ["enterprise_id", "filled_at"]
    )
    op.create_index("ix_tmp_loan_lists_exhibition_id", "tmp_loan_lists", ["exhibition_id"])
    op.create_table(
        "tmp_loan_goods",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("loan_list_id", _ID, sa.ForeignKey("tmp_loan_lists.id"), nullable=False),
        sa.Column("g_no", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(18), nullable=False),
        sa.Column("item_no", sa.Integer(), nullable=False),
        sa.Column("qty", _QTY, nullable=False),
        sa.UniqueConstraint("loan_list_id", "g_no", name="uq_tmp_loan_goods_no"),
    )
    op.create_index("ix_tmp_loan_goods_line", "tmp_loan_goods", ["entry_id", "item_no"])


def downgrade() -> None:
    op.drop_index("ix_tmp_loan_goods_line", table_name="tmp_loan_goods")
    op.drop_table("tmp_loan_goods")
    op.drop_index("ix_tmp_loan_lists_exhibition_id", table_name="tmp_loan_lists")
    op.drop_index("ix_tmp_loan_lists_enterprise", table_name="tmp_loan_lists")
    op.drop_table("tmp_loan_lists")
    op.drop_index("ix_tmp_declaration_goods_exhibition_no", table_name="tmp_declaration_goods")
    op.drop_table("tmp_declaration_goods")
