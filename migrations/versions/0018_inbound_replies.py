"""Patients' replies to reminders and stopped channels (issue 18 point 3)

New tables ``inbound_reply`` (every answer, unique on its provider message id or link-token
hash, so it is applied once) and ``channel_opt_out`` (a patient's STOP on one channel). No
existing table is touched.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-05 03:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime
_KINDS = "'confirm', 'call_me', 'stop', 'start', 'unrecognised'"


def upgrade() -> None:
    op.create_table(
        "inbound_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", _TEXT(length=200), nullable=False),
        sa.Column("channel", _TEXT(length=8), nullable=False),
        sa.Column("kind", _TEXT(length=16), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("reminder_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("text", _TEXT(length=480), nullable=False),
        sa.Column("received_at", _TIME(), nullable=False),
        sa.Column("needs_action", sa.Boolean(), nullable=False),
        sa.Column("handled_at", _TIME(), nullable=True),
        sa.Column("handled_by", _TEXT(length=64), nullable=True),
        sa.Column("handled_note", _TEXT(length=500), nullable=False),
        sa.CheckConstraint(f"kind IN ({_KINDS})", name=op.f("ck_inbound_reply_kind_valid")),
        sa.CheckConstraint(
            "channel IN ('email', 'sms')", name=op.f("ck_inbound_reply_channel_valid")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"],
            name=op.f("fk_inbound_reply_patient_id_patient"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reminder_id"], ["reminder.id"],
            name=op.f("fk_inbound_reply_reminder_id_reminder"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["followup_item.id"],
            name=op.f("fk_inbound_reply_item_id_followup_item"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_reply")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_inbound_reply_dedupe_key")),
    )  # fmt: skip
    for column in ("patient_id", "reminder_id", "item_id"):
        op.create_index(op.f(f"ix_inbound_reply_{column}"), "inbound_reply", [column])
    op.create_index(
        "ix_inbound_reply_open", "inbound_reply", ["needs_action", "handled_at", "received_at"]
    )
    op.create_table(
        "channel_opt_out",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("channel", _TEXT(length=8), nullable=False),
        sa.Column("since", _TIME(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "channel IN ('email', 'sms')", name=op.f("ck_channel_opt_out_channel_valid")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"],
            name=op.f("fk_channel_opt_out_patient_id_patient"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reply_id"], ["inbound_reply.id"],
            name=op.f("fk_channel_opt_out_reply_id_inbound_reply"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("patient_id", "channel", name=op.f("pk_channel_opt_out")),
    )  # fmt: skip
    op.create_index(op.f("ix_channel_opt_out_reply_id"), "channel_opt_out", ["reply_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_opt_out_reply_id"), table_name="channel_opt_out")
    op.drop_table("channel_opt_out")
    op.drop_index("ix_inbound_reply_open", table_name="inbound_reply")
    for column in ("patient_id", "reminder_id", "item_id"):
        op.drop_index(op.f(f"ix_inbound_reply_{column}"), table_name="inbound_reply")
    op.drop_table("inbound_reply")
