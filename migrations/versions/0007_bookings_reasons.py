"""booking attempts (kept when cancelled or missed) and coded reasons for declines, not-needed,
snoozes, overrides, outside-window bookings and reopenings (issue 14); new tables only

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:21:47.316336

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coded_reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_coded_reason_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coded_reason")),
    )
    op.create_index(
        "ix_coded_reason_action_rule", "coded_reason", ["action", "rule_id"], unique=False
    )
    op.create_index(
        op.f("ix_coded_reason_patient_id"), "coded_reason", ["patient_id"], unique=False
    )

    op.create_table(
        "booking_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("booked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("placement", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("reason_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("reason_text", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("booked_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ended_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("end_note", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "placement IN ('inside', 'before', 'after')",
            name=op.f("ck_booking_attempt_placement_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'done', 'cancelled', 'no_show', 'reopened')",
            name=op.f("ck_booking_attempt_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["followup_item.id"],
            name=op.f("fk_booking_attempt_item_id_followup_item"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_booking_attempt_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_attempt")),
    )
    op.create_index(
        "ix_booking_attempt_item_status", "booking_attempt", ["item_id", "status"], unique=False
    )
    op.create_index(
        op.f("ix_booking_attempt_patient_id"), "booking_attempt", ["patient_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("booking_attempt")
    op.drop_table("coded_reason")
