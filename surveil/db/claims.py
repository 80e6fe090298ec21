"""Who may send which reminder, and who leads: leases in rows, never locks held across a send.

* **Claims.** A dispatcher takes a batch of due reminder rows by writing its name and a lease
  expiry into them, in one short transaction, then sends outside any transaction. PostgreSQL
  picks the batch with ``FOR UPDATE SKIP LOCKED``, so concurrent daemons take disjoint rows
  without queueing behind each other; the outer ``UPDATE`` re-checks the row is still free.
  SQLite has no row locks: the same statement runs under ``BEGIN IMMEDIATE`` (see
  ``db/session.py``), so claims are serialised compare-and-sets on the one writer.
* **Sweep.** A row still ``sending`` after its lease ran out was being sent when its daemon
  died: the mail server may or may not have it. It becomes ``unknown`` and is sent again (a
  possible duplicate, never a loss). A claimed row that never reached ``sending`` is simply
  released. A lease whose owner is a dead process *on this machine* counts as expired at once
  (the heartbeat row gives its pid), so a daemon restarted after ``kill -9`` resumes at once.
* **Leader.** Planning and the digest run on one daemon: the holder of an unexpired row in
  ``daemon_lease``. Taking it over from an expired holder increments ``epoch``, a fencing token
  the leader re-checks before writing. Session advisory locks are not used: poolers and
  connection recycling make them vanish or leak.
* **Heartbeat.** One row per daemon process, refreshed with every claim and every tick.

Every comparison uses the ``now`` passed in (aware UTC): callers read the clock once per tick,
and tests move it. Hosts' clocks must agree to well within ``lease_seconds``.
"""

import contextlib
import datetime as dt
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from surveil.db import models as m

R: sa.Table = m.Reminder.__table__  # type: ignore[attr-defined]
A: sa.Table = m.DeliveryAttempt.__table__  # type: ignore[attr-defined]
L: sa.Table = m.DaemonLease.__table__  # type: ignore[attr-defined]
H: sa.Table = m.Heartbeat.__table__  # type: ignore[attr-defined]
# What the sweep writes into a row it found mid-send, and into that attempt's ledger row (the
# worklist as it was tells one from the other: services/reports/as_of_reminders.py).
SWEPT_ERROR = "the daemon stopped during the send; it will be sent again"
SWEPT_RESPONSE = "no outcome recorded: the daemon stopped during the send"

LEADER = "leader"
CLAIMABLE = (m.ReminderState.PENDING, m.ReminderState.UNKNOWN)
HOSTNAME = socket.gethostname()[:128]
# Heartbeat rows of daemons that stopped long ago are removed by the sweep.
FORGET_WORKERS_AFTER = dt.timedelta(days=7)


class Claim(NamedTuple):
    id: int
    channel: str


@dataclass(frozen=True)
class SweepResult:
    unknown: list[int]  # rows left ``sending`` by a daemon that died: sent again, marked
    released: int  # claims that never reached ``sending``: back in the queue


Bind = sa.Engine | sa.Connection


@contextlib.contextmanager
def transaction(bind: Bind) -> Iterator[sa.Connection]:
    """A committed-on-success transaction on an engine, or on a connection a caller keeps open
    for a whole round (no pool checkout, no pre-ping per transaction)."""
    if isinstance(bind, sa.Engine):
        with bind.begin() as connection:
            yield connection
    else:
        with bind.begin():
            yield bind


def insert_for(engine: Bind, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite spell it alike)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# --------------------------------------------------------------------------- claims


