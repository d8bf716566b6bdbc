"""webhook_deliveries and alert_states: status changes posted to enterprises' webhooks, and
the alerts ops were told of (issue 17, items 2 and 3)

`webhook_deliveries` is an outbox of its own: a row is written in the transaction that
changes a record's status, so a crash never loses a change nor posts one that was rolled back
(docs/webhooks.md). `alert_states` holds the alerts currently raised, one row per alert and
subject, so a raise and a clear are each told to the ops webhook once, whichever process
evaluates them (docs/alerts.md).

Revision ID: 0007_webhooks_alerts
Revises: 0006_documents_stored_at
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_webhooks_alerts"
down_revision = "0006_documents_stored_at"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, primary_key=True),
        sa.Column("delivery_id", sa.String(36), nullable=False, unique=True),
        sa.Column("target", sa.String(40), nullable=False),
        sa.Column("enterprise_id", ID, sa.ForeignKey("enterprises.id"), nullable=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_webhook_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "alert_states",
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("alert", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("alert_states")
    op.drop_index("ix_webhook_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
