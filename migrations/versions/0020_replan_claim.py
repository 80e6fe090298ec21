"""replan claims: ranges of patient ids for `surveil replan --all --workers N` (issue 19)

New table ``replan_claim``: one row per range of patient ids of a run split between worker
processes on PostgreSQL; a worker holds its range's row lock (``FOR UPDATE SKIP LOCKED``) while it
plans it and marks it done in the same transaction. No existing table is touched.

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-05 04:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "replan_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run", _TEXT(length=36), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("worker", _TEXT(length=64), nullable=True),
        sa.Column("patients", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.Column("superseded", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("finished_at", _TIME(), nullable=True),
        sa.CheckConstraint("last_id >= first_id", name=op.f("ck_replan_claim_range_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replan_claim")),
        sa.UniqueConstraint("run", "first_id", name=op.f("uq_replan_claim_run_first_id")),
    )
    op.create_index(op.f("ix_replan_claim_run"), "replan_claim", ["run"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_replan_claim_run"), table_name="replan_claim")
    op.drop_table("replan_claim")
