"""The daemon's leases and heartbeat, as a thin service over ``db.claims``.

The daemon is a shell: it decides when to look, and asks here who leads, to record that it is
alive, and to hand back what it holds when it stops. None of this is audited: leases and
heartbeats are the machinery's own bookkeeping, not records of a patient or an account. What a
leader changes in the registry goes through entry points that first check the lease in their
own transaction (``still_leading``), so a daemon that lost the lease while paused writes
nothing.
"""

import datetime as dt
import os
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db import claims
from surveil.db import models as m

SweepResult = claims.SweepResult


@dataclass(frozen=True)
class Fence:
    """Who believes it leads, and under which epoch: checked before every leader write."""

    worker: str
    epoch: int


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random tag (a pid can be reused)."""
    return f"{claims.HOSTNAME[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def take_lead(
    engine: sa.Engine, *, worker: str, now: dt.datetime, ttl_seconds: float
) -> int | None:
    """Take or renew the leader lease; its epoch if ``worker`` leads now, else None."""
    return claims.acquire_leader(engine, worker, now, ttl_seconds)


def still_leading(session: Session, fence: Fence, now: dt.datetime) -> bool:
    """The fencing check, made inside the caller's write transaction."""
    return claims.still_leader(session.connection(), fence.worker, fence.epoch, now)


def resign(engine: sa.Engine, *, worker: str, now: dt.datetime) -> None:
    """Let another daemon lead at once instead of after the lease runs out."""
    claims.resign(engine, worker, now)


def leader(engine: sa.Engine) -> m.DaemonLease | None:
    return claims.leader(engine)


def beat(engine: sa.Engine, *, worker: str, now: dt.datetime, job: str = "heartbeat") -> None:
    """Record that ``worker`` is alive and what it last did (``stopped`` at a clean exit)."""
    claims.heartbeat(engine, worker, now, job)


def release_claims(engine: sa.Engine, *, worker: str) -> int:
    """Hand back every reminder ``worker`` claimed and has not started sending."""
    return claims.release_all(engine, worker)
