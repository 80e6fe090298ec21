"""the database marks every patient whose planning inputs change; the memo keeps only the run key

Until now a routine ``replan --all`` read and digested every input of every patient planned
before to learn that nothing had changed: on the 100k registry, more CPU than planning them.
Here the database says it instead. A trigger on each table planning reads (the facts, the
items, the triggers and their consequences, the overrides, and the planning columns of the
patient row) adds a ``plan_input_change`` row for the patient whose row was inserted, updated or
deleted, whoever wrote it: a service, an import, a hand-made fix in ``psql``. The replan takes
those rows away for the patients it plans, in the transaction that plans them.

On PostgreSQL every statement adds a row per patient it touched (never an update of an existing
row): a change committed while a replan runs leaves a row that the replan could not see, so
cannot have taken away, and the next run plans that patient again. On SQLite one transaction writes at a time, so a patient
already marked is not marked again.

``plan_memo`` is rebuilt with ``run_key`` (the protocol and code digest) in place of the per-patient
digest of the inputs. It is a cache: emptied here, every patient is simply planned once more.

SQLite forgets a table's triggers when a later migration rebuilds that table
(``batch_alter_table``): ``surveil db check`` (``db/plan_inputs.py``) and
``tests/db/test_plan_input_triggers`` fail if any is missing at head. On PostgreSQL a TRUNCATE of
a watched table, which fires no row trigger, drops every memo.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 12:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables planning reads that carry the patient's id themselves.
_BY_PATIENT_ID = (
    "tumour",
    "diseasestate",
    "markerresult",
    "therapy",
    "symptom",
    "pathologyresult",
    "lesion",
    "followup_item",
    "trigger",
    "trigger_consequence",
    "planoverride",
)
# What planning reads of the patient row (``db.queries.PLANNED_PATIENT``): not ``planned_at``,
# which every run writes.
_PATIENT_COLUMNS = (
    "clinic",
    "birth_date",
    "timezone",
    "deceased_on",
    "hereditary",
    "created_at",
    "no_follow_up_rule",
    "plan_note",
)
_OPERATIONS = ("insert", "update", "delete")


def upgrade() -> None:
    op.drop_table("plan_memo")
    _create_memo("run_key")
    op.create_table(
        "plan_input_change",
        # 64 bits where it is not the rowid already: every write adds rows on PostgreSQL.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_input_change")),
    )
    op.create_index(
        op.f("ix_plan_input_change_patient_id"), "plan_input_change", ["patient_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    operations = (*_OPERATIONS, "truncate") if postgresql else _OPERATIONS
    for table in (*_BY_PATIENT_ID, "measurement"):
        for operation in operations:
            on = f' ON "{table}"' if postgresql else ""
            op.execute(f"DROP TRIGGER IF EXISTS plan_input_{table}_{operation}{on}")
    op.execute(f"DROP TRIGGER IF EXISTS plan_input_patient_update{' ON patient' if postgresql else ''}")
    if postgresql:
        for operation in _OPERATIONS:
            op.execute(f"DROP FUNCTION plan_input_{operation}()")
            op.execute(f"DROP FUNCTION plan_input_measurement_{operation}()")
        op.execute("DROP FUNCTION plan_input_truncated()")
        op.execute("DROP FUNCTION plan_input_patient_row()")
    op.drop_index(op.f("ix_plan_input_change_patient_id"), table_name="plan_input_change")
    op.drop_table("plan_input_change")
    op.drop_table("plan_memo")
    _create_memo("inputs")


def _create_memo(key: str) -> None:
    op.create_table(
        "plan_memo",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column(key, sa.LargeBinary(length=16), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("holds_until", sa.Date(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.CheckConstraint("holds_until > checked_on", name=op.f("ck_plan_memo_span_ordered")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_plan_memo_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_plan_memo")),
    )


# PostgreSQL: statement triggers over the transition tables, so that a COPY of 60,000 rows adds
# one row per patient it wrote, not one per row (row triggers doubled a bulk load's time).
_TRANSITION = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}


def _postgresql_triggers() -> None:
    # One row per patient and statement, always added, never an update: see the docstring.
    for operation, tables in _TRANSITION.items():
        rows = " UNION ".join(f"SELECT patient_id FROM {t.lower()}_rows" for t in tables)
        by_lesion = " UNION ".join(
            f"SELECT l.patient_id FROM {t.lower()}_rows r JOIN lesion l ON l.id = r.lesion_id"
            for t in tables
        )
        for function, patients in ((operation, rows), (f"measurement_{operation}", by_lesion)):
            op.execute(
                f"CREATE FUNCTION plan_input_{function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN INSERT INTO plan_input_change (patient_id) "
                f"SELECT DISTINCT p.patient_id FROM ({patients}) p "
                "WHERE p.patient_id IS NOT NULL; RETURN NULL; END $$"
            )
        referencing = " ".join(f"{t} TABLE AS {t.lower()}_rows" for t in tables)
        for table in (*_BY_PATIENT_ID, "measurement"):
            function = operation if table != "measurement" else f"measurement_{operation}"
            op.execute(
                f'CREATE TRIGGER plan_input_{table}_{operation} AFTER {operation.upper()} ON "{table}" '
                f"REFERENCING {referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION plan_input_{function}()"
            )
    # TRUNCATE fires no row or DELETE trigger, and says nothing of whose rows it removed: every
    # memo goes (it takes an exclusive lock, so no chunk is reading the table meanwhile).
    op.execute(
        "CREATE FUNCTION plan_input_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM plan_memo; RETURN NULL; END $$"
    )
    for table in (*_BY_PATIENT_ID, "measurement"):
        op.execute(
            f'CREATE TRIGGER plan_input_{table}_truncate AFTER TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION plan_input_truncated()"
        )
    # A column list rules transition tables out; the patient row changes one at a time anyway.
    op.execute(
        "CREATE FUNCTION plan_input_patient_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO plan_input_change (patient_id) VALUES (NEW.id); RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER plan_input_patient_update AFTER UPDATE OF {', '.join(_PATIENT_COLUMNS)} "
        "ON patient FOR EACH ROW EXECUTE FUNCTION plan_input_patient_row()"
    )


def _sqlite_triggers() -> None:
    # ``OR IGNORE``: nothing can conflict, but a plain INSERT in a trigger opens a statement
    # journal for each row written, which made every write to these tables ~5x slower. The
    # ``NOT EXISTS`` comes first, in the trigger's WHEN where it can: in a bulk load most rows
    # are of a patient already marked, and then the trigger's body never runs.
    for table in (*_BY_PATIENT_ID, "measurement"):
        for operation in _OPERATIONS:
            op.execute(
                f"CREATE TRIGGER plan_input_{table}_{operation} "
                f'AFTER {operation.upper()} ON "{table}" {_sqlite_mark(table, operation)}'
            )
    op.execute(
        "CREATE TRIGGER plan_input_patient_update "
        f"AFTER UPDATE OF {', '.join(_PATIENT_COLUMNS)} ON patient "
        f"WHEN {_unmarked('NEW.id')} BEGIN {_sqlite_insert('NEW.id')} END"
    )


def _sqlite_mark(table: str, operation: str) -> str:
    """The WHEN and the body of one trigger (the part after ``ON table``)."""
    row = "OLD" if operation == "delete" else "NEW"
    if table == "measurement":
        patient = f"(SELECT patient_id FROM lesion WHERE id = {row}.lesion_id)"
        moved = "OLD.lesion_id IS NOT NEW.lesion_id"
    else:
        patient = f"{row}.patient_id"
        moved = "OLD.patient_id IS NOT NEW.patient_id"
    body = _sqlite_insert(patient)
    if operation == "update":  # a row moved to another patient (a merge) marks both
        old = patient.replace("NEW.", "OLD.")
        body += f" {_sqlite_insert(old, also=moved)}"
        return f"BEGIN {body} END"
    return f"WHEN {_unmarked(patient)} BEGIN {body} END"


def _unmarked(patient: str) -> str:
    return (
        f"{patient} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM plan_input_change WHERE patient_id = {patient})"
    )


def _sqlite_insert(patient: str, also: str = "") -> str:
    condition = _unmarked(patient) + (f" AND {also}" if also else "")
    return (
        "INSERT OR IGNORE INTO plan_input_change (patient_id) "
        f"SELECT {patient} WHERE {condition};"
    )
