"""ORU^R01: lab results. Each OBX of a marker surveil knows becomes a marker result; the open
item for that marker is done; triggers and the plan re-run once for the message (at once, or,
from the listener, in its coalesced refresh of the burst: ``services.hl7.refresh``).

Every OBX is read and checked before anything is written: one that cannot be used (unknown
code, not a number, a unit or reference range not comparable with the patient's series, a
preliminary result) queues the whole message, so a panel is never half applied. An amended
result (OBX-11 = C) corrects the earlier result of that marker on that date.
"""

import datetime as dt
from dataclasses import dataclass

import hl7
import sqlalchemy as sa
from sqlmodel import col, select

from surveil.core.vocab import ItemKind
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.services.audit import audit, audit_at_once
from surveil.services.hl7.codes import marker_codes
from surveil.services.hl7.context import (
    Context,
    Match,
    Unapplicable,
    find_patient,
    match_patient,
)
from surveil.services.hl7.parse import component, field, hl7_date, segments
from surveil.services.planning import care
from surveil.services.registry.markers import marker_values

OPEN = tuple(s.value for s in m.OPEN_ITEM_STATES)
# The statements of every result, built once (building them was a tenth of a result's time).
_INSERT_MARKER = sa.insert(m.MarkerResult).returning(col(m.MarkerResult.id))
_LAST_IN_SERIES = (
    sa.select(col(m.MarkerResult.unit), col(m.MarkerResult.uln))
    .where(
        col(m.MarkerResult.patient_id) == sa.bindparam("patient_id"),
        col(m.MarkerResult.name) == sa.bindparam("name"),
        col(m.MarkerResult.struck_out_at).is_(None),
    )
    .order_by(col(m.MarkerResult.date).desc(), col(m.MarkerResult.id).desc())
    .limit(1)
)
_OPEN_ITEM = (
    sa.select(col(m.FollowUpItem.id), col(m.FollowUpItem.state), col(m.FollowUpItem.completed_on))
    .where(
        col(m.FollowUpItem.patient_id) == sa.bindparam("patient_id"),
        col(m.FollowUpItem.kind) == sa.bindparam("kind"),
        col(m.FollowUpItem.state).in_(OPEN),
    )
    .order_by(col(m.FollowUpItem.target), col(m.FollowUpItem.id))
    .limit(1)
)
_CLOSE_ITEM = (
    sa.update(m.FollowUpItem)
    .where(col(m.FollowUpItem.id) == sa.bindparam("item_id"))
    .values(
        state=m.ItemState.DONE,
        completed_on=sa.bindparam("done_on"),
        snoozed_until=None,
        sequence=col(m.FollowUpItem.sequence) + 1,
        updated_at=sa.bindparam("now"),
    )
)


@dataclass(frozen=True)
class Observation:
    kind: ItemKind
    value: str
    unit: str
    uln: float | None
    date: str
    corrects: bool


def apply_results(context: Context) -> str:
    patient = match_patient(context)
    pid = patient.id
    observed = [_read(context, obx, pid) for obx in segments(context.message, "OBX")]
    if not observed:
        raise Unapplicable("the result message has no OBX segment", patient_id=pid)
    for observation in observed:
        _check_series(context, patient, observation)
    if context.defer_refresh:
        # Nothing read below needs what is pending (the message row, audit rows): flushing
        # before each query was a fifth of a result's time. ``add_marker`` flushes its row.
        with context.session.no_autoflush:
            words = [_store(context, patient, observation) for observation in observed]
    else:
        words = [_store(context, patient, observation) for observation in observed]
    if context.defer_refresh:
        # Committed with the result: the refresh runs next even if this listener dies.
        context.row.refresh_due = True
    else:
        care.refresh_patient(
            context.session,
            patient=find_patient(context),  # loaded now: the refresh needs the whole record
            settings=context.settings,
            today=context.today,
            channel=context.actor.channel,
        )
    return "; ".join(words)


def _read(context: Context, obx: hl7.Segment, pid: int | None) -> Observation:
    code, system = component(obx, 3, 1), component(obx, 3, 3)
    name = component(obx, 3, 2) or code
    kind = marker_codes(context.settings.hl7.local_codes).get(code)
    if kind is None:
        raise Unapplicable(
            f"OBX-3 code {code} ({name}, {system or 'no system'}) is not a marker surveil knows",
            patient_id=pid,
        )
    status = field(obx, 11) or "F"
    if status not in ("F", "C"):
        raise Unapplicable(
            f"{name} result status {status!r} is not final (F) or corrected (C)", patient_id=pid
        )
    value = field(obx, 5).strip()
    try:
        float(value)
    except ValueError:
        raise Unapplicable(f"{name} value {value!r} is not a number", patient_id=pid) from None
    date = hl7_date(field(obx, 14)) or _request_date(context)
    if date is None:
        raise Unapplicable(f"{name} has no observation date (OBX-14 or OBR-7)", patient_id=pid)
    return Observation(
        kind, value, component(obx, 6, 1), _uln(field(obx, 7)), date, corrects=status == "C"
    )


