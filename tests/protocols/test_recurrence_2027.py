"""Recurrence after resection (issue 15): a new lesion measured after an R0 resection must give
the patient PLAN ITEMS (the 2027.1 rule "recurrence-after-resection": SSTR PET within a month, an
MDT review within two weeks, active-disease cross-sectional imaging).
Pure planner table first (rule, version, source and anchor on each item), then the stored plan
after a measurement recorded through the service, on both backends."""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings
from surveil.core.plan import plan
from surveil.db import models as m
from surveil.schedules import load_pack_versions
from surveil.services.actor import Actor
from surveil.services.records.results import record_measurement
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.rollout.activation import activate_protocol
from surveil.services.users import accounts
from tests.protocols.pack2027 import make_facts, plan_2027

TODAY = "2026-06-01"
RULE = "recurrence-after-resection"
ANCHOR = "first lesion measured after the resection"


def resected_r0(since: str = "2025-02-01") -> dict[str, Any]:
    return {"kind": "resected", "since": since, "resection": "R0"}


# name, measurements, the recurrence anchor date expected (None: no recurrence items)
CASES: list[tuple[str, list[dict[str, Any]], str | None]] = [
    ("a new lesion after R0", [{"lesion": "L1", "date": "2026-05-20", "mm": 12}], "2026-05-20"),
    (
        "two lesions after R0: anchored on the first",
        [
            {"lesion": "L2", "date": "2026-05-20", "mm": 9},
            {"lesion": "L1", "date": "2026-03-02", "mm": 7},
        ],
        "2026-03-02",
    ),
    (
        "measured the day after the resection",
        [{"lesion": "L1", "date": "2025-02-02", "mm": 5}],
        "2025-02-02",
    ),
    (
        "measured on the resection day: the resected tumour",
        [{"lesion": "L1", "date": "2025-02-01", "mm": 30}],
        None,
    ),
    (
        "measured before the resection only",
        [{"lesion": "L1", "date": "2024-12-01", "mm": 30}],
        None,
    ),
    ("no lesion measured", [], None),
]


@pytest.mark.parametrize(("name", "measurements", "anchor"), CASES, ids=[c[0] for c in CASES])
def test_recurrence_items_with_rule_version_source_and_anchor(
    name: str, measurements: list[dict[str, Any]], anchor: str | None
) -> None:
    del name
    facts = make_facts(TODAY, state=resected_r0(), measurements=measurements)
    items = {i.kind.value: i for i in plan_2027(facts, TODAY).items if i.rule == RULE}
    if anchor is None:
        assert items == {}
        return
    assert set(items) == {"sstr_pet", "tumour_board", "ct_or_mri"}
    day = dt.date.fromisoformat(anchor)
    pet = items["sstr_pet"]
    assert (pet.pack_id, pet.pack_version, pet.profile) == ("net-default", "2027.1", "default")
    assert (pet.source, pet.anchor.event, pet.anchor.date) == ("S26", ANCHOR, day)
    assert items["tumour_board"].source == "S51"
    assert all(i.anchor.date == day for i in items.values())
    if day >= dt.date(2026, 5, 1):  # recent: the PET and the MDT review are due from the lesion
        assert (pet.earliest, pet.target) == (day, day)
        assert items["tumour_board"].target == day


def test_the_baseline_2026_pack_has_no_recurrence_items() -> None:
    """What 2027.1 fixes: under 2026.1 the same patient only has routine follow-up."""
    facts = make_facts(
        TODAY,
        state=resected_r0(),
        measurements=[{"lesion": "L1", "date": "2026-05-20", "mm": 12}],
    )
    old = plan(facts, load_pack_versions()["net-default"]["2026.1"], "default",
               dt.date.fromisoformat(TODAY))  # fmt: skip
    assert "sstr_pet" not in {i.kind.value for i in old.items}
    assert all(i.rule != RULE for i in old.items)


def _settings(engine: sa.Engine) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    return Settings(database=DatabaseSettings(url=url))


def test_a_recorded_new_lesion_gives_stored_items(engine: sa.Engine) -> None:
    """Through the one way in: a measurement after an R0 resection, with 2027.1 in force, leaves
    the stored plan with the recurrence items (rule, version, source, anchor kept on the rows).
    The MDT review item is what flags it: a first lesion with no earlier measurement has no RECIST
    baseline, so no RECIST trigger is raised."""
    settings = _settings(engine)
    today = dt.date(2026, 6, 1)
    clinic = settings.clinic.name
    with Session(engine, expire_on_commit=False) as session:
        accounts.add_user(
            session, username="dr.ada", display_name=None, role="clinician", clinic=clinic,
            password="a long enough passphrase 15",
        )  # fmt: skip
        registry.enrol_patient(
            session,
            clinic=clinic,
            data=PatientInput(
                mrn="RC1", given_name="Ada", family_name="Lovelace", birth_date="1962-03-14"
            ),
            tumour=TumourInput(
                site="small_bowel", ki67="2", size_mm="20", diagnosed_on="2025-01-10"
            ),
            state_kind="resected",
            since="2025-02-01",
            resection="R0",
            today=today,
        )
        session.commit()
    actor = Actor.system(clinic=clinic)
    activate_protocol(
        engine, actor=actor, settings=settings, version="2027.1", approved_by="dr.ada",
        effective_on=today, today=today,
    )  # fmt: skip
    record_measurement(
        engine, actor=actor, mrn="RC1", clinic=clinic, lesion="liver-1", date="2026-05-20",
        diameter_mm="12", modality="mri", settings=settings, today=today,
    )  # fmt: skip
    with Session(engine) as session:
        items = session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.state == "planned", col(m.FollowUpItem.rule_id) == RULE
            )
        ).all()
    by_kind = {i.kind: i for i in items}
    assert set(by_kind) == {"sstr_pet", "tumour_board", "ct_or_mri"}
    pet = by_kind["sstr_pet"]
    assert (pet.pack_version, pet.source, pet.anchor_event) == ("2027.1", "S26", ANCHOR)
    assert pet.anchor_date == dt.date(2026, 5, 20)
    assert pet.target == dt.date(2026, 5, 20)
