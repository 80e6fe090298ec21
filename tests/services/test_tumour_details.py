"""Pack 2027.1's optional tumour facts (issue #15) can be said: stored through the registry
service, audited before/after, loaded into the facts, and planned on — on both backends."""

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.plan import plan
from surveil.core.vocab import AdverseHistology, CarcinoidType, GastricType, NodeStatus
from surveil.db import models as m
from surveil.db.queries import facts_for_patient, facts_for_patients
from surveil.errors import InvalidInput
from surveil.schedules import get_profile, load_pack_versions
from surveil.services.actor import Actor
from surveil.services.planning import care
from surveil.services.records import keeping
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput

TODAY = dt.date(2026, 11, 23)
NINA = Actor(username="nina", role="navigator", clinic="north")


@pytest.fixture
def lung_patient(engine: sa.Engine, settings: Settings) -> int:
    """A resected lung carcinoid, typical or atypical not yet recorded."""
    with Session(engine, expire_on_commit=False) as session:
        patient = registry.enrol_patient(
            session,
            clinic="north",
            data=PatientInput(
                mrn="L1", given_name="Ada", family_name="Lung", birth_date="1960-01-02"
            ),
            tumour=TumourInput(site="lung", ki67="3", diagnosed_on="2026-09-01"),
            state_kind="resected",
            since="2026-10-01",
            resection="R0",
            today=TODAY,
        )
        care.refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=NINA.channel
        )
        session.commit()
        assert patient.id is not None
        return patient.id


def _update(engine: sa.Engine, settings: Settings, pid: int, data: TumourInput) -> None:
    keeping.update_tumour(
        engine, actor=NINA, patient_id=pid, data=data, settings=settings, today=TODAY
    )


def _rules_2027_1(engine: sa.Engine, pid: int) -> set[str]:
    """The rules 2027.1's default profile plans from the facts the registry loads (what
    ``surveil plan --pack-version 2027.1`` computes; the stored items stay those in force)."""
    packs = {k: v["2027.1"] for k, v in load_pack_versions(None).items() if "2027.1" in v}
    pack, profile = get_profile(packs, "net-default:default")
    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None
        facts = facts_for_patient(session, patient)
    return {item.rule for item in plan(facts, pack, profile.name, TODAY).items}


def test_atypical_lung_carcinoid_plans_the_atypical_schedule_under_2027_1(
    engine: sa.Engine, settings: Settings, lung_patient: int
) -> None:
    assert "lung-type-unknown" in _rules_2027_1(engine, lung_patient)
    _update(engine, settings, lung_patient, TumourInput(carcinoid_type="atypical"))
    assert _rules_2027_1(engine, lung_patient) & {"lung-atypical", "lung-typical"} == {
        "lung-atypical"
    }
    _update(engine, settings, lung_patient, TumourInput(carcinoid_type="typical"))
    assert "lung-typical" in _rules_2027_1(engine, lung_patient)
    _update(engine, settings, lung_patient, TumourInput(node_status="N1"))
    assert "lung-typical-node-positive" in _rules_2027_1(engine, lung_patient)


def test_every_detail_is_stored_loaded_and_audited(
    engine: sa.Engine, settings: Settings, lung_patient: int
) -> None:
    data = TumourInput(
        node_status="N1",
        adverse_histology="muscularis, lvi",
        carcinoid_type="atypical",
        gastric_type="type_3",
        carcinoid_heart_disease="yes",
    )
    _update(engine, settings, lung_patient, data)
    with Session(engine) as session:
        patient = session.get(m.Patient, lung_patient)
        assert patient is not None
        tumour = facts_for_patient(session, patient).tumour
        assert tumour is not None
        assert tumour.node_status is NodeStatus.N1
        assert tumour.adverse_histology == {AdverseHistology.LVI, AdverseHistology.MUSCULARIS}
        assert tumour.carcinoid_type is CarcinoidType.ATYPICAL
        assert tumour.gastric_type is GastricType.TYPE_3
        assert tumour.carcinoid_heart_disease is True
        event = session.exec(
            select(m.AuditEvent)
            .where(m.AuditEvent.action == "tumour.updated")
            .order_by(col(m.AuditEvent.id).desc())
        ).first()
        assert event is not None and event.before and event.after
        assert json.loads(event.before)["carcinoid_type"] is None
        after = json.loads(event.after)
        assert after["carcinoid_type"] == "atypical"
        assert after["adverse_histology"] == "lvi,muscularis"
        assert after["carcinoid_heart_disease"] is True


def test_none_seen_and_unknown_are_different(
    engine: sa.Engine, settings: Settings, lung_patient: int
) -> None:
    _update(engine, settings, lung_patient, TumourInput(adverse_histology="none"))
    with Session(engine) as session:
        patients = list(session.exec(select(m.Patient)).all())
        tumour = facts_for_patients(session, patients)[lung_patient].tumour
        assert tumour is not None and tumour.adverse_histology == frozenset()
    _update(
        engine,
        settings,
        lung_patient,
        TumourInput(adverse_histology="unknown", carcinoid_heart_disease="no"),
    )
    with Session(engine) as session:
        patients = list(session.exec(select(m.Patient)).all())
        tumour = facts_for_patients(session, patients)[lung_patient].tumour
        assert tumour is not None and tumour.adverse_histology is None
        assert tumour.carcinoid_heart_disease is False


def test_bad_details_are_all_named_and_nothing_is_written(
    engine: sa.Engine, settings: Settings, lung_patient: int
) -> None:
    bad = TumourInput(
        node_status="N2",
        adverse_histology="lvi,perineural",
        carcinoid_type="atypicl",
        gastric_type="4",
        carcinoid_heart_disease="maybe",
    )
    with pytest.raises(InvalidInput) as raised:
        _update(engine, settings, lung_patient, bad)
    named = {p.field for p in raised.value.problems}
    assert {
        "node_status",
        "adverse_histology",
        "carcinoid_type",
        "gastric_type",
        "carcinoid_heart_disease",
    } <= {name.split(".")[-1] for name in named}
    with Session(engine) as session:
        row = session.exec(select(m.Tumour).where(m.Tumour.patient_id == lung_patient)).one()
        assert (row.node_status, row.carcinoid_type, row.adverse_histology) == (None, None, None)


def test_enrolment_refuses_a_bad_detail_with_the_patient(engine: sa.Engine) -> None:
    with Session(engine) as session, pytest.raises(InvalidInput) as raised:
        registry.enrol_patient(
            session,
            clinic="north",
            data=PatientInput(mrn="L2", given_name="B", family_name="C", birth_date="1970-01-01"),
            tumour=TumourInput(site="lung", carcinoid_type="spindle"),
            state_kind=None,
            since=None,
            resection=None,
            today=TODAY,
        )
    assert any(p.field.endswith("carcinoid_type") for p in raised.value.problems)
