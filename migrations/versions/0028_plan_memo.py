"""what a routine replan last found for each patient whose plan came out unchanged

``surveil replan --all`` reads every input of a patient's plan and triggers (facts, open items,
overrides, triggers and their consequences, the protocol in force), digests them, and skips
deriving the plan again when the digest is the one stored here and today falls between the day it
was stored and the first day the same inputs may plan differently (``core.horizon``). A new table:
nothing is rewritten, and without a row a patient is simply planned. A split run's claim rows
count the patients so skipped.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 08:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_memo",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.LargeBinary(length=16), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("holds_until", sa.Date(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.CheckConstraint("holds_until > checked_on", name=op.f("ck_plan_memo_span_ordered")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_plan_memo_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_plan_memo")),
    )
    with op.batch_alter_table("replan_claim") as batch:
        batch.add_column(sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("replan_claim") as batch:
        batch.drop_column("skipped")
    op.drop_table("plan_memo")
