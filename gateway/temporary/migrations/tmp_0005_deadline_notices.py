"""temporary goods: the deadline job's reminders (R-TMP-7), one per confirmation, date, lead

Revision ID: tmp_0005
Revises: tmp_0004 (branch temporary)
"""

import sqlalchemy as sa
from alembic import op

revision = "tmp_0005"
down_revision = "tmp_0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tmp_deadline_notices",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("confirmation_id", _ID, sa.ForeignKey("tmp_confirmations.id"), nullable=False),
        sa.Column("due_date", sa.String(8), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "confirmation_id", "due_date", "lead_days", name="uq_tmp_deadline_notice"
        ),
    )


def downgrade() -> None:
    op.drop_table("tmp_deadline_notices")
