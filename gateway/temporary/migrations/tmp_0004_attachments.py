"""temporary goods: a confirmation's attached documents (随附单证), PDFs with their digests

Revision ID: tmp_0004
Revises: tmp_0003 (branch temporary)
"""

import sqlalchemy as sa
from alembic import op

revision = "tmp_0004"
down_revision = "tmp_0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tmp_confirmation_attachments",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "confirmation_id", _ID, sa.ForeignKey("tmp_confirmations.id"), nullable=False
        ),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("confirmation_id", "sha256", name="uq_tmp_attachment_digest"),
    )
    op.create_index(
        "ix_tmp_confirmation_attachments_confirmation_id",
        "tmp_confirmation_attachments",
        ["confirmation_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_tmp_confirmation_attachments_confirmation_id",
        table_name="tmp_confirmation_attachments",
    )
    op.drop_table("tmp_confirmation_attachments")
