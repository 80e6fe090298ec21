"""an index of booked items in appointment order, for the worklist's booking sections

The three booking sections (booked outside the window, booked with no result, booked to come)
walked the index of every open item in window order looking for the booked ones: on the 100k
registry ~15-20 ms a statement on SQLite with none booked at all, six statements a page, which
put the worklist's p95 over its 150 ms target. Over booked items only, in the sections' own order
(appointment time, id), each reads its rows off the front. A plain new index: nothing is
rewritten.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 09:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BOOKED = "state = 'booked'"


def upgrade() -> None:
    op.create_index(
        "ix_followup_item_booked",
        "followup_item",
        ["booked_at", "id", "patient_id", "earliest", "latest"],
        sqlite_where=sa.text(_BOOKED),
        postgresql_where=sa.text(_BOOKED),
    )


def downgrade() -> None:
    op.drop_index("ix_followup_item_booked", table_name="followup_item")
