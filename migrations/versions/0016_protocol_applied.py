"""protocol activations dated later are applied by the daemon: when and by which worker

Adds ``applied_at`` (nullable; NULL on a row dated later means "pending") and ``applied_by`` to
``protocol_activation``. The daemon's leader claims a pending row with a conditional update (``WHERE
applied_at IS NULL``), so two daemons never both replan for it. Rows written before this revision
that were in force the day they were recorded were replanned by the command that made them: they
are marked applied then; rows dated later stay pending for the daemon. Plain ``add_column`` (no
batch rebuild).

Revision ID: 0016
Revises: 0022
Create Date: 2026-12-05 03:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0022"
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
    # A row in force on the day it was recorded was applied by the command that made it: mark it
    # so. A row dated later stays pending, and the daemon's first round on or after its date
    # replans the clinic for it (once; replanning again after a ``replan --all`` changes nothing).
    # Compared in Python: the dates come back as strings on SQLite and as dates on PostgreSQL.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, effective_on, recorded_at FROM protocol_activation")
    ).all()
    applied = [row.id for row in rows if str(row.effective_on)[:10] <= str(row.recorded_at)[:10]]
    if applied:
        bind.execute(
            sa.text(
                "UPDATE protocol_activation SET applied_at = recorded_at, applied_by = recorded_by"
                " WHERE id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": applied},
        )


def downgrade() -> None:
    op.drop_column("protocol_activation", "applied_by")
    op.drop_column("protocol_activation", "applied_at")
