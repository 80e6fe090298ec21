"""an index of living patients by navigator, for a navigator's own worklist

At a million patients a navigator's own worklist (``/worklist``) took 260 ms p95 against the
whole clinic's 142: each section's capped count walks its index of items or triggers and asks of
every row whether its patient is the navigator's, a probe into the patient table (its primary key,
then the row). With a third of the clinic theirs, that walk is three times as long. Led by the
navigator, this index answers the probe by itself (navigator, clinic and id are all in it; the
partial predicate is the living-patient test) and gives the safety net the navigator's living
patients in id order. A plain new index: nothing is rewritten.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVING = "deceased_on IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_patient_living_by_navigator",
        "patient",
        ["navigator_id", "clinic", "id"],
        sqlite_where=sa.text(_LIVING),
        postgresql_where=sa.text(_LIVING),
    )


def downgrade() -> None:
    op.drop_index("ix_patient_living_by_navigator", table_name="patient")
