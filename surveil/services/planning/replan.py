"""``surveil replan``: re-derive stored plans from the facts and the clinic's protocol profile, for
one patient or for every patient the actor may see (triggers first, then plans: ``care``).

How a batch replan is audited, chosen for a HIPAA 164.312(b) review without flooding the table:

* one ``plan.replanned`` event for each patient whose stored plan changed (items created or
  superseded), in the transaction that changed it: a patient's own audit trail must explain every
  change to their record without the reviewer matching timestamps against a batch;
* one ``plan.replanned_all`` event for the run, with its counts, in the last transaction: who ran
  it, from which OS account, and how much it touched;
* nothing for a patient whose plan came out the same (most of them, on a routine run): nothing
  of theirs changed but the time it was last derived (``planned_at``; not written for a patient
  not derived at all, ``memo``), which the batch event accounts for. A run of 100,000 patients
  after a pack update writes one row plus one per patient whose items moved, not 100,000;
* new triggers and the state changes they cause are audited where they happen
  (``triggers.escalation``), as surveil itself on the runner's channel.

A run that fails part-way keeps the chunks already committed, each with its per-patient events,
and has no batch event: the absence says the run did not finish.

On PostgreSQL ``workers`` > 1 splits the run between processes (``replan_workers``): the same
per-patient events, and one run event, written by the parent once every range is done.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import migrate
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.queries import patients_to_plan
from surveil.db.session import read_scope, session_scope
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit, audit_many
from surveil.services.entry import change
from surveil.services.planning import care, memo, replan_workers
from surveil.services.planning.batch_gc import batch_gc
from surveil.services.planning.plans import ReplanResult
from surveil.services.registry.access import patient_by_mrn


@change("plan.replanned", *care.CONSEQUENCES)
def replan_patient(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str,
    clinic: str,
    settings: Settings,
    today: dt.date,
) -> ReplanResult:
    """Replan one patient. Audited even when nothing changed: someone chose to act on them."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        result = care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        ).plan
        _audit_patient(session, actor, patient.id or 0, result, why="replan")
        return result


@change("plan.replanned_all", "plan.replanned", *care.CONSEQUENCES)
def replan_every_patient(
    engine: sa.Engine,
    *,
    actor: Actor,
    settings: Settings,
    today: dt.date,
    chunk: int = 500,
    progress: Callable[[int, int], None] | None = None,
    why: str = "replan --all",
    clinic: str | None = None,
    workers: int = 1,
    id_range: range | None = None,
    full: bool = False,
) -> ReplanResult:
    """Replan every patient the actor may see, ``chunk`` patients per transaction;
    ``progress(done, total)`` after each. ``why`` is the reason each audit event gives
    (a protocol activation says "protocol 2027.1 activated"). ``clinic`` narrows an
    administrator's run (the daemon's, applying one clinic's protocol change) to that clinic.
    ``workers`` > 1 splits the run between that many processes (PostgreSQL only;
    ``replan_workers``). ``id_range`` keeps to the patients whose ids fall in it, so that
    processes can share a big registry's first planning (the PostgreSQL bench build).
    A patient whose inputs are those a previous run found stable is not planned again
    (``memo``) unless ``full``."""
    if chunk < 1:
        raise InvalidInput(Problem("chunk", f"{chunk} patients per transaction: give 1 or more"))
    if workers < 1:
        raise InvalidInput(Problem("workers", f"{workers} processes: give 1 or more"))
    if workers > 1 and engine.dialect.name != "postgresql":
        raise InvalidInput(
            Problem(
                "workers",
                f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a "
                "time, so more workers would only wait for each other (run without --workers)",
            )
        )
    ids = _visible_patient_ids(engine, actor, clinic)
    if id_range is not None:
        ids = [pid for pid in ids if pid in id_range]
    if workers > 1:
        return _replan_split(
            engine, ids, actor=actor, settings=settings, today=today, chunk=chunk,
            workers=workers, progress=progress, why=why, full=full,
        )  # fmt: skip
    parts = [ids[start : start + chunk] for start in range(0, len(ids), chunk)] or [[]]
    total = ReplanResult()
    with batch_gc():
        for number, part in enumerate(parts, start=1):
            with session_scope(engine) as session:
                result = _replan_part(
                    session, actor, part, settings=settings, today=today, why=why, full=full
                )
                total.add(result)
                if number == len(parts):
                    _audit_run(session, actor, total, why=why)
            if progress is not None:
                progress(min(number * chunk, len(ids)), len(ids))
    if total.created or total.superseded:
        migrate.analyze(engine)  # a bulk step: PostgreSQL's planner needs fresh statistics
    return total


