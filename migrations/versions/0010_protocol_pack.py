"""protocol pack 2027.1: the protocol activation log

Adds ``protocol_activation``: which pack version and profile a clinic plans with, from which
date, approved by which clinician. Append-only: a rollback is a new row. A new table only; no
existing table is touched.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "protocol_activation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic", _TEXT(length=64), nullable=False),
        sa.Column("pack_id", _TEXT(length=64), nullable=False),
        sa.Column("version", _TEXT(length=32), nullable=False),
        sa.Column("profile", _TEXT(length=64), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("action", _TEXT(length=16), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by", _TEXT(length=64), nullable=False),
        sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("previous_version", _TEXT(length=32), nullable=True),
        sa.Column("previous_profile", _TEXT(length=64), nullable=True),
        sa.CheckConstraint(
            "action IN ('activate', 'rollback')", name=op.f("ck_protocol_activation_action_valid")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["user_account.id"],
            name=op.f("fk_protocol_activation_approved_by_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_activation")),
    )
    op.create_index(
        "ix_protocol_activation_in_force",
        "protocol_activation",
        ["clinic", "pack_id", "effective_on", "id"],
    )
    op.create_index(
        op.f("ix_protocol_activation_approved_by_id"), "protocol_activation", ["approved_by_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_protocol_activation_approved_by_id"), table_name="protocol_activation")
    op.drop_index("ix_protocol_activation_in_force", table_name="protocol_activation")
    op.drop_table("protocol_activation")
