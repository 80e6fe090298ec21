"""surveil behind PgBouncer in transaction mode (docs/operations.md, "Connection pooling").

A real PgBouncer (the Debian package) in front of the test PostgreSQL, two server connections
for six concurrent clients: consecutive transactions of one client land on different server
connections. With psycopg's automatic server-side prepared statements this failed within a few
dozen transactions ("prepared statement _pg3_0 already exists"); ``make_engine`` turns them off.
Skipped where the ``pgbouncer`` binary is not installed (``apt-get install pgbouncer``).
"""

import datetime as dt
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from surveil.db.engine import make_engine
from surveil.db.session import poll_read
from surveil.demo import generate as demo
from surveil.services.throttle import SharedCounts

pytestmark = pytest.mark.postgres
PGBOUNCER = shutil.which("pgbouncer") or shutil.which("/usr/sbin/pgbouncer")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pooled_url(pg_database: str) -> Iterator[str]:
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    # Not pytest's tmp_path: its parents are private to root, and PgBouncer runs as nobody.
    with tempfile.TemporaryDirectory(prefix="surveil-pgbouncer-") as folder:
        yield from _bouncer(pg_database, Path(folder))


def _bouncer(pg_database: str, tmp_path: Path) -> Iterator[str]:
    backend = make_url(pg_database)
    port = _free_port()
    tmp_path.chmod(0o777)  # PgBouncer refuses to run as root: it runs as nobody below
    config = tmp_path / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = host={backend.host} port={backend.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {tmp_path / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\n"
    )
    (tmp_path / "users.txt").write_text(f'"{backend.username}" ""\n')
    for path in (config, tmp_path / "users.txt"):
        path.chmod(0o644)
    command = [PGBOUNCER, str(config)]
    if shutil.which("runuser") and _is_root():
        command = ["runuser", "-u", "nobody", "--", *command]
    bouncer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(port, bouncer)
        yield backend.set(port=port, host="127.0.0.1").render_as_string(hide_password=False)
    finally:
        bouncer.terminate()
        bouncer.wait(timeout=10)


def _is_root() -> bool:
    return os.geteuid() == 0


def _wait_for(port: int, bouncer: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if bouncer.poll() is not None:
            pytest.fail(
                f"pgbouncer exited: {bouncer.stderr.read().decode() if bouncer.stderr else ''}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail("pgbouncer did not listen")


def test_concurrent_transactions_through_transaction_pooling(pooled_url: str) -> None:
    """Transactions, and the calendar poll's autocommit reads (``poll_read``) beside them."""
    errors: list[str] = []
    patients = sa.table("patient", sa.column("id"))
    polled = (
        sa.select(sa.func.count()).select_from(patients).where(patients.c.id > sa.bindparam("n"))
    )

    def client() -> None:
        engine = make_engine(pooled_url)
        try:
            for n in range(40):  # psycopg would prepare from the 5th execution on
                with engine.begin() as connection:
                    connection.execute(
                        sa.text("SELECT count(*) FROM patient WHERE id > :n"), {"n": n % 7}
                    ).scalar_one()
                poll_read(engine, polled, {"n": n % 7})
        except sa.exc.DBAPIError as error:
            errors.append(str(error.orig))
        finally:
            engine.dispose()

    _six_at_once(client)
    assert errors == []


def test_a_demo_load_through_transaction_pooling(pooled_url: str) -> None:
    engine = make_engine(pooled_url)
    today = dt.date(2026, 12, 5)
    with engine.connect() as connection:  # the session's PostgreSQL database is shared
        before = connection.execute(sa.text("SELECT count(*) FROM patient")).scalar_one()
    result = demo.generate_demo(
        engine,
        patients=40,
        seed=19,
        clinic="Neuroendocrine Tumour Clinic",
        timezone="Europe/London",
        today=today,
        now=dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC),
    )
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*) FROM patient")).scalar_one()
    engine.dispose()
    assert result.created == 40 == stored - before


def test_rate_limit_counts_through_transaction_pooling_leave_no_setting_behind(
    pooled_url: str,
) -> None:
    """The counts' statements turn ``synchronous_commit`` off for their own transaction only:
    the two server connections the six clients share never show it to the next statement, and
    no count is lost between them."""
    seen: set[str] = set()
    errors: list[str] = []
    setting = sa.select(sa.func.current_setting("synchronous_commit"))
    name = f"bouncer{uuid.uuid4().hex[:8]}"  # the session's database is shared, not emptied

    def client() -> None:
        engine = make_engine(pooled_url)
        counts = SharedCounts(engine, name, sync_seconds=3600)
        try:
            for _ in range(30):
                counts.record(1)
                counts.sync(1)
                seen.update(str(row[0]) for row in poll_read(engine, setting, {}))
                with engine.begin() as connection:
                    seen.add(str(connection.execute(setting).scalar_one()))
            errors.extend("not written" for _ in range(counts._pending["1"]))
        except sa.exc.DBAPIError as error:
            errors.append(str(error.orig))
        finally:
            engine.dispose()

    _six_at_once(client)
    assert errors == [] and seen == {"on"}
    engine = make_engine(pooled_url)
    rate_limit = sa.table("rate_limit", sa.column("key"), sa.column("count"))
    with engine.connect() as connection:
        total = connection.execute(
            sa.select(sa.func.sum(rate_limit.c.count)).where(rate_limit.c.key == f"{name}:1")
        ).scalar_one()
    engine.dispose()
    assert total == 180


def _six_at_once(client: Callable[[], None]) -> None:
    """``client`` in six threads at once, each with its own engine on the pooled URL: more
    clients than the bouncer's server connections, so they share them."""
    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
