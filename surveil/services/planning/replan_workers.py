"""``surveil replan --all --workers N``: one replan split between N processes (PostgreSQL only).

The run's patients are cut into ranges of ids (``chunk`` patients each), one ``replan_claim`` row
per range (``db/models_replan.py``). Each worker process loops: take the first range nobody holds
(``SELECT ... FOR UPDATE SKIP LOCKED``), plan it, mark it done with its counts, commit, all in
one transaction. So:

* two workers never plan the same patient: a held row is skipped, a done row is never taken;
* a worker that dies mid-range (killed, out of memory, connection lost) has its transaction
  rolled back by PostgreSQL, which frees the row, not done, for any other worker; after the
  workers end, the parent takes whatever is left itself;
* the run is audited as one replan: the per-patient ``plan.replanned`` events are written in the
  ranges' transactions exactly as a single process writes them, and the parent writes the one
  ``plan.replanned_all`` event with the sum of the ranges' counts (and the run's id: its rows
  say which worker planned which range; they are cleared when the next run starts).

SQLite has one writer at a time: more processes would only queue for its lock, so the service
refuses ``workers > 1`` there (``replan.replan_every_patient``).
"""

import multiprocessing
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.planning.batch_gc import batch_gc
from surveil.services.planning.plans import ReplanResult

C: sa.Table = m.ReplanClaim.__table__  # type: ignore[attr-defined]
P: sa.Table = m.Patient.__table__  # type: ignore[attr-defined]

# Plans one range of patients in the caller's transaction (``replan._replan_part``): passed in, so
# this module does not import the one that calls it.
PlanPart = Callable[[Session, Actor, list[int]], ReplanResult]


def create_claims(engine: sa.Engine, ids: list[int], chunk: int) -> str:
    """One claim row per ``chunk`` consecutive ids; returns the run's id."""
    run = str(uuid.uuid4())
    rows = [
        {"run": run, "first_id": part[0], "last_id": part[-1]}
        for part in (ids[start : start + chunk] for start in range(0, len(ids), chunk))
    ]
    with session_scope(engine) as session:
        # Finished runs' rows have served (their counts are in their audit event); a run that
        # never finished keeps its rows, a record of what it left undone.
        unfinished = sa.select(C.c.run).where(C.c.done == sa.false())
        session.execute(sa.delete(C).where(C.c.run.not_in(unfinished)))
        if rows:
            session.execute(sa.insert(C), rows)
    return run


def claim(session: Session, run: str, *, wait: bool = False) -> tuple[int, int, int] | None:
    """The first range of ``run`` that is neither done nor held by another worker, locked for
    this transaction (the lock is the claim: see the module docstring). ``wait``: wait for a
    held range instead of skipping it (the parent's last sweep, when the only holders left are
    dead workers whose transactions PostgreSQL is rolling back)."""
    query = (
        sa.select(C.c.id, C.c.first_id, C.c.last_id)
        .where(C.c.run == run, C.c.done == sa.false())
        .order_by(C.c.first_id)
        .limit(1)
        .with_for_update(skip_locked=not wait)
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1], row[2])


def range_ids(session: Session, actor: Actor, first: int, last: int) -> list[int]:
    """The patients of a claimed range the actor may see (as ``replan._visible_patient_ids``)."""
    query = sa.select(P.c.id).where(P.c.id.between(first, last)).order_by(P.c.id)
    if not actor.is_admin:
        query = query.where(P.c.clinic == actor.clinic)
    return list(session.execute(query).scalars())


def work(
    engine: sa.Engine, run: str, actor: Actor, plan_part: PlanPart, *, wait: bool = False
) -> int:
    """Claim and plan ranges of ``run`` until none is left free; returns how many it planned.
    ``wait``: as :func:`claim`."""
    name = f"{socket.gethostname()}:{os.getpid()}"[:64]
    planned = 0
    with batch_gc():
        while True:
            with session_scope(engine) as session:
                row = claim(session, run, wait=wait)
                if row is None:
                    return planned
                claim_id, first, last = row
                result = plan_part(session, actor, range_ids(session, actor, first, last))
                session.execute(
                    sa.update(C)
                    .where(C.c.id == claim_id)
                    .values(
                        done=True,
                        worker=name,
                        patients=result.patients,
                        created=result.created,
                        kept=result.kept,
                        superseded=result.superseded,
                        skipped=result.skipped,
                        changed=len(result.changed),
                        finished_at=utcnow(),
                    )
                )
            planned += 1


def run_workers(
    engine: sa.Engine,
    run: str,
    *,
    workers: int,
    target: Callable[..., None],
    args: tuple[Any, ...],
    progress: Callable[[int, int], None] | None,
    total: int,
) -> None:
    """Start ``workers`` processes running ``target(url, run, *args)`` and wait for them,
    reporting progress from the claim table; then plan, here, any range a dead worker left."""
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # no inherited connections or locks
    processes = [context.Process(target=target, args=(url, run, *args)) for _ in range(workers)]
    for process in processes:
        process.start()
    while any(p.is_alive() for p in processes):
        for process in processes:
            process.join(timeout=0.5)
        if progress is not None:
            progress(done_patients(engine, run), total)


def done_patients(engine: sa.Engine, run: str) -> int:
    with engine.connect() as connection:
        query = sa.select(sa.func.coalesce(sa.func.sum(C.c.patients), 0)).where(
            C.c.run == run, C.c.done == sa.true()
        )
        return int(connection.execute(query).scalar_one())


def finish(session: Session, run: str) -> tuple[ReplanResult, int]:
    """The run's counts summed over its ranges, and how many patients changed. Refuses when a
    range is not done. The rows stay until the next run (who planned which range, and when)."""
    rows = session.execute(
        sa.select(
            C.c.done, C.c.patients, C.c.created, C.c.kept, C.c.superseded, C.c.changed, C.c.skipped
        ).where(C.c.run == run)
    ).all()
    if not all(row[0] for row in rows):
        raise RuntimeError(f"replan run {run}: {sum(not r[0] for r in rows)} range(s) not done")
    total = ReplanResult(
        patients=sum(r[1] for r in rows),
        created=sum(r[2] for r in rows),
        kept=sum(r[3] for r in rows),
        superseded=sum(r[4] for r in rows),
        skipped=sum(r[6] for r in rows),
    )
    return total, sum(r[5] for r in rows)
