"""audit events say how a change came in, what it changed, and from what to what

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 20:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("channel", _TEXT(length=16), nullable=False, server_default="web"))
        batch.add_column(sa.Column("os_user", _TEXT(length=64), nullable=True))
        batch.add_column(sa.Column("subject", _TEXT(length=64), nullable=True))
        batch.add_column(sa.Column("before", _TEXT(length=1000), nullable=True))
        batch.add_column(sa.Column("after", _TEXT(length=1000), nullable=True))
    with op.batch_alter_table("audit_event") as batch:
        batch.alter_column("channel", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        for column in ("after", "before", "subject", "os_user", "channel"):
            batch.drop_column(column)
