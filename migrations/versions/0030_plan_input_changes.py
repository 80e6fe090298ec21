"""the database marks every patient whose planning inputs change; the memo keeps only the run key

Until now a routine ``replan --all`` read and digested every input of every patient planned
before to learn that nothing had changed: on the 100k registry, more CPU than planning them.
Here the database says it instead. A trigger on each table planning reads (the facts, the
items, the triggers and their consequences, the overrides, and the planning columns of the
patient row) adds a ``plan_input_change`` row for the patient whose row was inserted, updated or
deleted, whoever wrote it: a service, an import, a hand-made fix in ``psql``. The replan takes
those rows away for the patients it plans, in the transaction that plans them.

On PostgreSQL every change adds a row (never an update of an existing one): a change committed
while a replan runs leaves a row that the replan could not see, so cannot have taken away, and
the next run plans that patient again. On SQLite one transaction writes at a time, so a patient
already marked is not marked again.

``plan_memo`` is rebuilt with ``run_key`` (the protocol and code digest) in place of the per-patient
digest of the inputs. It is a cache: emptied here, every patient is simply planned once more.

SQLite forgets a table's triggers when a later migration rebuilds that table
(``batch_alter_table``): ``tests/db/test_plan_input_triggers`` fails if any is missing at head.

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
        sa.Column("id", sa.Integer(), nullable=False),
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
    if op.get_bind().dialect.name == "postgresql":
        for table in (*_BY_PATIENT_ID, "measurement", "patient"):
            op.execute(f'DROP TRIGGER plan_input_{table} ON "{table}"')
        for function in ("by_patient_id", "by_lesion", "patient_row"):
            op.execute(f"DROP FUNCTION plan_input_{function}()")
    else:
        for table in (*_BY_PATIENT_ID, "measurement"):
            for operation in _OPERATIONS:
                op.execute(f"DROP TRIGGER plan_input_{table}_{operation}")
        op.execute("DROP TRIGGER plan_input_patient_update")
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


def _postgresql_triggers() -> None:
    # One row per change, always: see the module's docstring for why never an update.
    op.execute(
        """
        CREATE FUNCTION plan_input_by_patient_id() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' AND OLD.patient_id IS NOT NULL THEN
                INSERT INTO plan_input_change (patient_id) VALUES (OLD.patient_id);
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.patient_id IS NOT NULL
                    AND (TG_OP = 'INSERT' OR NEW.patient_id IS DISTINCT FROM OLD.patient_id) THEN
                INSERT INTO plan_input_change (patient_id) VALUES (NEW.patient_id);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION plan_input_by_lesion() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                INSERT INTO plan_input_change (patient_id)
                    SELECT patient_id FROM lesion WHERE id = OLD.lesion_id;
            END IF;
            IF TG_OP <> 'DELETE'
                    AND (TG_OP = 'INSERT' OR NEW.lesion_id IS DISTINCT FROM OLD.lesion_id) THEN
                INSERT INTO plan_input_change (patient_id)
                    SELECT patient_id FROM lesion WHERE id = NEW.lesion_id;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION plan_input_patient_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO plan_input_change (patient_id) VALUES (NEW.id);
            RETURN NULL;
        END $$
        """
    )
    for table in _BY_PATIENT_ID:
        op.execute(
            f'CREATE TRIGGER plan_input_{table} AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION plan_input_by_patient_id()"
        )
    op.execute(
        "CREATE TRIGGER plan_input_measurement AFTER INSERT OR UPDATE OR DELETE ON measurement "
        "FOR EACH ROW EXECUTE FUNCTION plan_input_by_lesion()"
    )
    op.execute(
        f"CREATE TRIGGER plan_input_patient AFTER UPDATE OF {', '.join(_PATIENT_COLUMNS)} "
        "ON patient FOR EACH ROW EXECUTE FUNCTION plan_input_patient_row()"
    )


def _sqlite_triggers() -> None:
    # ``OR IGNORE``: nothing can conflict, but a plain INSERT in a trigger opens a statement
    # journal for each row written, which made every write to these tables ~5x slower.
    for table in (*_BY_PATIENT_ID, "measurement"):
        for operation in _OPERATIONS:
            op.execute(
                f'CREATE TRIGGER plan_input_{table}_{operation} AFTER {operation.upper()} ON "{table}" '
                f"BEGIN {_sqlite_mark(table, operation)} END"
            )
    op.execute(
        f"CREATE TRIGGER plan_input_patient_update AFTER UPDATE OF {', '.join(_PATIENT_COLUMNS)} "
        f"ON patient BEGIN {_sqlite_insert('SELECT NEW.id AS p')} END"
    )


def _sqlite_mark(table: str, operation: str) -> str:
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}[operation]
    if table == "measurement":
        selects = [f"SELECT patient_id AS p FROM lesion WHERE id = {row}.lesion_id" for row in rows]
    else:
        selects = [f"SELECT {row}.patient_id AS p" for row in rows]
    return _sqlite_insert(" UNION ".join(selects))


def _sqlite_insert(patients: str) -> str:
    return (
        "INSERT OR IGNORE INTO plan_input_change (patient_id) "
        f"SELECT p FROM ({patients}) WHERE p IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM plan_input_change WHERE patient_id = p);"
    )
