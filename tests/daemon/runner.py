"""A reminder daemon process for the crash tests: the real ``Daemon`` (the same code that
``surveil daemon --once`` runs), repeated until nothing is left to send, without the CLI's
start-up cost (it is started 20 times a test).

    python tests/daemon/runner.py [--wait]

Settings come from ``SURVEIL_*`` environment variables, like the real daemon; the crash hook
``SURVEIL_TEST_KILL_AT`` is read by ``surveil.services.reminders.delivery``. It prints
``ready`` once
connected (with ``--wait`` it then waits for a line on stdin, so two can start together) and
exits 0 when no reminder is waiting or being sent.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import sqlalchemy as sa

from surveil.config import load_settings
from surveil.daemon import Daemon
from surveil.db import claims
from surveil.db import models as m

OPEN = (m.ReminderState.PENDING, m.ReminderState.UNKNOWN, m.ReminderState.SENDING)


def left(engine: sa.Engine) -> int:
    query = sa.select(sa.func.count()).select_from(claims.R).where(claims.R.c.state.in_(OPEN))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def main() -> int:
    daemon = Daemon(load_settings(environ=os.environ))
    daemon.heartbeat_job()  # connected, and known to the sweep by pid
    print("ready", flush=True)
    if "--wait" in sys.argv:
        sys.stdin.readline()
    idle = 0
    while left(daemon.engine) and idle < 200:
        handled = daemon.run_once()["handled"]
        idle = 0 if handled else idle + 1
        if not handled:
            time.sleep(0.05)  # another daemon holds the rest
    daemon.close()
    return 0 if not left(daemon.engine) else 1


if __name__ == "__main__":
    sys.exit(main())
