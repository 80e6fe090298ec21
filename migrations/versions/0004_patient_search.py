"""patients can be found by a folded name or a birth date; the language they read; who owns them

Adds ``patient.search_name`` and ``patient.search_given`` (the name casefolded, accents
stripped: family then given, and given then family) with an index each, an index on birth date,
the worklist's "no owner" partial index, and ``patient.language``. Existing patients' keys are
filled in here, with the same folding the registry uses when it writes a name
(``surveil.core.names``: pure, so a migration may use it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from surveil.core.names import search_keys

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_BATCH = 5000
_NO_OWNER = "deceased_on IS NULL AND navigator_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("language", _TEXT(length=35), nullable=True))
        batch.add_column(
            sa.Column("search_name", _TEXT(length=255), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("search_given", _TEXT(length=255), nullable=False, server_default="")
        )
    # The empty server default stays: dropping it would make SQLite rebuild the patient table,
    # and the rebuild re-creates its indexes in an arbitrary order, which SQLite's planner (no
    # statistics) uses to break ties between equally good indexes: the worklist's safety net
    # then reads the wrong one (tests/services/test_worklist_indexes.py).
    _fill_search_keys(op.get_bind())
    op.create_index("ix_patient_search_name", "patient", ["search_name", "clinic", "id"])
    op.create_index("ix_patient_search_given", "patient", ["search_given", "clinic", "id"])
    op.create_index("ix_patient_birth_date", "patient", ["birth_date", "clinic"])
    op.create_index(
        "ix_patient_no_owner",
        "patient",
        ["clinic", "family_name", "given_name", "id"],
        sqlite_where=sa.text(_NO_OWNER),
        postgresql_where=sa.text(_NO_OWNER),
    )


def _fill_search_keys(connection: sa.Connection) -> None:
    patient = sa.table(
        "patient",
        sa.column("id", sa.Integer),
        sa.column("family_name", sa.String),
        sa.column("given_name", sa.String),
        sa.column("search_name", sa.String),
        sa.column("search_given", sa.String),
    )
    update = (
        sa.update(patient)
        .where(patient.c.id == sa.bindparam("pid"))
        .values(search_name=sa.bindparam("name_key"), search_given=sa.bindparam("given_key"))
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(patient.c.id, patient.c.family_name, patient.c.given_name)
            .where(patient.c.id > after)
            .order_by(patient.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        keys = [(pid, *search_keys(family, given)) for pid, family, given in rows]
        connection.execute(
            update, [{"pid": pid, "name_key": n, "given_key": g} for pid, n, g in keys]
        )
        after = rows[-1][0]


def downgrade() -> None:
    for name in (
        "ix_patient_no_owner",
        "ix_patient_birth_date",
        "ix_patient_search_given",
        "ix_patient_search_name",
    ):
        op.drop_index(name, table_name="patient")
    with op.batch_alter_table("patient") as batch:
        for column in ("search_given", "search_name", "language"):
            batch.drop_column(column)
