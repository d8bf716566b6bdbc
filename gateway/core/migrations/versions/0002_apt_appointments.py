"""appointment clearance: reference data, appointments, job leases

Revision ID: 0002_apt
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_apt"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "apt_enterprises",
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("ciq_code", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("credit_class", sa.String(20), nullable=False),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.Column("dishonest", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "apt_ports",
        sa.Column("code", sa.String(4), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("work_start", sa.String(5), nullable=False),
        sa.Column("work_end", sa.String(5), nullable=False),
    )
    op.create_table(
        "apt_calendar",
        sa.Column("port_code", sa.String(4), sa.ForeignKey("apt_ports.code"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("work_start", sa.String(5), nullable=True),
        sa.Column("work_end", sa.String(5), nullable=True),
        sa.Column("note", sa.String(100), nullable=True),
    )
    op.create_table(
        "apt_tariff",
        sa.Column("hs_code", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "apt_declarations",
        sa.Column("entry_id", sa.String(18), primary_key=True),
        sa.Column("ie_flag", sa.String(1), nullable=False),
        sa.Column("declarant_code", sa.String(10), nullable=False),
        sa.Column("consignee_code", sa.String(10), nullable=False),
        sa.Column("decl_port", sa.String(4), nullable=False),
        sa.Column("ie_port", sa.String(4), nullable=False),
        sa.Column("declared_at", _TS, nullable=False),
    )
    op.create_table(
        "apt_appointments",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("enterprise_id", _ID, sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("declarant_code", sa.String(10), nullable=False),
        sa.Column("cop_no", sa.String(30), nullable=False),
        sa.Column("declarant_name", sa.String(200), nullable=False),
        sa.Column("consignee_code", sa.String(10), nullable=False),
        sa.Column("consignee_name", sa.String(200), nullable=False),
        sa.Column("decl_port", sa.String(4), nullable=False),
        sa.Column("ie_port", sa.String(4), nullable=False),
        sa.Column("ie_flag", sa.String(1), nullable=False),
        sa.Column("start_at", _TS, nullable=False),
        sa.Column("end_at", _TS, nullable=False),
        sa.Column("applied_at", _TS, nullable=False),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("reminded_at", _TS, nullable=True),
        sa.Column("overdue_at", _TS, nullable=True),
        sa.UniqueConstraint("declarant_code", "cop_no", name="uq_apt_key"),
    )
    op.create_index("ix_apt_consignee", "apt_appointments", ["consignee_code"])
    op.create_index("ix_apt_start", "apt_appointments", ["start_at"])
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("last_run_at", _TS, nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    for index in ("ix_apt_start", "ix_apt_consignee"):
        op.drop_index(index, table_name="apt_appointments")
    for table in (
        "job_leases",
        "apt_appointments",
        "apt_declarations",
        "apt_tariff",
        "apt_calendar",
        "apt_ports",
        "apt_enterprises",
    ):
        op.drop_table(table)
