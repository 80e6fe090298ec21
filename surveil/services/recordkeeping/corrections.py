"""Entry points for putting a mistyped result right: strike it out (kept, with who, when and why)
or correct it (struck out, and a new row that names the one it replaces). Nothing is edited in
place. Triggers are evaluated again on the results that remain: a result trigger that only the
mistaken value raised is closed by surveil with the reason (``triggers.withdrawal``), and the
plan is derived again, all in the one transaction of ``results.record_and_replan``."""

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.records.results import (
    Which,
    audit_marker,
    audit_measurement,
    record_and_replan,
)
from surveil.services.registry import patients as registry
from surveil.services.triggers.withdrawal import withdraw_unsupported
from surveil.services.validate import Checker

WITHDRAWN = "trigger.withdrawn"
R = TypeVar("R", m.Measurement, m.MarkerResult)
T = TypeVar("T")


@change("measurement.struck_out", WITHDRAWN, *care.CONSEQUENCES)
def strike_measurement(
    engine: sa.Engine,
    *,
    actor: Actor,
    measurement_id: int,
    reason: str | None,
    patient_id: int | None = None,
    mrn: str = "",
    clinic: str = "",
    settings: Settings,
    today: dt.date,
) -> Outcome:
    def strike(session: Session, actor: Actor, patient: m.Patient) -> str:
        row = _measurement(session, patient, measurement_id)
        why = _reason(reason, today)
        words = _strike(session, actor, patient, row, "measurement", why)
        _withdraw(session, actor, patient, settings, today, why)
        return words

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, strike, settings=settings, today=today)


@change("measurement.corrected", "measurement.recorded", WITHDRAWN, *care.CONSEQUENCES)
def correct_measurement(
    engine: sa.Engine,
    *,
    actor: Actor,
    measurement_id: int,
    diameter_mm: str | None,
    reason: str | None,
    date: str | None = None,
    modality: str | None = None,
    patient_id: int | None = None,
    mrn: str = "",
    clinic: str = "",
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """The right value for a mistyped measurement (date and modality kept unless given)."""

    def correct(session: Session, actor: Actor, patient: m.Patient) -> str:
        old = _measurement(session, patient, measurement_id)
        lesion = session.get(m.Lesion, old.lesion_id)
        why, new = _with_reason(
            reason,
            today,
            lambda: registry.add_measurement(
                session,
                patient=patient,
                lesion=lesion.label if lesion else None,
                date=date or old.date.isoformat(),
                diameter_mm=diameter_mm,
                modality=modality or old.modality,
                today=today,
            ),
        )
        new.replaces_id = old.id
        _strike(session, actor, patient, old, "measurement", f"corrected: {why}")
        words = audit_measurement(session, actor=actor, patient=patient, row=new)
        _audit_correction(session, actor, patient, "measurement", old.id, new.id, why)
        _withdraw(session, actor, patient, settings, today, f"corrected: {why}")
        return f"corrected to {words}"

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, correct, settings=settings, today=today)


@change("marker.struck_out", WITHDRAWN, *care.CONSEQUENCES)
def strike_marker(
    engine: sa.Engine,
    *,
    actor: Actor,
    marker_id: int,
    reason: str | None,
    patient_id: int | None = None,
    mrn: str = "",
    clinic: str = "",
    settings: Settings,
    today: dt.date,
) -> Outcome:
    def strike(session: Session, actor: Actor, patient: m.Patient) -> str:
        row = _marker(session, patient, marker_id)
        why = _reason(reason, today)
        words = _strike(session, actor, patient, row, "marker", why)
        _withdraw(session, actor, patient, settings, today, why)
        return words

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, strike, settings=settings, today=today)


