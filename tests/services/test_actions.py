"""Item and trigger actions on a real registry: state, sequence, audit, and refusals.

Each action is an entry point with its own transaction, so the test's session commits what it
seeds before acting and reads the effect back afterwards."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.records import actions
from surveil.services.records import trigger_review as decisions
from surveil.services.records.actions import DoneInput
from surveil.services.registry import patients as registry
from surveil.services.triggers import review
from tests.web.seed import TODAY, make_item, make_patient, make_trigger

NAV = Actor(username="nina", role="navigator", clinic="north", ip="10.0.0.7")
DAY = dt.timedelta(days=1)


def due_item(session: Session, kind: str = "mri", **patient: str) -> m.FollowUpItem:
    p = make_patient(session, patient.pop("mrn", "P1"), **patient)
    item = make_item(session, p, kind=kind, earliest=TODAY - 10 * DAY, latest=TODAY + 20 * DAY)
    session.commit()
    return item


def item_id(item: m.FollowUpItem) -> int:
    assert item.id is not None
    return item.id


def reread(session: Session, row: m.FollowUpItem | m.Trigger) -> None:
    """Read ``row`` again, after an entry point changed it in its own transaction."""
    session.refresh(row)
    session.commit()  # end the read, so the next entry point may write


def audit_actions(session: Session) -> list[tuple[str, str, str | None]]:
    rows = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id)).all()
    session.commit()
    return [(a.actor, a.action, a.ip) for a in rows if a.action.startswith(("item.", "trigger."))]


def test_ordered_bumps_sequence_and_is_audited(engine: sa.Engine, session: Session) -> None:
    item = due_item(session)
    before = item.updated_at
    actions.mark_ordered(engine, item_id=item_id(item), actor=NAV)
    reread(session, item)
    assert (item.state, item.sequence) == ("ordered", 1)
    assert item.updated_at > before
    assert audit_actions(session) == [("nina", "item.ordered", "10.0.0.7")]
    with pytest.raises(Conflict):
        actions.mark_ordered(engine, item_id=item_id(item), actor=NAV)


def test_booking_is_local_time_in_the_patients_zone_stored_as_utc(
    engine: sa.Engine, session: Session
) -> None:
    item = due_item(session, timezone="America/New_York")
    result = actions.mark_booked(
        engine, item_id=item_id(item), actor=NAV, date="2026-07-01", time="09:30", today=TODAY
    )
    reread(session, item)
    assert item.booked_at == dt.datetime(2026, 7, 1, 13, 30, tzinfo=dt.UTC)
    assert "2026-07-01 09:30 America/New_York" in result.message
    assert item.state == "booked" and item.sequence == 1


def test_booking_refuses_past_dates_bad_times_and_times_the_clocks_skip(
    engine: sa.Engine, session: Session
) -> None:
    item = due_item(session, timezone="America/New_York")
    with pytest.raises(InvalidInput) as error:
        actions.mark_booked(
            engine, item_id=item_id(item), actor=NAV, date="2026-06-14", time="9h", today=TODAY
        )
    assert {p.field for p in error.value.problems} == {"date", "time"}
    with pytest.raises(InvalidInput, match="does not exist in America/New_York"):
        actions.mark_booked(
            engine, item_id=item_id(item), actor=NAV, date="2027-03-14", time="02:30", today=TODAY
        )
    reread(session, item)
    assert item.state == "planned" and item.sequence == 0


def test_done_with_a_marker_records_the_result(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    item = due_item(session, kind="cga")
    data = DoneInput(
        completed_on="2026-06-14", marker_value="120", marker_unit="ug/L", marker_uln="100"
    )
    actions.mark_done(
        engine, item_id=item_id(item), actor=NAV, data=data, settings=settings, today=TODAY
    )
    marker = session.exec(select(m.MarkerResult)).one()
    assert (marker.name, marker.value, marker.uln, marker.date) == (
        "cga",
        120,
        100,
        dt.date(2026, 6, 14),
    )
    reread(session, item)
    assert (item.state, item.completed_on, item.sequence) == ("done", dt.date(2026, 6, 14), 1)


def test_done_refuses_a_marker_without_value_and_half_a_measurement(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    cga = due_item(session, kind="cga")
    with pytest.raises(InvalidInput, match="marker_value"):
        actions.mark_done(
            engine,
            item_id=item_id(cga),
            actor=NAV,
            data=DoneInput(),
            settings=settings,
            today=TODAY,
        )
    mri = make_item(session, make_patient(session, "P2"), earliest=TODAY, latest=TODAY + DAY)
    session.commit()
    bad = DoneInput(lesion="L1", completed_on="2026-07-01")
    with pytest.raises(InvalidInput) as error:
        actions.mark_done(
            engine, item_id=item_id(mri), actor=NAV, data=bad, settings=settings, today=TODAY
        )
    assert {p.field for p in error.value.problems} == {"diameter_mm", "completed_on"}
    assert session.exec(select(m.MarkerResult)).all() == []
    assert session.exec(select(m.Measurement)).all() == []
    reread(session, cga)
    reread(session, mri)
    assert (cga.state, mri.state) == ("planned", "planned")


def test_done_with_a_measurement_adds_it_to_the_lesion(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    item = due_item(session, kind="ct_or_mri")
    data = DoneInput(lesion="L1", diameter_mm="14.5", modality="ct")
    actions.mark_done(
        engine, item_id=item_id(item), actor=NAV, data=data, settings=settings, today=TODAY
    )
    measurement = session.exec(select(m.Measurement)).one()
    assert (measurement.diameter_mm, measurement.modality, measurement.date) == (14.5, "ct", TODAY)


def test_declined_and_not_needed_need_a_reason(engine: sa.Engine, session: Session) -> None:
    item = due_item(session)
    with pytest.raises(InvalidInput, match="reason"):
        actions.mark_declined(engine, item_id=item_id(item), actor=NAV, reason="  ")
    actions.mark_declined(engine, item_id=item_id(item), actor=NAV, reason="moving abroad")
    reread(session, item)
    assert (item.state, item.outcome_note) == ("declined", "moving abroad")
    other = make_item(session, make_patient(session, "P2"), earliest=TODAY, latest=TODAY + DAY)
    session.commit()
    actions.mark_not_needed(engine, item_id=item_id(other), actor=NAV, reason="done elsewhere")
    reread(session, other)
    assert other.state == "not_needed"
    assert [a for _, a, _ in audit_actions(session)] == ["item.declined", "item.not_needed"]


def test_snooze_is_bounded_and_needs_a_reason(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    item = due_item(session)
    limit = settings.worklist.snooze_max_days
    too_far = (TODAY + (limit + 1) * DAY).isoformat()
    for until, reason, field in (
        (too_far, "x", "until"),
        (TODAY.isoformat(), "x", "until"),
        ("2026-06-20", "", "reason"),
    ):
        with pytest.raises(InvalidInput) as error:
            actions.snooze(
                engine,
                item_id=item_id(item),
                actor=NAV,
                until=until,
                reason=reason,
                settings=settings,
                today=TODAY,
            )
        assert [p.field for p in error.value.problems] == [field]
    last = (TODAY + limit * DAY).isoformat()
    actions.snooze(
        engine,
        item_id=item_id(item),
        actor=NAV,
        until=last,
        reason="patient on holiday",
        settings=settings,
        today=TODAY,
    )
    reread(session, item)
    assert (item.snoozed_until, item.snooze_reason, item.state) == (
        TODAY + limit * DAY,
        "patient on holiday",
        "planned",
    )


def test_another_clinics_item_or_trigger_is_not_found(engine: sa.Engine, session: Session) -> None:
    item = due_item(session, clinic="south")
    trigger = make_trigger(session, session.get(m.Patient, item.patient_id))
    session.commit()
    with pytest.raises(NotFound):
        actions.mark_ordered(engine, item_id=item_id(item), actor=NAV)
    with pytest.raises(NotFound):
        review.acknowledge_trigger(
            engine, trigger_id=trigger.id or 0, actor=NAV, now=dt.datetime.now(dt.UTC)
        )
    reread(session, item)
    reread(session, trigger)
    assert item.state == "planned" and trigger.state == "open"


def test_trigger_acknowledge_then_resolve_with_outcome(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    # A missed SSA dose is administrative: a navigator may close it (services.triggers.roles).
    trigger = make_trigger(session, make_patient(session, "P1"), kind="ssa_overdue")
    session.commit()
    tid = trigger.id or 0
    now = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
    review.acknowledge_trigger(engine, trigger_id=tid, actor=NAV, now=now)
    reread(session, trigger)
    assert (trigger.state, trigger.acknowledged_by, trigger.acknowledged_at) == (
        "acknowledged",
        "nina",
        now,
    )
    decide = {"settings": settings, "today": TODAY, "now": now}
    with pytest.raises(InvalidInput, match="outcome"):
        decisions.resolve_trigger(engine, trigger_id=tid, actor=NAV, outcome="", **decide)
    decisions.resolve_trigger(
        engine, trigger_id=tid, actor=NAV, outcome="patient called: dose given", **decide
    )
    reread(session, trigger)
    assert (trigger.state, trigger.resolved_by, trigger.outcome) == (
        "resolved",
        "nina",
        "patient called: dose given",
    )
    with pytest.raises(Conflict):
        decisions.resolve_trigger(engine, trigger_id=tid, actor=NAV, outcome="again", **decide)
    assert [a for _, a, _ in audit_actions(session)] == ["trigger.acknowledged", "trigger.resolved"]


def test_done_with_a_growing_measurement_fires_a_growth_trigger(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    """The real trigger engine runs inside mark_done (care.refresh_patient): 10 → 16 mm in a
    year is 6 mm/year, over the 5 mm/year default for a small G1 pancreatic NET. The trigger
    is surveil's own doing, audited as the system on the nurse's channel."""
    patient = make_patient(session, "P1")
    registry.add_measurement(
        session, patient=patient, lesion="L1", date="2025-06-15", diameter_mm=10, modality="mri",
        today=TODAY,
    )  # fmt: skip
    item = make_item(session, patient, earliest=TODAY - 10 * DAY, latest=TODAY + 20 * DAY)
    session.commit()
    data = DoneInput(lesion="L1", diameter_mm="16", modality="mri")
    result = actions.mark_done(
        engine, item_id=item_id(item), actor=NAV, data=data, settings=settings, today=TODAY
    )
    assert "growth_rate" in result.new_triggers
    trigger = session.exec(select(m.Trigger).where(m.Trigger.kind == "growth_rate")).one()
    assert trigger.state == "open" and trigger.lesion == "L1"
    assert ("system", "trigger.fired", None) in audit_actions(session)
