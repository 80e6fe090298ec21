"""``surveil demo``: deterministic, plausible, valid synthetic patients on SQLite and PostgreSQL."""

import datetime as dt
import itertools
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, col, select

from surveil.cli import _register, cli
from surveil.config import Settings
from surveil.core.facts import Completed, facts_to_json, parse_facts
from surveil.core.vocab import Channel, ItemKind
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.queries import facts_for_patient
from surveil.demo import generate as demo
from surveil.demo.facts import facts_from_draft
from surveil.demo.history import HISTORY_NOTE
from surveil.demo.patients import SCENARIOS, synthesise
from surveil.demo.people import DEMO_USERS, NORTHERN_CLINIC
from surveil.demo.settle import DECISION_DAYS, STILL_TRUE, WRITE_UP_DAYS, settle_past_triggers
from surveil.demo.story import Draft
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 8, 30, tzinfo=dt.UTC)
CLINIC = "Neuroendocrine Tumour Clinic"


def make(engine: sa.Engine, patients: int, seed: int = 7, **kwargs: object) -> demo.DemoResult:
    return demo.generate_demo(
        engine,
        patients=patients,
        seed=seed,
        clinic=CLINIC,
        timezone="Europe/London",
        today=TODAY,
        now=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def dump(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, ordered by primary key."""
    out = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            query = sa.select(table).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(row) for row in connection.execute(query)]
    return out


@pytest.fixture(scope="module")
def drafts() -> list[Draft]:
    return [synthesise(7, n, today=TODAY, timezone="Europe/London") for n in range(1, 501)]


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_registry_row_for_row(
    engine: sa.Engine, sqlite_template: Path, tmp_path: Path
) -> None:
    make(engine, 120, chunk_size=50)
    again_path = tmp_path / "again.db"
    shutil.copyfile(sqlite_template, again_path)
    again = make_engine(f"sqlite:///{again_path}")
    make(again, 120)  # another backend maybe, another chunk size: the same rows
    first, second = dump(engine), dump(again)
    again.dispose()
    assert len(first["patient"]) == 120
    for table in demo.TABLES.values():
        assert first[table.name] == second[table.name], table.name


def test_a_patient_does_not_depend_on_batch_or_neighbours() -> None:
    alone = synthesise(7, 42, today=TODAY, timezone="Europe/London")
    assert alone == synthesise(7, 42, today=TODAY, timezone="Europe/London")
    other_seed = [synthesise(8, n, today=TODAY, timezone="Europe/London") for n in range(1, 21)]
    same_seed = [synthesise(7, n, today=TODAY, timezone="Europe/London") for n in range(1, 21)]
    assert [d.patient for d in other_seed] != [d.patient for d in same_seed]
    assert sum(a.patient == b.patient for a, b in zip(other_seed, same_seed, strict=True)) == 0


def test_scenario_shares_add_up_to_one() -> None:
    assert sum(s.share for s in SCENARIOS) == pytest.approx(1.0)


# --------------------------------------------------------------------------- plausibility


def test_plausible_mix_in_the_registry(engine: sa.Engine) -> None:
    make(engine, 500)
    with Session(engine) as session:
        patients = session.exec(select(m.Patient)).all()
        tumours = {t.patient_id: t for t in session.exec(select(m.Tumour))}
        states = session.exec(select(m.DiseaseState).where(m.DiseaseState.end_date == None))  # noqa: E711
        current = Counter(s.kind for s in states)
    assert len(patients) == 500
    assert {p.clinic for p in patients} == {CLINIC, NORTHERN_CLINIC}
    sites = Counter(t.site for t in tumours.values())
    assert (sites["pancreas"] + sites["small_bowel"]) / len(tumours) >= 0.25
    assert {"rectum", "lung", "appendix", "stomach"} <= set(sites)
    grades = Counter(t.grade for t in tumours.values())
    assert (grades["G1"] + grades["G2"]) / len(tumours) > 0.7
    assert grades["NEC"] > 0 and grades["G3"] > 0
    men1 = [p for p in patients if p.hereditary == "MEN1"]
    assert men1 and any((TODAY - p.birth_date).days < 18 * 365 for p in men1)  # a child or two
    assert all(p.id in tumours or p.hereditary == "MEN1" for p in patients)
    assert set(current) == {"active_surveillance", "resected", "advanced", "discharged"}
    assert any(p.deceased_on for p in patients)
    assert any(t.functional == "carcinoid_syndrome" for t in tumours.values())


def test_people_are_obviously_synthetic_and_spread_over_zones(drafts: list[Draft]) -> None:
    people = [d.patient for d in drafts]
    assert all(p["mrn"] == f"D{d.number:06d}" for p, d in zip(people, drafts, strict=True))
    assert all(p["email"] is None or p["email"].endswith("@example.org") for p in people)
    assert all(p["phone"] is None or p["phone"].startswith("+447700900") for p in people)
    zones = Counter(p["timezone"] for p in people)
    assert zones.most_common(1)[0][0] == "Europe/London" and len(zones) > 3


def test_series_show_growth_therapy_and_confounders(drafts: list[demo.Draft]) -> None:  # type: ignore[name-defined]
    fast = 0
    for draft in drafts:
        for lesion, rows in draft.lesions:
            if lesion["label"].startswith("pNET") and len(rows) >= 2:
                years = (rows[-1]["date"] - rows[-2]["date"]).days / 365.25
                rate = (rows[-1]["diameter_mm"] - rows[-2]["diameter_mm"]) / years
                fast += rate >= 5 or rows[-1]["diameter_mm"] >= 20
    assert fast > 0
    kinds = Counter(t["kind"] for d in drafts for t in d.therapies)
    assert {"surgery", "ssa", "prrt", "chemotherapy"} <= set(kinds)
    assert any(t["kind"] == "prrt" and t["cycles_given"] for d in drafts for t in d.therapies)
    markers = [r for d in drafts for r in d.markers]
    assert {"cga", "5hiaa", "nse"} <= {r["name"] for r in markers}
    assert any(r["on_ppi"] and r["name"] == "cga" for r in markers)
    assert any(r["value"] > r["uln"] for r in markers)
    assert any(d.symptoms for d in drafts)


def test_every_patient_parses_as_valid_facts_and_grade_matches(engine: sa.Engine) -> None:
    make(engine, 150)
    with Session(engine) as session:
        for patient in session.exec(select(m.Patient)).all():
            facts = facts_for_patient(session, patient)
            # The public contract's parser rejects future dates and dates before birth.
            assert parse_facts(facts_to_json(facts), today=TODAY) == facts
            tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).first()
            if tumour is not None:
                assert facts.grade == tumour.grade, patient.mrn


# --------------------------------------------------------------------------- history


def test_facts_built_in_memory_match_the_registry(engine: sa.Engine) -> None:
    """The history is replayed on facts built from the drafts; they must be what the registry
    (and so the real replan) reads back."""
    make(engine, 120)
    with Session(engine) as session:
        patients = session.exec(select(m.Patient)).all()
        done = session.exec(select(m.FollowUpItem).where(m.FollowUpItem.state == "done")).all()
        for patient in patients:
            assert patient.id is not None
            draft = synthesise(7, int(patient.mrn[1:]), today=TODAY, timezone="Europe/London")
            completed = tuple(
                Completed(ItemKind(r.kind), r.completed_on, r.region)
                for r in done
                if r.patient_id == patient.id and r.completed_on is not None
            )
            in_memory = facts_from_draft(
                draft, patient_id=patient.id, created=NOW.date(), done=completed
            )
            assert in_memory == facts_for_patient(session, patient), patient.mrn


def test_done_history_is_plausible_and_copies_the_planned_item(engine: sa.Engine) -> None:
    make(engine, 200)
    with Session(engine) as session:
        born = {p.id: p.birth_date for p in session.exec(select(m.Patient))}
        rows = session.exec(select(m.FollowUpItem)).all()
    assert rows and {r.state for r in rows} == {"done"}  # open items are the replan's job
    assert len({r.patient_id for r in rows}) > 150  # most patients have had follow-ups
    for row in rows:
        assert row.completed_on is not None and row.anchor_date is not None
        assert born[row.patient_id] <= row.anchor_date <= row.completed_on < TODAY
        assert row.earliest <= row.completed_on <= row.latest
        assert row.rule_id and row.pack_id == "net-default" and row.profile == "default"
        assert row.anchor_date.isoformat() in row.reason and row.outcome_note == HISTORY_NOTE
        # Stamped when it happened, not when the demo ran (feeds keep recent changes only).
        assert row.updated_at.date() == row.completed_on and row.updated_at <= NOW
        assert row.created_at.date() == row.anchor_date and row.created_at <= row.updated_at
    recent = [r for r in rows if (TODAY - r.completed_on).days <= 365]  # type: ignore[operator]
    assert len(recent) > len(rows) / 3  # the latest cycle, not only the first visits


def test_demo_worklist_shows_a_realistic_handful_overdue(engine: sa.Engine, db_url: str) -> None:
    """Most patients are up to date; a few are overdue, about 1 % lost, some due now."""
    from surveil.config import DatabaseSettings

    settings = Settings(database=DatabaseSettings(url=db_url))
    make(engine, 500)
    replan_every_patient(
        engine, actor=Actor.system(channel=Channel.CLI), settings=settings, today=TODAY
    )
    settle_past_triggers(engine, settings=settings, today=TODAY, now=NOW, seed=7)
    lost_before = TODAY - dt.timedelta(days=settings.worklist.lost_after_days)
    item = demo.TABLES["followup"].c

    def patients_with(*where: sa.ColumnElement[bool]) -> int:
        query = sa.select(sa.func.count(sa.distinct(item.patient_id))).where(
            item.state.in_(("planned", "ordered", "booked")), *where
        )
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    planned = patients_with()
    overdue = patients_with(item.latest < TODAY)
    lost = patients_with(item.latest < lost_before)
    due = patients_with(item.earliest <= TODAY, item.latest >= TODAY)
    assert planned > 350
    assert 0.01 * 500 <= overdue <= 0.15 * 500, overdue
    assert 0 < lost <= 0.05 * 500, lost
    assert due > 0.05 * 500, due


# --------------------------------------------------------------------------- past triggers


def open_triggers(engine: sa.Engine) -> list[m.Trigger]:
    with Session(engine) as session:
        query = select(m.Trigger).where(m.Trigger.state != m.TriggerState.RESOLVED)
        return list(session.exec(query).all())


def test_past_triggers_are_resolved_as_the_clinic_would_have(
    engine: sa.Engine, settings: Settings
) -> None:
    """Planning the demo finds years of past findings; the clinic acted on each soon after it
    was found. What stays open is a handful, recent, or a dose still missed today."""
    make(engine, 500)
    replan_every_patient(
        engine, actor=Actor.system(channel=Channel.CLI), settings=settings, today=TODAY
    )
    before = open_triggers(engine)
    oldest = min(t.detected_on for t in before)
    assert len(before) > 50 and (TODAY - oldest).days > 3 * 365  # the problem being solved
    settled = settle_past_triggers(engine, settings=settings, today=TODAY, now=NOW, seed=7)
    after = open_triggers(engine)
    assert 0 < len(after) <= 0.03 * 500, [(t.kind, t.detected_on) for t in after]
    assert settled.resolved == len(before) - len(after) and settled.still_open == len(after)
    recent = DECISION_DAYS[1] + WRITE_UP_DAYS[1]
    for trigger in after:
        assert trigger.kind in STILL_TRUE or (TODAY - trigger.detected_on).days <= recent
    with Session(engine) as session:
        users = {u.username: u for u in session.exec(select(m.User))}
        clinics = {p.id: p.clinic for p in session.exec(select(m.Patient))}
        resolved = session.exec(select(m.Trigger).where(m.Trigger.state == "resolved")).all()
        events = session.exec(select(m.AuditEvent)).all()
        items = session.exec(
            select(m.FollowUpItem).where(col(m.FollowUpItem.rule_id).startswith("trigger:"))
        ).all()
    assert len(resolved) == len(before) - len(after)
    resolutions = {e.subject: e for e in events if e.action == "trigger.resolved"}
    for trigger in resolved:
        assert trigger.acknowledged_at and trigger.resolved_at and trigger.outcome
        found = trigger.detected_on
        assert found <= trigger.acknowledged_at.date() <= trigger.resolved_at.date() < TODAY
        assert (trigger.resolved_at.date() - found).days <= recent
        resolver = users[trigger.resolved_by or ""]
        assert resolver.clinic == clinics[trigger.patient_id]
        expected_role = "navigator" if resolver.clinic == NORTHERN_CLINIC else "clinician"
        assert resolver.role == expected_role, trigger.resolved_by
        event = resolutions[f"trigger {trigger.id}"]  # audited as the person, when it happened
        assert event.actor == trigger.resolved_by and event.channel == "web"
        assert event.at.replace(tzinfo=None) == trigger.resolved_at.replace(tzinfo=None)
        assert trigger.outcome in (event.after or "")
    outcomes = Counter(t.outcome.split(":")[1].split(";")[0].strip() for t in resolved)  # type: ignore[union-attr]
    assert len(outcomes) >= 3  # outcomes in words that fit the finding, not one stock phrase
    by_trigger = {int(i.rule_id.split(":")[1]): i for i in items}
    for trigger in resolved:  # the tumour board (or the ordered scan) took place
        item = by_trigger.get(trigger.id or 0)
        if item is not None:
            assert item.state == "done" and item.completed_on is not None
            assert item.earliest == trigger.detected_on <= item.completed_on <= item.latest
            assert item.completed_on <= (trigger.resolved_at or NOW).date()
    assert_moves_out_of_surveillance_dated_when_found(engine)


def assert_moves_out_of_surveillance_dated_when_found(engine: sa.Engine) -> None:
    """A patient whose watched pNET grew left surveillance on the day the first such scan was
    recorded (as the registry would have then), not the day the demo was made; once only, and
    the episodes still chain without gap or overlap."""
    with Session(engine) as session:
        growth = session.exec(
            select(m.Trigger).where(col(m.Trigger.kind).in_(("growth_rate", "size")))
        ).all()
        first_found: dict[int, dt.date] = {}
        for trigger in growth:
            day = first_found.setdefault(trigger.patient_id, trigger.detected_on)
            first_found[trigger.patient_id] = min(day, trigger.detected_on)
        assert len(first_found) >= 3, "the demo has watched pNETs that grew"
        for patient_id, found in first_found.items():
            episodes = session.exec(
                select(m.DiseaseState)
                .where(m.DiseaseState.patient_id == patient_id)
                .order_by(col(m.DiseaseState.start_date), col(m.DiseaseState.id))
            ).all()
            moves = [e for e in episodes if e.reason.startswith("trigger #")]
            assert [(e.kind, e.start_date) for e in moves] == [("advanced", found)]
            for earlier, later in itertools.pairwise(episodes):
                assert earlier.end_date == later.start_date  # no gap, no overlap


def test_settling_is_reproducible_and_replanning_reopens_nothing(
    engine: sa.Engine, settings: Settings, sqlite_template: Path, tmp_path: Path
) -> None:
    make(engine, 120)
    replan_every_patient(
        engine, actor=Actor.system(channel=Channel.CLI), settings=settings, today=TODAY
    )
    settle_past_triggers(engine, settings=settings, today=TODAY, now=NOW, seed=7)
    again_path = tmp_path / "again.db"
    shutil.copyfile(sqlite_template, again_path)
    again = make_engine(f"sqlite:///{again_path}")
    make(again, 120)
    replan_every_patient(
        again, actor=Actor.system(channel=Channel.CLI), settings=settings, today=TODAY
    )
    settle_past_triggers(again, settings=settings, today=TODAY, now=NOW, seed=7)
    tables = ("trigger", "audit_event", "diseasestate")
    first, second = dump(engine), dump(again)
    again.dispose()
    for name in tables:
        columns = [c.name for c in SQLModel.metadata.tables[name].columns]
        keep = [i for i, c in enumerate(columns) if c not in ("created_at", "at")]
        if name == "audit_event":  # the demo's own events carry their historical time
            keep = [i for i, c in enumerate(columns) if c != "created_at"]
        rows = [[r[i] for i in keep] for r in _untimed_system_rows(name, columns, first[name])]
        other = [[r[i] for i in keep] for r in _untimed_system_rows(name, columns, second[name])]
        assert _naive(rows) == _naive(other), name
    # Settled findings stay settled: the same facts give the same fingerprints.
    count = len(first["trigger"])
    replan_every_patient(
        engine, actor=Actor.system(channel=Channel.CLI), settings=settings, today=TODAY
    )
    assert len(dump(engine)["trigger"]) == count
    rerun = settle_past_triggers(engine, settings=settings, today=TODAY, now=NOW, seed=7)
    assert rerun.resolved == rerun.acknowledged == rerun.items_done == 0


def _untimed_system_rows(name: str, columns: list[str], rows: list[Any]) -> list[list[object]]:
    """The replan's own audit rows (actor ``system``) are stamped when the replan ran, unlike
    the settled history: compare everything of them but that time."""
    if name != "audit_event":
        return [list(r) for r in rows]
    at, actor = columns.index("at"), columns.index("actor")
    return [
        [None if i == at and r[actor] == "system" else v for i, v in enumerate(r)] for r in rows
    ]


def _naive(rows: list[list[object]]) -> list[list[object]]:
    """Rows with times compared as UTC wall times (SQLite returns them without a zone)."""
    return [
        [v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in row] for row in rows
    ]


# --------------------------------------------------------------------------- users, reruns


def test_demo_users_can_log_in_and_navigators_are_assigned(engine: sa.Engine) -> None:
    make(engine, 60)
    with Session(engine) as session:
        users = {u.username: u for u in session.exec(select(m.User))}
        patients = session.exec(select(m.Patient)).all()
    assert set(users) == {u.username for u in DEMO_USERS}
    for spec in DEMO_USERS:
        assert PasswordHasher().verify(users[spec.username].password_hash, spec.password)
    assert users["north"].clinic == NORTHERN_CLINIC and users["nurse"].clinic == CLINIC
    northern = [p for p in patients if p.clinic == NORTHERN_CLINIC]
    assert northern and all(p.navigator_id == users["north"].id for p in northern)
    main_navigators = {p.navigator_id for p in patients if p.clinic == CLINIC}
    assert {users["nurse"].id, users["nurse2"].id} <= main_navigators


def test_if_empty_twice_makes_no_duplicates_and_reruns_continue_numbering(
    engine: sa.Engine,
) -> None:
    assert make(engine, 30, if_empty=True).created == 30
    second = make(engine, 30, if_empty=True)
    assert second.skipped and second.created == 0
    assert demo.count_patients(engine) == 30
    more = make(engine, 10)  # without --if-empty: ten more, numbered on
    assert more.created == 10
    with Session(engine) as session:
        mrns = session.exec(select(m.Patient.mrn)).all()
        users = session.exec(select(m.User)).all()
    assert len(mrns) == len(set(mrns)) == 40 and max(mrns) == "D000040"
    assert len(users) == len(DEMO_USERS)


def test_bad_counts_are_refused_and_nothing_is_written(engine: sa.Engine) -> None:
    with pytest.raises(InvalidInput) as error:
        make(engine, -1, chunk_size=0)
    assert {p.field for p in error.value.problems} == {"patients", "chunk_size"}
    assert demo.count_patients(engine) == 0


# --------------------------------------------------------------------------- CLI


def test_cli_makes_patients_plans_them_and_respects_if_empty(
    db_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    runner = CliRunner()
    args = ["demo", "--patients", "40", "--seed", "3", "--if-empty", "--today", "2026-06-01"]
    first = runner.invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "added 40 demo patients" in first.output and "nurse-demo" in first.output
    assert demo.count_patients(engine) == 40
    with Session(engine) as session:
        assert session.exec(select(sa.func.count()).select_from(m.FollowUpItem)).one() > 0
    recent = TODAY - dt.timedelta(days=DECISION_DAYS[1] + WRITE_UP_DAYS[1])
    stale = [
        t for t in open_triggers(engine) if t.detected_on < recent and t.kind not in STILL_TRUE
    ]
    assert not stale and "past findings settled" in first.output
    second = runner.invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert json.loads(second.output) == {"created": 0, "skipped": True}
    assert demo.count_patients(engine) == 40


def test_cli_explains_bad_options(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    runner = CliRunner()
    negative = runner.invoke(cli, ["demo", "--patients", "-1"])
    assert negative.exit_code == 2 and "--patients" in negative.output
    bad_day = runner.invoke(cli, ["demo", "--today", "2026-13-01"])
    assert bad_day.exit_code == 2 and "--today" in bad_day.output


# The one-way-in register (tests/test_one_way_in.py): settling the demo's past is an entry
# point whose audit rows (each step as the person who took it, when it happened) are asserted
# above.
COVERED = frozenset({"surveil.demo.settle.settle_past_triggers"})


def test_the_2027_tumour_facts_come_in_plausible_shares(drafts: list[Draft]) -> None:
    """Lung, thymic, gastric, rectal and appendiceal patients carry the 2027.1 facts (some left
    unrecorded, as in a real registry), and the demo's plans under 2027.1 reach the rules that
    need them."""
    from surveil.core.plan import plan
    from surveil.schedules import load_pack_versions

    tumours = [(d, d.tumour) for d in drafts if d.tumour is not None]
    by_site: dict[str, list[dict[str, Any]]] = {}
    for _, tumour in tumours:
        by_site.setdefault(tumour["site"], []).append(tumour)
    lung = by_site["lung"]
    typed = [t["carcinoid_type"] for t in lung if t["carcinoid_type"]]
    assert 0.7 < len(typed) / len(lung) < 1.0  # most recorded, some not
    assert {"typical", "atypical"} <= set(typed)
    stomach = [t["gastric_type"] for t in by_site["stomach"]]
    assert "type_1" in stomach and None in stomach
    adverse = [t["adverse_histology"] for t in by_site["rectum"] + by_site["appendix"]]
    assert "" in adverse and None in adverse and any(a for a in adverse)
    nodes = Counter(t["node_status"] for _, t in tumours)
    assert nodes["N0"] > nodes["N1"] > 0 and nodes[None] > 0
    heart = [
        t["carcinoid_heart_disease"] for _, t in tumours if t["functional"] == "carcinoid_syndrome"
    ]
    assert True in heart and False in heart
    # Only where they belong: no gastric type off the stomach, no carcinoid type off lung/thymus.
    assert all(t["gastric_type"] is None for _, t in tumours if t["site"] != "stomach")
    assert all(
        t["carcinoid_type"] is None for _, t in tumours if t["site"] not in ("lung", "thymus")
    )

    pack = load_pack_versions()["net-default"]["2027.1"]
    rules: Counter[str] = Counter()
    for draft, _ in tumours:
        facts = facts_from_draft(draft, patient_id=draft.number, created=TODAY)
        rules.update({i.rule for i in plan(facts, pack, "default", TODAY).items})
    assert {
        "lung-typical",
        "lung-atypical",
        "lung-typical-node-positive",
        "gastric-type-1",
        "rectal-adverse-histology",
        "appendix-adverse-histology",
        "carcinoid-heart-disease",
    } <= set(rules)
