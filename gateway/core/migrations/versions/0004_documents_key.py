"""documents: a plain index on (kind, business_key)

Receipt correlation asks for the live record first, which the partial unique index answers;
a receipt for a deleted or unknown record then asks again without the status condition, and
that query could only scan the table. This index serves it (and the export queries by key).

Revision ID: 0004_documents_key
Revises: 0003_summary
"""

from alembic import op

revision = "0004_documents_key"
down_revision = "0003_summary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_key", "documents", ["kind", "business_key"])


def downgrade() -> None:
    op.drop_index("ix_documents_key", table_name="documents")
