"""Pack 2027.1's tumour facts in the FHIR export (issue 15), on SQLite and PostgreSQL: node
status (LOINC 21900-6 and the local code), adverse histology (a component per feature), carcinoid
and gastric type as Observations about the tumour's Condition, carcinoid heart disease as its own
Condition (confirmed, or refuted when recorded absent); nothing for a fact not recorded. Every
Bundle is validated as R4 and its references resolve."""

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.export.fhir.bundle import export_patient_bundle
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import TumourInput
from tests.fhir_checks import by_type, validate_bundle
from tests.web.seed import make_patient

TODAY = dt.date(2026, 6, 15)
NOW = dt.datetime(2026, 6, 15, 9, 30, tzinfo=dt.UTC)
NINA = Actor(username="nina", role="navigator", clinic="north", ip="203.0.113.7")


def enrol(engine: sa.Engine, mrn: str, site: str, **details: str) -> tuple[int, int]:
    with Session(engine, expire_on_commit=False) as session:
        patient = make_patient(session, mrn, clinic="north", site=site)
        tumour = registry.set_tumour(
            session, patient=patient, data=TumourInput(**details), today=TODAY
        )
        session.commit()
        assert patient.id and tumour.id
        return patient.id, tumour.id


def export(engine: sa.Engine, settings: Settings, patient_id: int) -> list[dict[str, Any]]:
    bundle = export_patient_bundle(
        engine, actor=NINA, patient_id=patient_id, settings=settings, now=NOW
    )
    return validate_bundle(json.loads(json.dumps(bundle)))


def by_id(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{r['resourceType']}/{r['id']}": r for r in resources}


def codes(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(coding["system"], coding["code"]) for coding in concept["coding"]}


def test_lung_carcinoid_with_nodes_and_heart_disease(engine: sa.Engine, settings: Settings) -> None:
    with Session(engine) as session:
        session.add(m.User(username="nina", display_name="Nina", role="navigator",
                           clinic="north", password_hash="!"))  # fmt: skip
        session.commit()
    pid, tid = enrol(engine, "L-1", "lung", node_status="N1", carcinoid_type="atypical",
                     carcinoid_heart_disease="yes")  # fmt: skip
    found = by_id(export(engine, settings, pid))
    nodes = found[f"Observation/node-status-{tid}"]
    assert codes(nodes["code"]) == {
        ("http://loinc.org", "21900-6"),
        ("urn:surveil:observation", "node-status"),
    }
    assert codes(nodes["valueCodeableConcept"]) == {("urn:surveil:tumour-fact", "N1")}
    assert nodes["focus"] == [{"reference": f"Condition/{tid}"}]
    assert nodes["subject"] == {"reference": f"Patient/{pid}"}
    kind = found[f"Observation/carcinoid-type-{tid}"]
    assert kind["valueCodeableConcept"]["text"] == "Atypical carcinoid"
    heart = found[f"Condition/carcinoid-heart-{tid}"]
    assert codes(heart["verificationStatus"]) == {
        ("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed")
    }
    assert codes(heart["clinicalStatus"]) == {
        ("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
    }
    # Not recorded: no adverse-histology or gastric-type Observation at all.
    assert f"Observation/adverse-histology-{tid}" not in found
    assert f"Observation/gastric-type-{tid}" not in found


def test_adverse_histology_gastric_type_and_heart_disease_absent(
    engine: sa.Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        session.add(m.User(username="nina", display_name="Nina", role="navigator",
                           clinic="north", password_hash="!"))  # fmt: skip
        session.commit()
    pid, tid = enrol(engine, "R-1", "rectum", adverse_histology="lvi,muscularis",
                     carcinoid_heart_disease="no")  # fmt: skip
    found = by_id(export(engine, settings, pid))
    adverse = found[f"Observation/adverse-histology-{tid}"]
    assert {c["code"]["coding"][0]["code"]: c["valueBoolean"] for c in adverse["component"]} == {
        "lvi": True,
        "muscularis": True,
        "mesoappendix": False,
    }
    heart = found[f"Condition/carcinoid-heart-{tid}"]
    assert codes(heart["verificationStatus"]) == {
        ("http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted")
    }
    assert "clinicalStatus" not in heart

    gid, gtid = enrol(engine, "G-1", "stomach", gastric_type="type_1", adverse_histology="none")
    gastric = by_id(export(engine, settings, gid))
    kind = gastric[f"Observation/gastric-type-{gtid}"]
    assert codes(kind["valueCodeableConcept"]) == {("urn:surveil:tumour-fact", "type_1")}
    assert kind["category"][0]["coding"][0]["code"] == "exam"
    none_seen = gastric[f"Observation/adverse-histology-{gtid}"]
    assert not any(c["valueBoolean"] for c in none_seen["component"])
    assert "none of these features" in none_seen["note"][0]["text"]
    assert len(by_type(list(gastric.values()), "Condition")) == 1  # heart disease not recorded
