"""HL7 v2 message store (issue 17)

New table ``hl7_message``: every message a hospital feed sent, stored before its ACK, unique on
(sender, control id) so a resent message changes nothing. No existing table is touched.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 00:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "hl7_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", _TEXT(length=200), nullable=False),
        sa.Column("control_id", _TEXT(length=200), nullable=False),
        sa.Column("kind", _TEXT(length=16), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("sha256", _TEXT(length=64), nullable=False),
        sa.Column("state", _TEXT(length=16), nullable=False),
        sa.Column("reason", _TEXT(length=1000), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("received_at", _TIME(), nullable=False),
        sa.Column("processed_at", _TIME(), nullable=True),
        sa.Column("resolved_by", _TEXT(length=64), nullable=True),
        sa.CheckConstraint(
            "state IN ('received', 'applied', 'queued', 'rejected', 'dismissed')",
            name=op.f("ck_hl7_message_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_hl7_message_patient_id_patient"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_message")),
        sa.UniqueConstraint("sender", "control_id", name=op.f("uq_hl7_message_sender_control_id")),
    )
    op.create_index("ix_hl7_message_state", "hl7_message", ["state", "id"], unique=False)
    op.create_index(
        op.f("ix_hl7_message_patient_id"), "hl7_message", ["patient_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_hl7_message_patient_id"), table_name="hl7_message")
    op.drop_index("ix_hl7_message_state", table_name="hl7_message")
    op.drop_table("hl7_message")
