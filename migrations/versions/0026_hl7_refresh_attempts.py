"""HL7 refresh failures counted and queued (issue 17, a poisoned patient)

Adds ``hl7_message.refresh_attempts`` (how many times the coalesced refresh of the result's
patient failed) and ``refresh_retry_at`` (when it may run again), and the state
``refresh_failed``: a result whose refresh failed too often waits in the navigators' queue. The
state's CHECK constraint is replaced; SQLite rebuilds the table for that (batch mode).

Revision ID: 0026
Revises: 0021
Create Date: 2026-12-05 23:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0026"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sqlmodel.sql.sqltypes.UTCDateTime
_BEFORE = ("received", "applied", "queued", "rejected", "dismissed")
_AFTER = (*_BEFORE, "refresh_failed")


def _states(states: tuple[str, ...]) -> str:
    return "state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


def upgrade() -> None:
    with op.batch_alter_table("hl7_message") as batch:
        batch.add_column(
            sa.Column("refresh_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("refresh_retry_at", _TIME(), nullable=True))
        batch.drop_constraint(op.f("ck_hl7_message_state_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_hl7_message_state_valid"), _states(_AFTER))


def downgrade() -> None:
    # A message waiting after failed refreshes was applied: it goes back to that state.
    op.execute("UPDATE hl7_message SET state = 'applied' WHERE state = 'refresh_failed'")
    with op.batch_alter_table("hl7_message") as batch:
        batch.drop_constraint(op.f("ck_hl7_message_state_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_hl7_message_state_valid"), _states(_BEFORE))
        batch.drop_column("refresh_retry_at")
        batch.drop_column("refresh_attempts")