@change("marker.corrected", "marker.recorded", WITHDRAWN, *care.CONSEQUENCES)
def correct_marker(
    engine: sa.Engine,
    *,
    actor: Actor,
    marker_id: int,
    value: str | None,
    reason: str | None,
    unit: str | None = None,
    uln: str | None = None,
    patient_id: int | None = None,
    mrn: str = "",
    clinic: str = "",
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """The right value for a mistyped marker result (name, date and PPI kept)."""

    def correct(session: Session, actor: Actor, patient: m.Patient) -> str:
        old = _marker(session, patient, marker_id)
        why, new = _with_reason(
            reason,
            today,
            lambda: registry.add_marker(
                session,
                patient=patient,
                name=old.name,
                value=value,
                date=old.date.isoformat(),
                unit=old.unit if unit is None else unit,
                uln=old.uln if uln in (None, "") else uln,
                on_ppi=old.on_ppi,
                today=today,
            ),
        )
        new.replaces_id = old.id
        _strike(session, actor, patient, old, "marker", f"corrected: {why}")
        words = audit_marker(session, actor=actor, row=new)
        _audit_correction(session, actor, patient, "marker", old.id, new.id, why)
        _withdraw(session, actor, patient, settings, today, f"corrected: {why}")
        return f"corrected to {words}"

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, correct, settings=settings, today=today)


# --------------------------------------------------------------------------- shared steps


def _measurement(session: Session, patient: m.Patient, row_id: int) -> m.Measurement:
    row = session.get(m.Measurement, row_id)
    lesion = session.get(m.Lesion, row.lesion_id) if row else None
    if row is None or lesion is None or lesion.patient_id != patient.id:
        raise NotFound(f"no measurement {row_id} for this patient")
    return _not_struck(row, "measurement")


def _marker(session: Session, patient: m.Patient, row_id: int) -> m.MarkerResult:
    row = session.get(m.MarkerResult, row_id)
    if row is None or row.patient_id != patient.id:
        raise NotFound(f"no marker result {row_id} for this patient")
    return _not_struck(row, "marker result")


def _not_struck(row: R, what: str) -> R:
    if row.struck_out_at is not None:
        raise Conflict(f"{what} {row.id} was already struck out ({row.struck_out_reason})")
    return row


def _reason(reason: str | None, today: dt.date) -> str:
    return _with_reason(reason, today, lambda: None)[0]


def _with_reason(reason: str | None, today: dt.date, write: Callable[[], T]) -> tuple[str, T]:
    """The reason, checked together with the corrected value: every problem is named at once."""
    check = Checker(today=today, what="correction")
    text = check.text("reason", reason, max_length=250)
    try:
        written = write()
    except InvalidInput as refused:
        raise InvalidInput(check.problems + refused.problems, what="correction") from None
    check.raise_if_problems()
    assert text
    return text, written


def _strike(session: Session, actor: Actor, patient: m.Patient, row: R, what: str, why: str) -> str:
    before = {"struck_out": False}
    row.struck_out_at = utcnow()
    row.struck_out_by = actor.username
    row.struck_out_reason = why[:300]
    session.add(row)
    session.flush()
    words = f"struck out {what} {row.id} ({why})"
    audit(
        session,
        actor=actor,
        action=f"{what}.struck_out",
        patient_id=patient.id,
        subject=f"{what}:{row.id}",
        before=before | _values(row),
        after={"struck_out": True, "reason": row.struck_out_reason},
        detail=words,
    )
    return words


def _values(row: m.Measurement | m.MarkerResult) -> dict[str, object]:
    if isinstance(row, m.Measurement):
        return {"date": row.date, "mm": row.diameter_mm, "modality": row.modality}
    return {"name": row.name, "value": row.value, "unit": row.unit, "date": row.date}


def _audit_correction(
    session: Session,
    actor: Actor,
    patient: m.Patient,
    what: str,
    old_id: int | None,
    new_id: int | None,
    why: str,
) -> None:
    audit(
        session,
        actor=actor,
        action=f"{what}.corrected",
        patient_id=patient.id,
        subject=f"{what}:{new_id}",
        before={"replaces": old_id},
        after={"row": new_id},
        detail=f"{what} {old_id} corrected by {new_id}: {why}",
    )


def _withdraw(
    session: Session,
    actor: Actor,
    patient: m.Patient,
    settings: Settings,
    today: dt.date,
    why: str,
) -> None:
    withdraw_unsupported(
        session, patient=patient, settings=settings, today=today, reason=why, actor=actor
    )
