"""The patient page's entry points (``services.records.keeping``), on both backends: each leaves
exactly its audit rows, refuses bad input and another clinic's navigator with nothing written,
and tells what it did to the plan (the open items before and after, in its transaction)."""

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.planning import care
from surveil.services.records import keeping
from surveil.services.records.keeping import KeptOutcome
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.users import accounts

TODAY = dt.date(2026, 11, 23)
NINA = Actor(username="nina", role="navigator", clinic="north")
SAM = Actor(username="sam", role="navigator", clinic="south")

COVERED: frozenset[str] = frozenset(
    f"surveil.services.records.keeping.{name}"
    for name in (
        "update_details",
        "reassign_navigator",
        "update_tumour",
        "record_pathology",
        "change_state",
    )
)

Call = Callable[..., KeptOutcome]  # (engine, patient id, settings[, actor])
Row = tuple[str, str, int | None]  # action, actor, patient


@dataclass(frozen=True)
class Case:
    name: str
    good: Call
    bad: Call
    actions: tuple[str, ...]  # the audit actions the good call leaves, by nina


@pytest.fixture
def patient_id(engine: sa.Engine, settings: Settings) -> int:
    """A small G1 pancreatic NET on surveillance in clinic north, owned by nina, planned."""
    with Session(engine, expire_on_commit=False) as session:
        for name, clinic in (("nina", "north"), ("nora", "north"), ("sam", "south")):
            accounts.add_user(
                session,
                username=name,
                display_name=name.title(),
                role="navigator",
                clinic=clinic,
                password="correct horse battery",
            )
        patient = registry.enrol_patient(
            session,
            clinic="north",
            data=PatientInput(
                mrn="P1",
                given_name="Ada",
                family_name="Lovelace",
                birth_date="1962-03-14",
                email="ada@example.org",
                navigator="nina",
            ),
            tumour=TumourInput(site="pancreas", ki67="2", size_mm="12", diagnosed_on="2025-03-02"),
            state_kind="active_surveillance",
            since="2025-03-02",
            resection=None,
            today=TODAY,
        )
        care.refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=NINA.channel
        )
        session.commit()
        assert patient.id is not None
        return patient.id


def _details(data: PatientInput) -> Call:
    return lambda engine, pid, settings, actor=NINA: keeping.update_details(
        engine, actor=actor, patient_id=pid, data=data, settings=settings, today=TODAY
    )


def _navigator(name: str) -> Call:
    return lambda engine, pid, settings, actor=NINA: keeping.reassign_navigator(
        engine, actor=actor, patient_id=pid, navigator=name, settings=settings, today=TODAY
    )


def _tumour(data: TumourInput) -> Call:
    return lambda engine, pid, settings, actor=NINA: keeping.update_tumour(
        engine, actor=actor, patient_id=pid, data=data, settings=settings, today=TODAY
    )


def _pathology(ki67: str, date: str = "2026-11-20") -> Call:
    return lambda engine, pid, settings, actor=NINA: keeping.record_pathology(
        engine,
        actor=actor,
        patient_id=pid,
        date=date,
        ki67=ki67,
        mitoses="",
        differentiation="",
        settings=settings,
        today=TODAY,
    )


def _state(kind: str, reason: str, since: str = "2026-11-01") -> Call:
    return lambda engine, pid, settings, actor=NINA: keeping.change_state(
        engine,
        actor=actor,
        patient_id=pid,
        kind=kind,
        since=since,
        resection="R0" if kind == "resected" else "",
        reason=reason,
        settings=settings,
        today=TODAY,
    )


CASES = [
    Case(
        "update_details",
        _details(PatientInput(phone="+447700900123", consent_reminders=False, language="cy")),
        _details(PatientInput(phone="0770", language="not a tag", timezone="Mars/Base")),
        ("patient.updated",),
    ),
    Case("reassign_navigator", _navigator("nora"), _navigator("sam"), ("navigator.reassigned",)),
    Case(
        "update_tumour",
        _tumour(TumourInput(stage="regional", size_mm="15")),
        _tumour(TumourInput(stage="nowhere", size_mm="-1")),
        ("tumour.updated",),
    ),
    Case(
        "record_pathology",
        _pathology("2.5"),
        _pathology("140", date="2999-01-01"),
        ("pathology.recorded",),
    ),
    Case(
        "change_state",
        _state("resected", "Whipple, R0"),
        _state("remission", "", since="1900-01-01"),
        ("state.set",),
    ),
]


def _record(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            t.name: [tuple(r) for r in connection.execute(sa.select(t)).all()]
            for t in SQLModel.metadata.sorted_tables
            if t.name != "login_attempt"
        }


