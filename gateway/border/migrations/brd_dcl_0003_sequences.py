"""border trade, declarations side: the pre-entry number sequences

Revision ID: brd_dcl_0003
Branch: border. A pre-entry number (YYYY + 01/03 + 12 digits) is taken from a counter row per
year and form, incremented in its own short transaction: terminals declaring at once never
draw the same number (a max()+1 read raced, and retries ran out under load).
"""

import sqlalchemy as sa
from alembic import op

revision = "brd_dcl_0003"
down_revision = "brd_dcl_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brd_sequences",
        sa.Column("prefix", sa.String(6), primary_key=True),
        sa.Column("last", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("brd_sequences")
