"""index the two foreign keys that had none (superseded_by_id, trigger.item_id), where set

Without them, deleting a follow-up item scans every item and trigger ever stored to find the rows
pointing at it (ON DELETE SET NULL): 14 minutes for the benchmark's clean-up on the 100k registry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_followup_item_superseded_by", "followup_item", "superseded_by_id"),
    ("ix_trigger_item", "trigger", "item_id"),
)


def upgrade() -> None:
    for name, table, column in _INDEXES:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, table, [column], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, table, _ in _INDEXES:
        op.drop_index(name, table_name=table)
