"""One patient's $everything Bundle, built by the read service on SQLite and PostgreSQL: valid
R4, the plan as the planner stored it, the results with their codes, clinic isolation and the
audit trail."""

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import NotFound
from surveil.services.actor import Actor
from surveil.services.export.fhir.bundle import export_patient_bundle
from surveil.services.planning.care import refresh_patient
from surveil.services.registry import patients as registry
from tests.fhir_checks import by_type, validate_bundle
from tests.web.seed import make_item, make_patient

TODAY = dt.date(2026, 6, 15)
NOW = dt.datetime(2026, 6, 15, 9, 30, tzinfo=dt.UTC)
NINA = Actor(username="nina", role="navigator", clinic="north", ip="203.0.113.7")
SAM = Actor(username="sam", role="navigator", clinic="south", ip="203.0.113.8")
ADA = Actor(username="ada", role="admin", clinic="south")


@dataclass(frozen=True)
class Registry:
    growing: int  # a north pNET: two scans a year apart, two markers, a plan from the pack
    unplanned: int  # a north patient the planner never ran for


@pytest.fixture
def registry_rows(engine: sa.Engine, settings: Settings) -> Registry:
    with Session(engine, expire_on_commit=False) as session:
        # The navigator as a bare row: these tests act as Actors and never log in (a real
        # password hash costs half a second; the web tests cover logging in).
        session.add(
            m.User(username="nina", display_name="Nina", role="navigator", clinic="north",
                   password_hash="!")
        )  # fmt: skip
        growing = make_patient(session, "N-1", clinic="north", navigator="nina")
        for day, mm in [("2025-03-10", 12), ("2026-03-10", 18)]:
            registry.add_measurement(
                session, patient=growing, lesion="L1", date=day, diameter_mm=mm, modality="mri",
                today=TODAY,
            )  # fmt: skip
        registry.add_marker(
            session, patient=growing, name="cga", value=240, unit="ug/L", uln=100,
            date="2026-03-02", on_ppi=True, today=TODAY,
        )  # fmt: skip
        registry.add_marker(
            session, patient=growing, name="5hiaa", value=40, unit="umol/24h", uln=50,
            date="2026-03-02", today=TODAY,
        )  # fmt: skip
        refresh_patient(
            session, patient=growing, settings=settings, today=TODAY, channel=Channel.WEB
        )
        unplanned = make_patient(session, "N-2", clinic="north", family="Byron", given="Ada")
        session.commit()
        assert growing.id and unplanned.id
        return Registry(growing=growing.id, unplanned=unplanned.id)


def export(engine: sa.Engine, settings: Settings, patient_id: int, actor: Actor = NINA) -> Any:
    bundle = export_patient_bundle(
        engine, actor=actor, patient_id=patient_id, settings=settings, now=NOW
    )
    # What a client receives is text: parse it back before checking anything.
    return json.loads(json.dumps(bundle))


def open_items(engine: sa.Engine, patient_id: int) -> list[m.FollowUpItem]:
    with Session(engine) as session:
        query = select(m.FollowUpItem).where(
            m.FollowUpItem.patient_id == patient_id,
            col(m.FollowUpItem.state).in_([s.value for s in m.OPEN_ITEM_STATES]),
        )
        return list(session.exec(query).all())


def events(engine: sa.Engine, action: str) -> list[m.AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(m.AuditEvent).where(m.AuditEvent.action == action)))


