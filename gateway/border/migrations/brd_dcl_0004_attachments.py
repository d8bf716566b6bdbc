"""border trade, declarations side: the declarants' uploaded attachments (随附单证)

Revision ID: brd_dcl_0004
Branch: border.
"""

import sqlalchemy as sa
from alembic import op

revision = "brd_dcl_0004"
down_revision = "brd_dcl_0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "brd_attachments",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("declarant_type", sa.String(1), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(100), nullable=False),
        sa.Column("doc_type", sa.String(10), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("id_number", "declarant_type", "sha256", name="uq_brd_attachment"),
    )


def downgrade() -> None:
    op.drop_table("brd_attachments")
