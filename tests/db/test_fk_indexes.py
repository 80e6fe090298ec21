"""Every foreign key has an index that starts with its columns, on both backends (issue 19).

Without one, deleting or re-keying a referenced row scans the whole referring table (``ON DELETE
SET NULL`` on ``followup_item.superseded_by_id`` took 14 minutes on the 100k registry), and
PostgreSQL, unlike MySQL, never creates such an index by itself.
"""

import sqlalchemy as sa


def unindexed_foreign_keys(engine: sa.Engine) -> list[str]:
    """``table(columns) -> referred`` for each foreign key no index, unique constraint or primary
    key begins with (a partial ``IS NOT NULL`` index counts: a NULL never needs finding)."""
    inspector = sa.inspect(engine)
    missing = []
    for table in inspector.get_table_names():
        leading = [tuple(index["column_names"]) for index in inspector.get_indexes(table)]
        leading += [tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)]
        leading.append(tuple(inspector.get_pk_constraint(table)["constrained_columns"]))
        for key in inspector.get_foreign_keys(table):
            columns = tuple(key["constrained_columns"])
            if not any(index[: len(columns)] == columns for index in leading):
                missing.append(f"{table}({', '.join(columns)}) -> {key['referred_table']}")
    return sorted(missing)


def test_every_foreign_key_has_an_index(engine: sa.Engine) -> None:
    assert unindexed_foreign_keys(engine) == []


def test_the_check_finds_a_foreign_key_without_an_index(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE fk_probe (id INTEGER PRIMARY KEY, "
            "patient_id INTEGER REFERENCES patient (id), note_id INTEGER)"
        )
    try:
        assert unindexed_foreign_keys(engine) == ["fk_probe(patient_id) -> patient"]
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE INDEX ix_fk_probe_patient ON fk_probe (patient_id)")
        assert unindexed_foreign_keys(engine) == []
    finally:  # the PostgreSQL database is shared by the session's tests
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE fk_probe")
