"""Issue 14.7: death, discharge (or a transfer, recorded as a discharge with its reason) stop
everything at once, through the ordinary entry points: every open item cancelled with the
reason (booked ones and the tumour board too), every queued reminder suppressed, audited once as
surveil's consequence; nothing more happens on the next change. SQLite and PostgreSQL."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.planning import replan
from surveil.services.planning.care import refresh_patient
from surveil.services.records import enrolment
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from tests.services.conftest import TODAY

CLINIC = "Neuroendocrine Tumour Clinic"
NURSE = Actor("nina", "navigator", CLINIC, channel=Channel.CLI, os_user="ops")


def _planned_with_a_booking_and_a_reminder(
    session: Session, patient: m.Patient, settings: Settings
) -> tuple[list[int], int]:
    refresh_patient(session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI)
    items = session.exec(
        select(m.FollowUpItem).where(m.FollowUpItem.patient_id == patient.id)
    ).all()
    assert len(items) >= 2
    items[0].state = m.ItemState.BOOKED
    items[0].booked_at = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    reminder = m.Reminder(
        idempotency_key=f"test:{items[0].id}", patient_id=patient.id, item_id=items[0].id,
        stage="before", channel="email", template="booked", send_after=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    session.add(reminder)
    session.flush()
    ids = [i.id or 0 for i in items]
    rid = reminder.id or 0
    session.expire_on_commit = False
    session.commit()
    return ids, rid


def _states(engine: sa.Engine, ids: list[int]) -> set[tuple[str, str]]:
    with Session(engine) as s:
        rows = s.exec(select(m.FollowUpItem).where(col(m.FollowUpItem.id).in_(ids))).all()
        return {(r.state, r.outcome_note) for r in rows}


def _open_count(engine: sa.Engine, patient_id: int | None) -> int:
    with Session(engine) as s:
        return len(
            s.exec(
                select(m.FollowUpItem).where(
                    m.FollowUpItem.patient_id == patient_id,
                    col(m.FollowUpItem.state).in_([x.value for x in m.OPEN_ITEM_STATES]),
                )
            ).all()
        )


def _reminder(engine: sa.Engine, rid: int) -> tuple[str, str | None]:
    with Session(engine) as s:
        row = s.get_one(m.Reminder, rid)
        return row.state, row.suppressed_reason


def _actions(engine: sa.Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        rows = s.exec(select(m.AuditEvent).order_by(col(m.AuditEvent.id))).all()
        return [(r.action, r.actor) for r in rows]


def test_a_death_cancels_every_open_item_and_suppresses_reminders(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    ids, rid = _planned_with_a_booking_and_a_reminder(session, small_pnet, settings)
    enrolment.update_patient(
        engine, actor=NURSE, mrn="P1", clinic=CLINIC,
        data=PatientInput(deceased_on="2026-11-20"), tumour=None, settings=settings, today=TODAY,
    )  # fmt: skip
    why = "cancelled: the patient died on 2026-11-20"
    assert _states(engine, ids) == {("cancelled", why)}
    assert _reminder(engine, rid) == ("suppressed", "the patient died on 2026-11-20")
    assert _actions(engine) == [("patient.updated", "nina"), ("plan.stopped", "system")]
    # Idempotent: the next change finds nothing open and audits nothing more.
    enrolment.update_patient(
        engine, actor=NURSE, mrn="P1", clinic=CLINIC, data=PatientInput(email="x@example.org"),
        tumour=None, settings=settings, today=TODAY,
    )  # fmt: skip
    assert _actions(engine)[-1] == ("patient.updated", "nina")
    assert _open_count(engine, small_pnet.id) == 0


def test_a_transfer_recorded_as_a_discharge_stops_everything_with_its_reason(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    ids, rid = _planned_with_a_booking_and_a_reminder(session, small_pnet, settings)
    enrolment.set_disease_state(
        engine, actor=NURSE, mrn="P1", clinic=CLINIC, kind="discharged", since="2026-11-22",
        resection=None, reason="transferred to the Leeds NET centre", settings=settings,
        today=TODAY,
    )  # fmt: skip
    why = "cancelled: discharged on 2026-11-22: transferred to the Leeds NET centre"
    assert _states(engine, ids) == {("cancelled", why)}
    assert _reminder(engine, rid)[0] == "suppressed"
    assert _actions(engine) == [("state.set", "nina"), ("plan.stopped", "system")]
    assert _open_count(engine, small_pnet.id) == 0


def test_replan_all_stops_everything_for_patients_already_dead_or_discharged(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    """Recorded before stop-everything existed (or straight into the table by an import):
    the death is there, the items and reminders still open. ``replan --all`` clears them."""
    ids, rid = _planned_with_a_booking_and_a_reminder(session, small_pnet, settings)
    with Session(engine) as s:
        patient = s.get_one(m.Patient, small_pnet.id)
        patient.deceased_on = dt.date(2026, 11, 20)
        s.add(patient)
        s.commit()
    assert _open_count(engine, small_pnet.id) > 0
    admin = Actor("root", "admin", None, channel=Channel.CLI, os_user="ops")
    replan.replan_every_patient(engine, actor=admin, settings=settings, today=TODAY)
    assert _states(engine, ids) == {("cancelled", "cancelled: the patient died on 2026-11-20")}
    assert _reminder(engine, rid) == ("suppressed", "the patient died on 2026-11-20")
    assert _open_count(engine, small_pnet.id) == 0
    actions = _actions(engine)
    assert ("plan.stopped", "system") in actions
    assert actions[-1] == ("plan.replanned_all", "root")
    # A second run finds nothing open: no second stop.
    replan.replan_every_patient(engine, actor=admin, settings=settings, today=TODAY)
    assert [a for a in _actions(engine) if a[0] == "plan.stopped"] == [("plan.stopped", "system")]


def test_replan_all_stops_a_discharged_patient_and_leaves_the_others(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.CLI
    )
    session.add(
        m.DiseaseState(
            patient_id=small_pnet.id or 0, kind="discharged", start_date=dt.date(2026, 11, 1),
            reason="back to the GP",
        )
    )  # fmt: skip
    for state in session.exec(
        select(m.DiseaseState).where(
            m.DiseaseState.patient_id == small_pnet.id, m.DiseaseState.kind != "discharged"
        )
    ).all():
        state.end_date = dt.date(2026, 11, 1)
        session.add(state)
    other = registry.enrol_patient(
        session, clinic=CLINIC,
        data=PatientInput(mrn="P2", given_name="Bo", family_name="Lee", birth_date="1970-01-01"),
        tumour=TumourInput(site="pancreas", ki67="2", size_mm="12", diagnosed_on="2025-03-02"),
        state_kind="active_surveillance", since="2025-03-02", resection=None, today=TODAY,
    )  # fmt: skip
    session.commit()
    replan.replan_every_patient(engine, actor=NURSE, settings=settings, today=TODAY)
    assert _open_count(engine, small_pnet.id) == 0
    assert _open_count(engine, other.id) > 0
    with Session(engine) as s:
        notes = s.exec(
            select(m.FollowUpItem.outcome_note).where(
                m.FollowUpItem.patient_id == small_pnet.id,
                m.FollowUpItem.state == m.ItemState.CANCELLED,
            )
        ).all()
    assert "cancelled: discharged on 2026-11-01: back to the GP" in notes
