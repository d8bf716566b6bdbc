"""border trade, people side: residents, groups and cooperatives, terminals, officers,
sessions and encrypted biometric templates (R-BDR-1, R-BDR-2, R-BDR-3)

Revision ID: brd_reg_0001
Branch: border_people (gateway/border/migrations), on the core's 0006_documents_stored_at and
the declarations side's brd_dcl_0001 (its brd_places, which terminals stand at).
"""

import sqlalchemy as sa
from alembic import op

revision = "brd_reg_0001"
down_revision = None
branch_labels = ("border_people",)
depends_on = ("0006_documents_stored_at", "brd_dcl_0001")

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "brd_residents",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("id_number", sa.String(18), nullable=False, unique=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("district", sa.String(4), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("id_valid_from", sa.Date(), nullable=False),
        sa.Column("id_valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(1), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("registration_valid_to", sa.Date(), nullable=False),
        sa.Column("biometrics", sa.String(1), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("synced", sa.Boolean(), nullable=False),
        sa.Column("last_operation_at", _TS, nullable=False),
    )
    op.create_index("ix_brd_residents_query", "brd_residents", ["district", "last_operation_at"])
    op.create_table(
        "brd_organisations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("registration_no", sa.String(30), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("district", sa.String(4), nullable=False),
        sa.Column("representative_id", _ID, sa.ForeignKey("brd_residents.id"), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "brd_members",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("organisation_id", _ID, sa.ForeignKey("brd_organisations.id"), nullable=False),
        sa.Column("resident_id", _ID, sa.ForeignKey("brd_residents.id"), nullable=False),
        sa.UniqueConstraint("organisation_id", "resident_id", name="uq_brd_member"),
    )
    op.create_table(
        "brd_terminals",
        sa.Column("terminal_id", sa.String(40), primary_key=True),
        sa.Column("place_code", sa.String(20), sa.ForeignKey("brd_places.place_code"),
                  nullable=False),
        sa.Column("reader", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )  # fmt: skip
    op.create_table(
        "brd_officers",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("officer_no", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("district", sa.String(4), nullable=False),
        sa.Column("card_number", sa.String(30), nullable=False, unique=True),
        sa.Column("cert_sha256", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "brd_sessions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("terminal_id", sa.String(40), sa.ForeignKey("brd_terminals.terminal_id"),
                  nullable=True),
        sa.Column("resident_id", _ID, sa.ForeignKey("brd_residents.id"), nullable=True),
        sa.Column("officer_id", _ID, sa.ForeignKey("brd_officers.id"), nullable=True),
        sa.Column("role", sa.String(1), nullable=True),
        sa.Column("organisation_id", _ID, sa.ForeignKey("brd_organisations.id"), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=True),
    )  # fmt: skip
    op.create_table(
        "brd_templates",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("resident_id", _ID, sa.ForeignKey("brd_residents.id"), nullable=False),
        sa.Column("slot", sa.String(10), nullable=False),
        sa.Column("finger", sa.Integer(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("enrolled_at", _TS, nullable=False),
        sa.Column("enrolled_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("resident_id", "slot", name="uq_brd_template_slot"),
    )


def downgrade() -> None:
    op.drop_table("brd_templates")
    op.drop_table("brd_sessions")
    op.drop_table("brd_officers")
    op.drop_table("brd_terminals")
    op.drop_table("brd_members")
    op.drop_table("brd_organisations")
    op.drop_index("ix_brd_residents_query", table_name="brd_residents")
    op.drop_table("brd_residents")