def _replan_split(
    engine: sa.Engine,
    ids: list[int],
    *,
    actor: Actor,
    settings: Settings,
    today: dt.date,
    chunk: int,
    workers: int,
    progress: Callable[[int, int], None] | None,
    why: str,
    full: bool,
) -> ReplanResult:
    run = replan_workers.create_claims(engine, ids, chunk)
    args = (actor, settings, today, why, full)
    replan_workers.run_workers(
        engine, run, workers=workers, target=_worker, args=args, progress=progress, total=len(ids)
    )
    # A range whose worker died is free again, or will be once PostgreSQL has rolled back the
    # dead worker's transaction (wait for that): plan it here.
    replan_workers.work(engine, run, actor, _planner(settings, today, why, full), wait=True)
    with session_scope(engine) as session:
        total, changed = replan_workers.finish(session, run)
        split = {"run": run, "workers": workers}
        _audit_run(session, actor, total, why=why, changed=changed, split=split)
    if progress is not None:
        progress(len(ids), len(ids))
    if total.created or total.superseded:
        migrate.analyze(engine)
    return total


def _worker(
    url: str, run: str, actor: Actor, settings: Settings, today: dt.date, why: str, full: bool
) -> None:
    """One worker process of a split run (started by ``replan_workers.run_workers``)."""
    engine = make_engine(url)
    try:
        replan_workers.work(engine, run, actor, _planner(settings, today, why, full))
    finally:
        engine.dispose()


def _planner(
    settings: Settings, today: dt.date, why: str, full: bool = False
) -> replan_workers.PlanPart:
    def plan_part(session: Session, actor: Actor, ids: list[int]) -> ReplanResult:
        return _replan_part(session, actor, ids, settings=settings, today=today, why=why, full=full)

    return plan_part


def _replan_part(
    session: Session,
    actor: Actor,
    ids: list[int],
    *,
    settings: Settings,
    today: dt.date,
    why: str,
    full: bool = False,
) -> ReplanResult:
    if not ids:
        return ReplanResult()
    changed = memo.take_changes(session, ids)  # first: see ``memo``
    patients = patients_to_plan(session, ids)
    result = care.refresh_patients(
        session,
        patients=patients,
        settings=settings,
        today=today,
        channel=actor.channel,
        changed=changed,
        skip_unchanged=not full,
    ).plan
    audit_many(
        session,
        [_patient_event(pid, changed, why) for pid, changed in sorted(result.changed.items())],
        actor=actor,
    )
    return result


def _visible_patient_ids(engine: sa.Engine, actor: Actor, clinic: str | None) -> list[int]:
    query = select(m.Patient.id).order_by(col(m.Patient.id))
    if not actor.is_admin:
        query = query.where(m.Patient.clinic == actor.clinic)
    if clinic is not None:
        query = query.where(m.Patient.clinic == clinic)
    with read_scope(engine) as session:
        return [pid for pid in session.exec(query).all() if pid is not None]


def _counts(result: ReplanResult) -> dict[str, int]:
    return {"created": result.created, "kept": result.kept, "superseded": result.superseded}


def _audit_patient(
    session: Session, actor: Actor, patient_id: int, result: ReplanResult, *, why: str
) -> None:
    audit(session, actor=actor, **_patient_event(patient_id, result, why))


def _patient_event(patient_id: int, result: ReplanResult, why: str) -> dict[str, Any]:
    counts = _counts(result)
    return {
        "action": "plan.replanned",
        "patient_id": patient_id,
        "subject": f"plan:{patient_id}",
        "after": counts,
        "detail": f"{why}: {counts['created']} item(s) created, {counts['superseded']} superseded"
        + "".join(f"; {change}" for change in result.changes),
    }


def _audit_run(
    session: Session,
    actor: Actor,
    total: ReplanResult,
    *,
    why: str,
    changed: int | None = None,
    split: dict[str, object] | None = None,
) -> None:
    counts = _counts(total)
    changed = len(total.changed) if changed is None else changed
    audit(
        session,
        actor=actor,
        action="plan.replanned_all",
        subject="plan:all" if actor.is_admin else f"plan:clinic:{actor.clinic}",
        after={
            "patients": total.patients,
            "changed": changed,
            **counts,
            "skipped": total.skipped,
            **(split or {}),
        },
        detail=f"{why}: {total.patients} patient(s), {changed} changed, "
        f"{total.skipped} unchanged since the last run",
    )
