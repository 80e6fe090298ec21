"""HL7 results refreshed in bursts (issue 17, speed)

Adds ``hl7_message.refresh_due``: an applied ORU result whose patient's triggers and replan the
listener runs next, coalesced with the other results of a burst. Set in the transaction that
applies the result, cleared in the one that refreshes. Plain ``add_column`` and an index; no
rebuild.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 03:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "hl7_message",
        sa.Column("refresh_due", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_hl7_message_refresh_due", "hl7_message", ["refresh_due", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_hl7_message_refresh_due", table_name="hl7_message")
    # SQLite >= 3.35 drops a column in place; no rebuild of the table.
    op.drop_column("hl7_message", "refresh_due")
