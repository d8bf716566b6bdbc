"""border trade, declarations side: customs' declaration number on the declaration's row

Revision ID: brd_dcl_0002
Branch: border. A change or revoke names its original by 申报单编号 and the documents page
filters by it: kept on the row (from customs' receipt) so both are one indexed look-up.
"""

import sqlalchemy as sa
from alembic import op

revision = "brd_dcl_0002"
down_revision = "brd_dcl_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("brd_declarations", sa.Column("decl_no", sa.String(18), nullable=True))
    op.create_index("ix_brd_declarations_decl_no", "brd_declarations", ["decl_no"])


def downgrade() -> None:
    op.drop_index("ix_brd_declarations_decl_no", table_name="brd_declarations")
    op.drop_column("brd_declarations", "decl_no")