def _request_date(context: Context) -> str | None:
    for obr in segments(context.message, "OBR"):
        return hl7_date(field(obr, 7))
    return None


def _uln(reference_range: str) -> float | None:
    """The upper limit of normal in OBX-7: '0-100' -> 100, '<100' -> 100, '>5' -> None."""
    text = reference_range.strip().lstrip("<=").strip()
    upper = text.rsplit("-", 1)[-1].strip() if "-" in text[1:] else text
    if reference_range.strip().startswith(">"):
        return None
    try:
        number = float(upper)
    except ValueError:
        return None
    return number if number > 0 else None


def _unit(text: str) -> str:
    return text.strip().lower().replace("µ", "u").replace("μ", "u")


def _check_series(context: Context, patient: Match, observation: Observation) -> None:
    """Never mix a result into a trend it cannot join: same unit, and for CgA the same assay
    (its reference range stands for the assay: CgA assays are not interconvertible)."""
    # Two columns, not the row, by a statement built once: this runs for every result.
    last = context.connection.execute(
        _LAST_IN_SERIES, {"patient_id": patient.id, "name": observation.kind}
    ).first()
    if last is None:
        return
    label = observation.kind.value
    if last.unit and _unit(last.unit) != _unit(observation.unit):
        raise Unapplicable(
            f"{label} in {observation.unit or 'no unit'} cannot join the series in {last.unit}",
            patient_id=patient.id,
        )
    if (
        observation.kind == ItemKind.CGA
        and last.uln
        and observation.uln
        and abs(last.uln - observation.uln) > 1e-9
    ):
        raise Unapplicable(
            f"CgA upper limit {observation.uln:g} differs from the series' {last.uln:g}: "
            "probably another assay, not comparable",
            patient_id=patient.id,
        )


def _store(context: Context, patient: Match, observation: Observation) -> str:
    if observation.corrects:
        return _correct(context, patient, observation)
    # The form's checks (``add_marker``), then Core statements on the transaction's connection:
    # an ORM row, its flush and its audit object were most of a result's time.
    values = marker_values(
        patient_id=patient.id,
        birth_date=patient.birth_date,
        name=observation.kind.value,
        value=observation.value,
        date=observation.date,
        unit=observation.unit,
        uln=observation.uln,
        today=context.today,
    )
    marker_id = context.connection.execute(_INSERT_MARKER, values).scalar_one()
    words = f"{values['name']} {values['value']:g} {values['unit']}".rstrip()
    words += f" on {values['date']}"
    after = {k: values[k] for k in ("name", "value", "unit", "date")}
    audit_at_once(
        context.connection,
        actor=context.actor,
        action="marker.recorded",
        patient_id=values["patient_id"],
        subject=f"marker:{marker_id}",
        after=after,
        detail=f"recorded {words}",
    )
    _close_item(context, patient, observation)
    return words


def _correct(context: Context, patient: Match, observation: Observation) -> str:
    earlier = context.session.exec(
        select(m.MarkerResult).where(
            m.MarkerResult.patient_id == patient.id,
            m.MarkerResult.name == observation.kind,
            m.MarkerResult.date == dt.date.fromisoformat(observation.date),
        )
    ).all()
    if len(earlier) != 1:
        raise Unapplicable(
            f"a correction of {observation.kind.value} on {observation.date} matches "
            f"{len(earlier)} stored results, not one",
            patient_id=patient.id,
        )
    row = earlier[0]
    before = {"value": row.value, "unit": row.unit, "uln": row.uln}
    row.value, row.unit, row.uln = float(observation.value), observation.unit, observation.uln
    context.session.add(row)
    after = {"value": row.value, "unit": row.unit, "uln": row.uln}
    words = f"{row.name} on {row.date} corrected to {row.value:g} {row.unit}".rstrip()
    audit(
        context.session,
        actor=context.actor,
        action="marker.corrected",
        patient_id=patient.id,
        subject=f"marker:{row.id}",
        before=before,
        after=after,
        detail=words,
    )
    return words


def _close_item(context: Context, patient: Match, observation: Observation) -> None:
    # Core statements, not the ORM object: the item is only read for its audit and updated
    # once, and loading it whole was a tenth of a result's time.
    item = context.connection.execute(
        _OPEN_ITEM, {"patient_id": patient.id, "kind": observation.kind}
    ).first()
    if item is None:
        return
    before = {"state": item.state, "completed_on": item.completed_on}
    done_on = dt.date.fromisoformat(observation.date)
    closing = {"item_id": item.id, "done_on": done_on, "now": utcnow()}
    context.connection.execute(_CLOSE_ITEM, closing)
    audit_at_once(
        context.connection,
        actor=context.actor,
        action="item.done",
        patient_id=patient.id,
        subject=f"item:{item.id}",
        before=before,
        after={"state": m.ItemState.DONE, "completed_on": done_on},
        detail=f"item {item.id}: {observation.kind.value} done on {observation.date} (HL7)",
    )