def claim_due(
    engine: Bind,
    *,
    worker: str,
    now: dt.datetime,
    lease_seconds: float,
    limit: int,
    channels: Iterable[str],
) -> list[Claim]:
    """Lease up to ``limit`` due reminders on ``channels`` that nobody holds, oldest first."""
    channels = list(channels)
    if not channels or limit <= 0:
        return []
    free = sa.and_(
        due(now),
        sa.or_(R.c.lease_until.is_(None), R.c.lease_until < now),
        R.c.channel.in_(channels),
    )
    pick = (
        sa.select(R.c.id)
        .where(free)
        .order_by(R.c.send_after, R.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # compiled away on SQLite, where BEGIN IMMEDIATE rules
    )
    with transaction(engine) as connection:
        beat(connection, worker, now, "dispatch")
        # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED):
        # measured here on PostgreSQL, that form leased 100 rows for LIMIT 10 (the planner
        # re-ran the subquery). The UPDATE re-checks that each row is still free.
        ids = list(connection.execute(pick).scalars())
        if not ids:
            return []
        rows = connection.execute(
            sa.update(R)
            .where(R.c.id.in_(ids), free)
            .values(lease_owner=worker, lease_until=now + dt.timedelta(seconds=lease_seconds))
            .returning(R.c.id, R.c.channel, R.c.send_after)
        ).all()
    return [Claim(r.id, r.channel) for r in sorted(rows, key=lambda r: (r.send_after, r.id))]


def due(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Waiting to be sent at ``now``: pending or unknown, its time come, no retry waiting."""
    return sa.and_(
        R.c.state.in_(CLAIMABLE),
        R.c.send_after <= now,
        sa.or_(R.c.next_attempt_at.is_(None), R.c.next_attempt_at <= now),
    )


def release(engine: Bind, ids: Sequence[int], worker: str) -> int:
    """Give back claimed rows this worker has not started sending (shutdown, channel down)."""
    if not ids:
        return 0
    stmt = (
        sa.update(R)
        .where(R.c.id.in_(list(ids)), R.c.lease_owner == worker, R.c.state.in_(CLAIMABLE))
        .values(lease_owner=None, lease_until=None)
    )
    with transaction(engine) as connection:
        return connection.execute(stmt).rowcount or 0


def release_all(engine: Bind, worker: str) -> int:
    """Every claim of ``worker`` not yet sending: what a clean shutdown hands back."""
    stmt = (
        sa.update(R)
        .where(R.c.lease_owner == worker, R.c.state.in_(CLAIMABLE))
        .values(lease_owner=None, lease_until=None)
    )
    with transaction(engine) as connection:
        return connection.execute(stmt).rowcount or 0


# --------------------------------------------------------------------------- sweep


def sweep(engine: Bind, now: dt.datetime) -> SweepResult:
    """Recover what dead or stalled daemons left behind (see the module docstring)."""
    with transaction(engine) as connection:
        dead = dead_local_workers(connection)
        expired = sa.or_(R.c.lease_until < now, R.c.lease_owner.in_(dead))
        lost = connection.execute(
            sa.update(R)
            .where(R.c.state == m.ReminderState.SENDING, expired)
            .values(
                state=m.ReminderState.UNKNOWN,
                lease_owner=None,
                lease_until=None,
                last_error=SWEPT_ERROR,
                updated_at=now,
            )
            .returning(R.c.id)
        ).scalars()
        unknown = sorted(lost)
        for chunk in _chunks(unknown):
            connection.execute(
                sa.update(A)
                .where(A.c.reminder_id.in_(chunk), A.c.status == "sending")
                .values(
                    status="unknown",
                    finished_at=now,
                    provider_response=SWEPT_RESPONSE,
                )
            )
        released = connection.execute(
            sa.update(R)
            .where(R.c.state.in_(CLAIMABLE), R.c.lease_owner.is_not(None), expired)
            .values(lease_owner=None, lease_until=None)
        ).rowcount
        connection.execute(
            sa.delete(H).where(
                H.c.last_seen < now - FORGET_WORKERS_AFTER,
                ~sa.exists().where(R.c.lease_owner == H.c.worker),
            )
        )
    return SweepResult(unknown=unknown, released=released or 0)


def dead_local_workers(connection: sa.Connection) -> list[str]:
    """Lease owners whose process ran on this host and is gone (pid no longer exists).

    Only this host's processes can be checked; elsewhere the lease expiry decides. A reused
    pid makes a dead owner look alive, which only means waiting for the lease (the safe way).
    """
    owners = connection.execute(
        sa.select(H.c.worker, H.c.pid)
        .where(H.c.hostname == HOSTNAME)
        .where(sa.exists().where(R.c.lease_owner == H.c.worker))
    ).all()
    return [row.worker for row in owners if not _alive(row.pid)]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --------------------------------------------------------------------------- leader


def acquire_leader(
    engine: Bind, holder: str, now: dt.datetime, ttl_seconds: float, name: str = LEADER
) -> int | None:
    """Take or renew the lease ``name``; the epoch if ``holder`` now leads, else None.

    Renewing keeps the epoch; taking over from an expired holder increments it, so writes
    fenced with the old epoch are refused.
    """
    until = now + dt.timedelta(seconds=ttl_seconds)
    with transaction(engine) as connection:
        first = connection.execute(
            insert_for(connection, L)
            .values(name=name, holder=holder, epoch=1, expires_at=until)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(L.c.epoch)
        ).scalar()
        if first is not None:
            return int(first)
        epoch = connection.execute(
            sa.update(L)
            .where(L.c.name == name, sa.or_(L.c.holder == holder, L.c.expires_at < now))
            .values(
                epoch=sa.case((L.c.holder == holder, L.c.epoch), else_=L.c.epoch + 1),
                holder=holder,
                expires_at=until,
            )
            .returning(L.c.epoch)
        ).scalar()
    return None if epoch is None else int(epoch)


def still_leader(
    connection: sa.Connection, holder: str, epoch: int, now: dt.datetime, name: str = LEADER
) -> bool:
    """The fencing check a leader makes inside its own write transaction."""
    found = connection.execute(
        sa.select(L.c.epoch).where(
            L.c.name == name, L.c.holder == holder, L.c.epoch == epoch, L.c.expires_at > now
        )
    ).scalar()
    return found is not None


def resign(engine: Bind, holder: str, now: dt.datetime, name: str = LEADER) -> None:
    """Let another daemon take over at once instead of after the lease runs out."""
    with transaction(engine) as connection:
        connection.execute(
            sa.update(L).where(L.c.name == name, L.c.holder == holder).values(expires_at=now)
        )


def leader(engine: sa.Engine, name: str = LEADER) -> m.DaemonLease | None:
    with engine.connect() as connection:
        row = connection.execute(sa.select(L).where(L.c.name == name)).first()
    return None if row is None else m.DaemonLease(**row._mapping)


# --------------------------------------------------------------------------- heartbeat


def beat(connection: sa.Connection, worker: str, now: dt.datetime, job: str) -> None:
    """Record that ``worker`` (this process) is alive and what it last did."""
    stmt = insert_for(connection, H).values(
        worker=worker,
        hostname=HOSTNAME,
        pid=os.getpid(),
        started_at=now,
        last_seen=now,
        last_job=job[:32],
    )
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["worker"], set_={"last_seen": now, "last_job": job[:32]}
        )
    )


def heartbeat(engine: Bind, worker: str, now: dt.datetime, job: str = "heartbeat") -> None:
    with transaction(engine) as connection:
        beat(connection, worker, now, job)
