"""a merge can be made final (purged): who and when, after which it cannot be undone

Two nullable columns on ``patient_merge``, added in place (nothing rebuilt).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 00:35:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "patient_merge",
        sa.Column("purged_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "patient_merge", sa.Column("purged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("patient_merge") as batch:
        batch.drop_column("purged_at")
        batch.drop_column("purged_by")
