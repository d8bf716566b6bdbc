"""documents.stored_at: when customs stored the record (issue 16, gap 6)

The returnTime (Beijing time) of the receipt that moved the record to `stored` — what the
manuals call 入库时间 and bound their queries by (R-COM-7). Existing records take it from their
history: the newest applied customs step to `stored` that carries a returnTime.

Revision ID: 0006_documents_stored_at
Revises: 0005_tenants_keys_audit
"""

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision = "0006_documents_stored_at"
down_revision = "0005_tenants_keys_audit"
branch_labels = None
depends_on = None

BEIJING = timezone(timedelta(hours=8))


def _stored_at(return_time: str) -> datetime | None:
    """yyyyMMddHHmmss[fff], Beijing time, as UTC; None if it is no time."""
    text = (return_time or "").strip()
    if len(text) not in (14, 17) or not text.isdigit():
        return None
    try:
        stamp = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    millis = int(text[14:] or "0")
    return stamp.replace(microsecond=millis * 1000, tzinfo=BEIJING).astimezone(UTC)


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    history = sa.table(
        "status_history",
        sa.column("id", sa.BigInteger),
        sa.column("document_id", sa.BigInteger),
        sa.column("to_status", sa.String),
        sa.column("source", sa.String),
        sa.column("return_time", sa.String),
        sa.column("applied", sa.Boolean),
    )
    documents = sa.table(
        "documents", sa.column("id", sa.BigInteger), sa.column("stored_at", sa.DateTime(True))
    )
    rows = bind.execute(
        sa.select(history.c.document_id, history.c.return_time)
        .where(
            history.c.to_status == "stored",
            history.c.source == "customs",
            history.c.applied.is_(True),
            history.c.return_time.is_not(None),
        )
        .order_by(history.c.id)
    )
    newest: dict[int, datetime] = {}
    for doc_id, return_time in rows:
        at = _stored_at(return_time)
        if at is not None:
            newest[doc_id] = at  # ordered by id: the last step to stored wins
    update = documents.update().where(documents.c.id == sa.bindparam("d_id"))
    params = [{"d_id": k, "d_at": v} for k, v in newest.items()]
    for start in range(0, len(params), 1000):
        bind.execute(update.values(stored_at=sa.bindparam("d_at")), params[start : start + 1000])


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("stored_at")
