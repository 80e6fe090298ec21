"""The triggers that mark a patient whose planning inputs changed (``plan_input_change``,
migration 0030; ``services.planning.memo``), as ``surveil db check`` expects to find them.

A routine replan skips every patient without a mark, so a trigger missing or disabled would let
plans go stale silently: SQLite drops a table's triggers when a migration rebuilds the table
(``batch_alter_table``), and PostgreSQL's ``ALTER TABLE ... DISABLE TRIGGER`` or a data-only
restore with ``--disable-triggers`` leave them off.
"""

import sqlalchemy as sa

# Every table planning reads that carries the patient's id, then the measurements (whose patient
# is their lesion's). The patient row itself is watched on its planning columns.
WATCHED = (
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
    "measurement",
)


def expected_triggers(dialect: str) -> set[tuple[str, str]]:
    """(table, trigger) pairs the schema at head has on ``dialect``."""
    operations = ["insert", "update", "delete"] + (["truncate"] if dialect == "postgresql" else [])
    return {
        (table, f"plan_input_{table}_{operation}") for table in WATCHED for operation in operations
    } | {("patient", "plan_input_patient_update")}


def trigger_problem(connection: sa.Connection) -> str | None:
    """What is wrong with the marks' triggers, in words, or None."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT c.relname, t.tgname, t.tgenabled = 'D' FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
        ).all()
    else:
        rows = connection.exec_driver_sql(
            "SELECT tbl_name, name, 0 FROM sqlite_master WHERE type = 'trigger'"
        ).all()
    found = {(table, name) for table, name, _ in rows}
    missing = sorted(expected_triggers(dialect) - found)
    disabled = sorted(name for _, name, off in rows if off and name.startswith("plan_input_"))
    if missing:
        names = ", ".join(f"{name} on {table}" for table, name in missing)
        return (
            f"triggers missing: {names}. Without them a routine replan skips patients whose "
            "facts changed; recreate them (migration 0030's) or run replan --all --full until "
            "they are back"
        )
    if disabled:
        return (
            f"triggers disabled: {', '.join(disabled)}: enable them (ALTER TABLE ... ENABLE "
            "TRIGGER) and run replan --all --full once"
        )
    return None
