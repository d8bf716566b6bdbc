"""tenants, keys and the ops audit (issue 11: findings 3, 5, 16)

- `delegations`: the party codes an enterprise is registered to declare for (R-COM-3).
- `documents.key_scope`: the owner's id for kinds whose standard business key names no
  enterprise (copNo + msgSeqNo: arrival, departure, waybill list, summary), 0 for the others;
  the live-key unique index takes it in, so two enterprises may use the same copNo.
- `api_keys`: expiry, a display prefix, a label and who made the key. Digests are now
  HMAC-SHA256 under a server secret; the old unsalted SHA-256 rows can never match again and
  are revoked here (config-listed keys are registered again at start).
- `audit_log`: every ops action, who did it and how it ended.

Revision ID: 0005_tenants_keys_audit
Revises: 0004_documents_key
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_tenants_keys_audit"
down_revision = "0004_documents_key"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE = sa.text("status != 'deleted'")
#: the kinds keyed by (copNo, msgSeqNo) when this revision was written
PER_OWNER_KINDS = ("arrival", "departure", "waybill_total", "summary")


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", ID, nullable=False),
        sa.Column("enterprise_id", ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("party_code", sa.String(18), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enterprise_id", "party_code", name="uq_delegation"),
    )
    _documents_key_scope()
    _api_keys()
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"])


def _documents_key_scope() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("key_scope", ID, nullable=False, server_default="0"))
        batch.drop_index("uq_documents_live_key", sqlite_where=LIVE, postgresql_where=LIVE)
    kinds = ", ".join(f"'{k}'" for k in PER_OWNER_KINDS)
    op.execute(f"UPDATE documents SET key_scope = enterprise_id WHERE kind IN ({kinds})")  # noqa: S608 - constant names
    op.create_index(
        "uq_documents_live_key",
        "documents",
        ["kind", "business_key", "key_scope"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def _api_keys() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("prefix", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("label", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("created_by", sa.String(100), nullable=False, server_default=""))
    op.execute("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL")


def downgrade() -> None:
    op.drop_index("ix_audit_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("api_keys") as batch:
        for name in ("created_by", "label", "prefix", "expires_at"):
            batch.drop_column(name)
    op.drop_index("uq_documents_live_key", table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("key_scope")
    op.create_index(
        "uq_documents_live_key",
        "documents",
        ["kind", "business_key"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
    op.drop_table("delegations")
