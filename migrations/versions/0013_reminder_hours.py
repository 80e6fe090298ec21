"""reminders at the patient's hours: a preferred send window per patient

Adds ``patient.send_window_start`` and ``patient.send_window_end`` (local times, both or
neither), nullable: existing patients keep the clinic's send time. Plain ``add_column`` (no
batch rebuild of ``patient``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 00:15:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("patient", sa.Column("send_window_start", sa.Time(), nullable=True))
    op.add_column("patient", sa.Column("send_window_end", sa.Time(), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place; no rebuild of the table.
    op.drop_column("patient", "send_window_end")
    op.drop_column("patient", "send_window_start")