def _rows_after(engine: sa.Engine, seen: int) -> list[Row]:
    with Session(engine) as session:
        rows = session.exec(
            select(m.AuditEvent).where(col(m.AuditEvent.id) > seen).order_by(col(m.AuditEvent.id))
        ).all()
    return [(r.action, r.actor, r.patient_id) for r in rows if r.actor == "nina"]


def _last_audit(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(sa.func.max(m.AuditEvent.id))).one() or 0


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_entry_point_refuses_then_audits(
    case: Case, engine: sa.Engine, settings: Settings, patient_id: int
) -> None:
    before = _record(engine)
    with pytest.raises(InvalidInput) as refused:
        case.bad(engine, patient_id, settings)
    assert len(refused.value.problems) >= 1
    assert _record(engine) == before, "a refused change writes nothing"

    with pytest.raises(NotFound):
        case.good(engine, patient_id, settings, SAM)
    assert _record(engine) == before, "another clinic's navigator changes nothing"

    seen = _last_audit(engine)
    outcome = case.good(engine, patient_id, settings)
    assert outcome.patient_id == patient_id and outcome.message
    assert _rows_after(engine, seen) == [(a, "nina", patient_id) for a in case.actions]


def test_every_problem_is_listed_at_once(
    engine: sa.Engine, settings: Settings, patient_id: int
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _details(PatientInput(phone="0770", language="not a tag", timezone="Mars/Base"))(
            engine, patient_id, settings
        )
    assert {p.field for p in refused.value.problems} == {"phone", "language", "timezone"}
    with pytest.raises(InvalidInput) as state:
        _state("remission", "", since="1900-01-01")(engine, patient_id, settings)
    assert {"reason", "kind"} <= {p.field for p in state.value.problems}


def test_a_ki67_that_raises_the_grade_fires_the_trigger_and_changes_the_plan(
    engine: sa.Engine, settings: Settings, patient_id: int
) -> None:
    outcome = _pathology("8")(engine, patient_id, settings)
    assert "grade_change" in outcome.new_triggers
    assert not outcome.plan.empty
    assert outcome.plan.summary().startswith("Plan: ")
    with Session(engine) as session:
        tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient_id)).one()
    assert tumour.grade == "G2"


def test_a_change_that_touches_no_rule_says_the_plan_did_not_change(
    engine: sa.Engine, settings: Settings, patient_id: int
) -> None:
    outcome = _details(PatientInput(phone="+447700900123"))(engine, patient_id, settings)
    assert outcome.plan.empty and outcome.plan.summary() == "The plan did not change."


def test_a_living_patient_keeps_a_named_navigator(
    engine: sa.Engine, settings: Settings, patient_id: int
) -> None:
    before = _record(engine)
    for name in ("", "nobody", "sam"):
        with pytest.raises(InvalidInput) as refused:
            _navigator(name)(engine, patient_id, settings)
        assert [p.field for p in refused.value.problems] == ["navigator"]
    assert _record(engine) == before
    _navigator("nora")(engine, patient_id, settings)
    with Session(engine) as session:
        patient = session.get(m.Patient, patient_id)
        nora = session.exec(select(m.User).where(m.User.username == "nora")).one()
        event = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "navigator.reassigned")
        ).one()
    assert patient is not None and patient.navigator_id == nora.id
    assert (json.loads(event.before or ""), json.loads(event.after or "")) == (
        {"navigator": "nina"},
        {"navigator": "nora"},
    )


def test_contact_details_can_be_cleared_and_a_death_recorded(
    engine: sa.Engine, settings: Settings, patient_id: int
) -> None:
    _details(PatientInput(email="", language=""))(engine, patient_id, settings)
    outcome = _details(PatientInput(deceased_on="2026-11-20"))(engine, patient_id, settings)
    with Session(engine) as session:
        patient = session.get(m.Patient, patient_id)
        open_items = session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == patient_id,
                col(m.FollowUpItem.state).in_([s.value for s in m.OPEN_ITEM_STATES]),
            )
        ).all()
    assert patient is not None and patient.email is None and patient.language is None
    assert patient.deceased_on == dt.date(2026, 11, 20)
    assert open_items == [] and outcome.plan.gone


def test_a_state_change_without_a_reason_keeps_nothing(
    engine: sa.Engine, settings: Settings, patient_id: int
) -> None:
    before = _record(engine)
    with pytest.raises(InvalidInput) as refused:
        _state("resected", "  ")(engine, patient_id, settings)
    assert [p.field for p in refused.value.problems] == ["reason"]
    assert _record(engine) == before
