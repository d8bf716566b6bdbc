"""ops console: the people who may log in to it

Revision ID: console_0001
Branch: console (gateway/core/console/migrations), on the core's 0005_tenants_keys_audit
"""

import sqlalchemy as sa
from alembic import op

revision = "console_0001"
down_revision = None
branch_labels = ("console",)
depends_on = "0005_tenants_keys_audit"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("password_set_at", _TS, nullable=False),
        sa.Column("disabled_at", _TS, nullable=True),
        sa.Column("last_login_at", _TS, nullable=True),
        sa.UniqueConstraint("name", name="uq_console_user_name"),
    )


def downgrade() -> None:
    op.drop_table("console_users")
