"""One way in for keeping the record right (issue 13 part B-2), on both backends: a dose given,
a mistyped measurement or marker struck out or corrected (kept in history, audited before and
after, the trigger only the mistake raised withdrawn, the plan derived again), and the outreach
log (shown on the worklist row). A refused call names every problem and leaves every table as it
was."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.queries import facts_for_patient
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.export.fhir.bundle import export_patient_bundle
from surveil.services.planning import care
from surveil.services.recordkeeping import corrections, doses, outreach, panel
from surveil.services.records import results, trigger_review
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.worklist.sections import WorklistQuery
from surveil.services.worklist.views import show_worklist
from tests.services.test_one_way_in_records import as_rows, audit_rows, snapshot

COVERED: frozenset[str] = frozenset(
    {
        "surveil.services.recordkeeping.doses.record_dose",
        "surveil.services.recordkeeping.corrections.strike_measurement",
        "surveil.services.recordkeeping.corrections.correct_measurement",
        "surveil.services.recordkeeping.corrections.strike_marker",
        "surveil.services.recordkeeping.corrections.correct_marker",
        "surveil.services.recordkeeping.outreach.record_outreach",
        "surveil.services.recordkeeping.panel.show_results",
    }
)

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC)
NINA = Actor("nina", "navigator", "north", ip="10.0.0.7")
SAM = Actor("sam", "navigator", "south", ip="10.0.0.8")
DORA = Actor("dora", "clinician", "north", ip="10.0.0.9")


@pytest.fixture
def patient(engine: sa.Engine, settings: Settings) -> int:
    """A small G1 pancreatic NET on surveillance, 10 mm a year ago (building blocks: no audit)."""
    with Session(engine, expire_on_commit=False) as session:
        found = registry.enrol_patient(
            session,
            clinic="north",
            data=PatientInput(
                mrn="P1", given_name="Ada", family_name="Lovelace", birth_date="1962-03-14"
            ),
            tumour=TumourInput(site="pancreas", ki67="2", size_mm="10", diagnosed_on="2025-03-02"),
            state_kind="active_surveillance",
            since="2025-03-02",
            resection=None,
            today=TODAY,
        )
        registry.add_measurement(
            session,
            patient=found,
            lesion="L1",
            date="2025-11-20",
            diameter_mm=10,
            modality="mri",
            today=TODAY,
        )
        care.refresh_patient(
            session, patient=found, settings=settings, today=TODAY, channel=Channel.CLI
        )
        session.commit()
        return found.id or 0


def _rows_after(engine: sa.Engine, seen: int) -> list[tuple[str, str, str, int | None, str | None]]:
    return as_rows([e for e in audit_rows(engine) if (e.id or 0) > seen])


def _last_audit(engine: sa.Engine) -> int:
    rows = audit_rows(engine)
    return rows[-1].id or 0 if rows else 0


def _refused(engine: sa.Engine, call: object, error: type[Exception]) -> Exception:
    before = snapshot(engine)
    with pytest.raises(error) as raised:
        call()  # type: ignore[operator]
    assert snapshot(engine) == before
    return raised.value


def test_an_ssa_injection_is_its_own_row_and_moves_the_last_dose(
    engine: sa.Engine, settings: Settings, patient: int
) -> None:
    with Session(engine) as session:
        row = registry.add_therapy(
            session,
            patient=session.get_one(m.Patient, patient),
            kind="ssa",
            agent="lanreotide 120 mg",
            started_on="2026-09-01",
            today=TODAY,
        )
        session.commit()
        therapy = row.id or 0

    def give(actor: Actor, day: str, note: str = "") -> object:
        return doses.record_dose(
            engine,
            actor=actor,
            patient_id=patient,
            therapy_id=therapy,
            given_on=day,
            note=note,
            settings=settings,
            today=TODAY,
        )

    problem = _refused(engine, lambda: give(NINA, "2026-08-01", "a\x07"), InvalidInput)
    assert {p.field for p in problem.problems} == {"given_on", "note"}  # type: ignore[attr-defined]
    _refused(engine, lambda: give(SAM, "2026-11-20"), NotFound)

    seen = _last_audit(engine)
    outcome = give(NINA, "2026-11-20", "left buttock")
    assert _rows_after(engine, seen) == [
        ("therapy.dose_given", "nina", "web", patient, f"therapy:{therapy}")
    ]
    assert "lanreotide 120 mg given on 2026-11-20" in outcome.message  # type: ignore[attr-defined]
    give(NINA, "2026-10-23")  # an earlier injection entered late: the last dose stays
    with Session(engine) as session:
        stored = session.get_one(m.Therapy, therapy)
        given = session.exec(select(m.TherapyDose.given_on).order_by(col(m.TherapyDose.id))).all()
    assert (stored.cycles_given, stored.last_given_on) == (2, dt.date(2026, 11, 20))
    assert given == [dt.date(2026, 11, 20), dt.date(2026, 10, 23)]


def _record_40mm(engine: sa.Engine, settings: Settings, patient: int) -> int:
    outcome = results.record_measurement(
        engine,
        actor=NINA,
        patient_id=patient,
        lesion="L1",
        date="2026-11-20",
        diameter_mm="40",  # meant 10.4
        modality="mri",
        settings=settings,
        today=TODAY,
    )
    assert "growth_rate" in outcome.new_triggers
    assert outcome.plan_changes  # the tumour board and the new imaging are named
    with Session(engine) as session:
        return int(session.exec(select(sa.func.max(m.Measurement.id))).one())


def _open_triggers(engine: sa.Engine, patient: int) -> list[str]:
    with Session(engine) as session:
        return sorted(
            t.kind
            for t in session.exec(select(m.Trigger).where(m.Trigger.patient_id == patient))
            if t.state != m.TriggerState.RESOLVED
        )


def test_correcting_a_mistyped_measurement_withdraws_the_trigger_it_caused(
    engine: sa.Engine, settings: Settings, patient: int
) -> None:
    wrong = _record_40mm(engine, settings, patient)
    assert "growth_rate" in _open_triggers(engine, patient)
    # A clinician confirms what the trigger proposed: the patient leaves surveillance.
    with Session(engine) as session:
        growth = session.exec(
            select(m.Trigger).where(
                m.Trigger.patient_id == patient, m.Trigger.kind == "growth_rate"
            )
        ).one()
    trigger_review.confirm_consequences(
        engine, trigger_id=growth.id or 0, actor=DORA, settings=settings, today=TODAY, now=NOW
    )

    def correct(actor: Actor, mm: str, reason: str) -> object:
        return corrections.correct_measurement(
            engine,
            actor=actor,
            patient_id=patient,
            measurement_id=wrong,
            diameter_mm=mm,
            reason=reason,
            settings=settings,
            today=TODAY,
        )

    problem = _refused(engine, lambda: correct(NINA, "-3", " "), InvalidInput)
    assert {p.field for p in problem.problems} == {"diameter_mm", "reason"}  # type: ignore[attr-defined]
    _refused(engine, lambda: correct(SAM, "10.4", "typo"), NotFound)

    seen = _last_audit(engine)
    outcome = correct(NINA, "10.4", "typed 40 for 10.4")
    with Session(engine) as session:
        old = session.get_one(m.Measurement, wrong)
        new = session.exec(select(m.Measurement).where(m.Measurement.replaces_id == wrong)).one()
        withdrawn = session.exec(
            select(m.Trigger).where(
                m.Trigger.patient_id == patient, m.Trigger.kind == "growth_rate"
            )
        ).one()
        patient_row = session.get_one(m.Patient, patient)
        facts = facts_for_patient(session, patient_row)
        struck_event = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "measurement.struck_out")
        ).one()
    # Kept in history with its value; the correction names it; the trigger is closed with why.
    assert (old.diameter_mm, old.struck_out_by) == (40, "nina")
    assert old.struck_out_reason == "corrected: typed 40 for 10.4"
    assert new.diameter_mm == 10.4
    assert withdrawn.state == m.TriggerState.RESOLVED
    assert withdrawn.outcome == "withdrawn: corrected: typed 40 for 10.4"
    assert [x.mm for x in facts.measurements] == [10, 10.4]
    assert '"mm": 40' in (struck_event.before or "")
    rows = _rows_after(engine, seen)
    assert rows[:3] == [
        ("measurement.struck_out", "nina", "web", patient, f"measurement:{wrong}"),
        ("measurement.recorded", "nina", "web", patient, f"measurement:{new.id}"),
        ("measurement.corrected", "nina", "web", patient, f"measurement:{new.id}"),
    ]
    assert ("trigger.withdrawn", "system", "web", patient, f"trigger:{withdrawn.id}") in rows
    assert "growth_rate" not in _open_triggers(engine, patient)
    with Session(engine) as session:
        states = session.exec(
            select(m.DiseaseState)
            .where(m.DiseaseState.patient_id == patient)
            .order_by(col(m.DiseaseState.id))
        ).all()
    # The typo had moved the patient out of surveillance; the correction moves them back, as
    # if the move had never happened (the audit keeps both).
    assert [(s.kind, s.end_date) for s in states] == [("active_surveillance", None)]
    assert ("state.reverted", "system", "web", patient, f"state:{states[0].id}") in rows
    assert outcome.message.startswith("corrected to L1 10.4 mm")  # type: ignore[attr-defined]
    _refused(engine, lambda: correct(NINA, "10.4", "again"), Conflict)  # already struck out


def test_striking_out_a_marker_keeps_it_and_the_facts_forget_it(
    engine: sa.Engine, settings: Settings, patient: int
) -> None:
    results.record_marker(
        engine,
        actor=NINA,
        patient_id=patient,
        name="cga",
        value="900",
        unit="ng/mL",
        uln="100",
        date="2026-11-20",
        settings=settings,
        today=TODAY,
    )
    with Session(engine) as session:
        marker = int(session.exec(select(sa.func.max(m.MarkerResult.id))).one())

    def strike(actor: Actor, reason: str) -> object:
        return corrections.strike_marker(
            engine,
            actor=actor,
            patient_id=patient,
            marker_id=marker,
            reason=reason,
            settings=settings,
            today=TODAY,
        )

    _refused(engine, lambda: strike(NINA, ""), InvalidInput)
    _refused(engine, lambda: strike(SAM, "wrong patient"), NotFound)
    seen = _last_audit(engine)
    strike(NINA, "another patient's sample")
    rows = _rows_after(engine, seen)
    assert rows[0] == ("marker.struck_out", "nina", "web", patient, f"marker:{marker}")
    assert all(r[0] in {"marker.struck_out", "trigger.withdrawn"} for r in rows)
    with Session(engine) as session:
        kept = session.get_one(m.MarkerResult, marker)
        facts = facts_for_patient(session, session.get_one(m.Patient, patient))
    assert kept.value == 900 and kept.struck_out_at is not None
    assert facts.markers == () or all(x.value != 900 for x in facts.markers)

    corrected = _refused(
        engine,
        lambda: corrections.correct_marker(
            engine,
            actor=NINA,
            patient_id=patient,
            marker_id=marker,
            value="90",
            reason="typo",
            settings=settings,
            today=TODAY,
        ),
        Conflict,
    )
    assert "already struck out" in str(corrected)


def test_a_corrected_marker_replaces_the_mistyped_value(
    engine: sa.Engine, settings: Settings, patient: int
) -> None:
    results.record_marker(
        engine,
        actor=NINA,
        patient_id=patient,
        name="cga",
        value="9000",
        unit="ng/mL",
        date="2026-11-20",
        settings=settings,
        today=TODAY,
    )
    with Session(engine) as session:
        marker = int(session.exec(select(sa.func.max(m.MarkerResult.id))).one())
    seen = _last_audit(engine)
    corrections.correct_marker(
        engine,
        actor=NINA,
        patient_id=patient,
        marker_id=marker,
        value="90",
        reason="one zero too many",
        settings=settings,
        today=TODAY,
    )
    with Session(engine) as session:
        new = session.exec(select(m.MarkerResult).where(m.MarkerResult.replaces_id == marker)).one()
    assert (new.value, new.unit, new.date) == (90, "ng/mL", dt.date(2026, 11, 20))
    assert _rows_after(engine, seen)[:3] == [
        ("marker.struck_out", "nina", "web", patient, f"marker:{marker}"),
        ("marker.recorded", "nina", "web", patient, f"marker:{new.id}"),
        ("marker.corrected", "nina", "web", patient, f"marker:{new.id}"),
    ]


def test_an_outreach_call_is_logged_and_shows_on_the_worklist_row(
    engine: sa.Engine, settings: Settings, patient: int
) -> None:
    with Session(engine) as session:
        item = session.exec(
            select(m.FollowUpItem).where(m.FollowUpItem.patient_id == patient)
        ).first()
    assert item is not None

    def call(actor: Actor, channel: str, result: str, item_id: object = None) -> object:
        return outreach.record_outreach(
            engine,
            actor=actor,
            patient_id=patient,
            channel=channel,
            result=result,
            note="asked to call back after 5",
            item_id=item_id,  # type: ignore[arg-type]
            now=NOW,
        )

    problem = _refused(engine, lambda: call(NINA, "fax", ""), InvalidInput)
    assert {p.field for p in problem.problems} == {"channel", "result"}  # type: ignore[attr-defined]
    _refused(engine, lambda: call(SAM, "call", "voicemail"), NotFound)
    _refused(engine, lambda: call(NINA, "call", "voicemail", 999999), NotFound)

    seen = _last_audit(engine)
    outcome = call(NINA, "call", "voicemail", item.id)
    with Session(engine) as session:
        row = session.exec(select(m.OutreachContact)).one()
        log = outreach.contact_log(session, patient_id=patient)
    assert _rows_after(engine, seen) == [
        ("outreach.recorded", "nina", "web", patient, f"outreach:{row.id}")
    ]
    assert outcome.message.startswith("recorded call about")  # type: ignore[attr-defined]
    assert [c.words for c in log] == ["call: left a voicemail"]
    assert log[0].note == "asked to call back after 5" and log[0].by == "nina"

    worklist = show_worklist(
        engine,
        actor=NINA,
        query=WorklistQuery(today=dt.date(2027, 6, 1), clinic="north"),
        settings=settings,
    )
    shown = [r for s in worklist.sections for r in s.rows if r.patient_id == patient]
    assert shown and all(
        r.last_contact == "last contact 2026-11-23: call, left a voicemail" for r in shown
    )


def test_a_struck_out_measurement_leaves_the_fhir_export(
    engine: sa.Engine, settings: Settings, patient: int
) -> None:
    wrong = _record_40mm(engine, settings, patient)

    def values() -> list[float]:
        bundle = export_patient_bundle(
            engine, actor=NINA, patient_id=patient, settings=settings, now=NOW
        )
        return sorted(
            e["resource"]["valueQuantity"]["value"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and "valueQuantity" in e["resource"]
            and e["resource"]["valueQuantity"].get("unit") == "mm"
        )

    assert 40 in values()
    corrections.strike_measurement(
        engine,
        actor=NINA,
        patient_id=patient,
        measurement_id=wrong,
        reason="another patient's scan",
        settings=settings,
        today=TODAY,
    )
    assert 40 not in values() and 10 in values()


def test_listing_the_results_is_an_audited_read(
    engine: sa.Engine, settings: Settings, patient: int
) -> None:
    wrong = _record_40mm(engine, settings, patient)
    _refused(
        engine, lambda: panel.show_results(engine, actor=SAM, mrn="P1", clinic="north"), NotFound
    )
    seen = _last_audit(engine)
    shown = panel.show_results(engine, actor=NINA, mrn="P1", clinic="north")
    assert shown.measurements[0].id == wrong  # newest first
    assert _rows_after(engine, seen) == [
        ("results.viewed", "nina", "web", patient, f"patient:{patient}")
    ]
