"""Replies from numbers no patient has are kept for a navigator (issue 18, left over)

``inbound_reply.sender``: the number a text came from, kept only while nobody knows whose it is
(a patient who changed phones, a relative). A navigator matches the reply to a patient or
dismisses it; either clears the number. Replies that were matched on arrival never store it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 23:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_reply") as batch:
        batch.add_column(
            sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_reply") as batch:
        batch.drop_column("sender")
