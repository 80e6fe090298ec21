"""What every SQLite connection surveil opens is set up with (db/engine.py)."""

from pathlib import Path

from surveil.db.engine import make_engine


def test_every_sqlite_connection_gets_the_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        for _ in range(2):  # a second connection from the pool is set up the same way
            with engine.connect() as connection:
                raw = connection.connection.dbapi_connection
                assert raw is not None
                got = {
                    name: raw.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("foreign_keys", "journal_mode", "synchronous", "temp_store")
                }
                # synchronous 1 is NORMAL; temp_store 2 is MEMORY, where the statement journal
                # of every write under the plan-input triggers is kept (SQLITE_PRAGMAS).
                assert got == {"foreign_keys": 1, "journal_mode": "wal", "synchronous": 1,
                               "temp_store": 2}  # fmt: skip
                connection.invalidate()
    finally:
        engine.dispose()