def test_the_bundle_is_valid_r4_with_every_part_of_the_record(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    bundle = export(engine, settings, registry_rows.growing)
    resources = validate_bundle(bundle)
    items = open_items(engine, registry_rows.growing)
    assert len(items) >= 3  # the pack's MRI and markers, and the growth trigger's tumour board
    counts = Counter(r["resourceType"] for r in resources)
    assert counts == {
        "Patient": 1,
        "Condition": 1,
        "CarePlan": 1,
        "ServiceRequest": len(items),
        "Task": len(items),
        "Observation": 2 + 2 + 1,  # two diameters, two markers, one growth rate
    }
    assert bundle["type"] == "searchset"
    assert bundle["entry"][0]["search"]["mode"] == "match"
    assert bundle["link"][0]["url"].endswith(f"/fhir/Patient/{registry_rows.growing}/$everything")


def test_each_open_item_is_a_service_request_with_its_window_rule_and_provenance(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    resources = validate_bundle(export(engine, settings, registry_rows.growing))
    requests = {r["id"]: r for r in by_type(resources, "ServiceRequest")}
    for item in open_items(engine, registry_rows.growing):
        request = requests[str(item.id)]
        assert (request["status"], request["intent"]) == ("active", "plan")
        assert request["occurrencePeriod"] == {
            "start": item.earliest.isoformat(),
            "end": item.latest.isoformat(),
        }
        assert request["reasonCode"][0]["coding"][0] == {
            "system": "urn:surveil:rule", "code": item.rule_id, "display": item.rule_id,
        }  # fmt: skip
        note = request["note"][0]["text"]
        assert f"protocol {item.pack_id} v{item.pack_version} (profile {item.profile})" in note
        assert f"source {item.source}" in note and f"target date {item.target}" in note
        assert request["instantiatesUri"] == [
            f"urn:surveil:protocol:{item.pack_id}:{item.pack_version}:{item.profile}"
        ]
        kind = [c for c in request["code"]["coding"] if c["system"] == "urn:surveil:item-kind"]
        assert kind[0]["code"] == item.kind
    plan = by_type(resources, "CarePlan")[0]
    assert (plan["status"], plan["intent"]) == ("active", "plan")
    assert [a["reference"]["reference"] for a in plan["activity"]] == [
        f"ServiceRequest/{i}" for i in requests
    ]


def test_the_growth_trigger_s_board_review_names_its_trigger_rule(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    resources = validate_bundle(export(engine, settings, registry_rows.growing))
    board = [
        r
        for r in by_type(resources, "ServiceRequest")
        if any(c["code"] == "tumour_board" for c in r["code"]["coding"])
    ]
    assert len(board) == 1
    assert board[0]["reasonCode"][0]["coding"][0]["code"].endswith(":growth_rate")
    assert "6 mm/year" in board[0]["reasonCode"][0]["text"]


def test_tasks_belong_to_the_navigator_and_follow_the_item_state(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    items = sorted(open_items(engine, registry_rows.growing), key=lambda i: i.id or 0)
    booked_at = dt.datetime(2026, 6, 20, 8, 15, tzinfo=dt.UTC)
    with Session(engine) as session:  # the navigator's actions, as rows (tested elsewhere)
        ordered, booked, snoozed = (session.get(m.FollowUpItem, i.id) for i in items[:3])
        assert ordered and booked and snoozed
        ordered.state = m.ItemState.ORDERED
        booked.state, booked.booked_at = m.ItemState.BOOKED, booked_at
        snoozed.snoozed_until, snoozed.snooze_reason = dt.date(2026, 6, 30), "patient away"
        session.add_all([ordered, booked, snoozed])
        session.commit()
    resources = validate_bundle(export(engine, settings, registry_rows.growing))
    tasks = {t["id"]: t for t in by_type(resources, "Task")}
    expected = [("in-progress", "ordered"), ("in-progress", "booked"), ("requested", "planned")]
    for item, (status, state) in zip(items, expected, strict=False):
        task = tasks[str(item.id)]
        assert task["status"] == status
        assert task["businessStatus"]["coding"][0]["code"] == state
        assert task["focus"] == {"reference": f"ServiceRequest/{item.id}"}
        assert task["owner"]["identifier"] == {"system": "urn:surveil:user", "value": "nina"}
        assert task["owner"]["display"] == "Nina"
    assert "for 2026-06-20T08:15:00+00:00" in tasks[str(items[1].id)]["businessStatus"]["text"]
    assert (
        "snoozed until 2026-06-30: patient away"
        in (tasks[str(items[2].id)]["businessStatus"]["text"])
    )


def test_results_carry_loinc_codes_units_and_the_derived_growth_rate(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    resources = validate_bundle(export(engine, settings, registry_rows.growing))
    observations = {o["id"]: o for o in by_type(resources, "Observation")}
    markers = {
        c["code"]: o
        for o in observations.values()
        if o["id"].startswith("marker-")
        for c in o["code"]["coding"]
        if c["system"] == "http://loinc.org"
    }
    cga = markers["9811-1"]
    assert cga["valueQuantity"] == {
        "value": 240.0, "unit": "ug/L", "system": "http://unitsofmeasure.org", "code": "ug/L",
    }  # fmt: skip
    assert cga["referenceRange"][0]["high"]["value"] == 100.0
    assert "proton-pump inhibitor" in cga["note"][0]["text"]
    hiaa = markers["14573-0"]  # umol/24 h: the substance-rate code, not the mass one
    assert hiaa["valueQuantity"]["code"] == "umol/(24.h)"
    growth = next(o for o in observations.values() if o["id"].startswith("growth-rate-"))
    assert growth["valueQuantity"] == {
        "value": 6.0, "unit": "mm/a", "system": "http://unitsofmeasure.org", "code": "mm/a",
    }  # fmt: skip
    assert growth["effectivePeriod"] == {"start": "2025-03-10", "end": "2026-03-10"}
    sources = [observations[ref["reference"].split("/")[1]] for ref in growth["derivedFrom"]]
    assert [s["valueQuantity"]["value"] for s in sources] == [12.0, 18.0]
    assert {s["focus"][0]["identifier"]["value"] for s in [growth, *sources]} == {
        growth["focus"][0]["identifier"]["value"]
    }


def test_the_condition_codes_grade_and_site(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    resources = validate_bundle(export(engine, settings, registry_rows.growing))
    condition = by_type(resources, "Condition")[0]
    grade = condition["stage"][0]
    assert grade["type"]["coding"][0]["code"] == "who-grade"
    assert grade["summary"]["coding"][0]["system"] == "urn:surveil:who-grade"
    assert grade["summary"]["coding"][0]["code"] == "G1"  # Ki-67 2 %
    assert {"system": "http://snomed.info/sct", "code": "15776009", "display": "Pancreas"} in (
        condition["bodySite"][0]["coding"]
    )
    assert condition["code"]["coding"][0]["code"] == "net"
    assert condition["subject"] == {"reference": f"Patient/{registry_rows.growing}"}


def test_a_patient_without_a_plan_has_no_care_plan(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    resources = validate_bundle(export(engine, settings, registry_rows.unplanned))
    assert sorted(r["resourceType"] for r in resources) == ["Condition", "Patient"]


def test_a_one_day_window_is_a_period_that_starts_and_ends_that_day(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    day = dt.date(2026, 7, 1)
    with Session(engine) as session:
        patient = session.get(m.Patient, registry_rows.unplanned)
        assert patient is not None
        item = make_item(session, patient, kind="ssa_injection", earliest=day, latest=day)
        session.commit()
        item_id = item.id
    resources = validate_bundle(export(engine, settings, registry_rows.unplanned))
    request = by_type(resources, "ServiceRequest")[0]
    assert request["id"] == str(item_id)
    assert request["occurrencePeriod"] == {"start": "2026-07-01", "end": "2026-07-01"}
    assert "category" not in request  # neither imaging nor laboratory
    assert len(by_type(resources, "CarePlan")) == 1  # an open item is a plan


def test_the_export_is_audited_as_a_read_with_its_counts(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    export(engine, settings, registry_rows.growing)
    [event] = events(engine, "patient.exported.fhir")
    assert (event.actor, event.patient_id, event.channel) == (
        "nina", registry_rows.growing, Channel.WEB.value,
    )  # fmt: skip
    assert (event.ip, event.subject) == ("203.0.113.7", f"Patient/{registry_rows.growing}")
    assert json.loads(event.after or "{}")["resources"]["Observation"] == 5


def test_another_clinic_s_patient_is_not_found_like_a_missing_one(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    with pytest.raises(NotFound) as refused:
        export(engine, settings, registry_rows.growing, actor=SAM)
    with pytest.raises(NotFound) as missing:
        export(engine, settings, 999_999, actor=SAM)
    assert str(refused.value) == f"no patient with id {registry_rows.growing}"
    assert str(missing.value) == "no patient with id 999999"
    [denied] = events(engine, "access.denied")
    assert (denied.actor, denied.patient_id) == ("sam", registry_rows.growing)
    assert events(engine, "patient.exported.fhir") == []


def test_an_administrator_exports_any_clinic(
    engine: sa.Engine, settings: Settings, registry_rows: Registry
) -> None:
    resources = validate_bundle(export(engine, settings, registry_rows.growing, actor=ADA))
    assert by_type(resources, "Patient")[0]["identifier"][0]["value"] == "N-1"


# The one-way-in register (tests/test_one_way_in.py): both exports are audited reads whose row
# (actor, channel, patient or count) is asserted here and in tests/cli/test_export_cli.py.
COVERED = frozenset(
    {
        "surveil.services.export.fhir.bundle.export_patient_bundle",
        "surveil.services.export.fhir.bulk.export_ndjson",
    }
)
