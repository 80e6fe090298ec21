"""protocol activations dated later are applied by the daemon: when and by which worker

Adds ``applied_at`` (nullable; NULL on a row dated later means "pending") and ``applied_by`` to
``protocol_activation``. The daemon's leader claims a pending row with a conditional update (``WHERE
applied_at IS NULL``), so two daemons never both replan for it. Rows written before this revision
were all replanned by the command that made them or by a later ``replan --all``: they are marked
applied at the time they were recorded. Plain ``add_column`` (no batch rebuild).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 03:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "protocol_activation",
        sa.Column("applied_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.add_column(
        "protocol_activation", sa.Column("applied_by", sa.String(length=64), nullable=True)
    )
    # Before this revision nothing applied a later-dated row by itself: whoever ran the activation
    # or a later ``replan --all`` did. Do not replan for them again on the first daemon round.
    op.execute(
        "UPDATE protocol_activation SET applied_at = recorded_at, applied_by = recorded_by"
    )


def downgrade() -> None:
    op.drop_column("protocol_activation", "applied_by")
    op.drop_column("protocol_activation", "applied_at")
