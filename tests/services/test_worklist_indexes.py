"""The worklist's statements read their sections off indexes kept in the sections' own order.

SQLite plans without statistics here (nobody runs ANALYZE), so its plans do not depend on how
many rows there are: the plans checked on this small registry are the plans it runs on the
100,000-patient benchmark registry. A plan that sorts every open item, or starts from the wrong
table, is what made the overview take seconds there.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import DatabaseSettings, Settings
from surveil.db.engine import make_engine
from surveil.services.actor import Actor
from surveil.services.worklist import sections as worklist
from surveil.services.worklist.sections import (
    COUNT_CAP,
    OVERVIEW_ROWS,
    WorklistQuery,
    build_worklist,
    section_specs,
)
from tests.web.seed import TODAY, make_item, make_patient, make_trigger, make_user

NAV = Actor(username="nina", role="navigator", clinic="north")
DAY = dt.timedelta(days=1)

# Section -> (index the count and the rows walk, patient index for the safety net's count).
WALKS = {
    "triggers": "ix_trigger_open_by_urgency",
    "overdue": "ix_followup_item_open_by_urgency",
    "due": "ix_followup_item_open_by_urgency",
    "soon": "ix_followup_item_open_by_earliest",
    "lost": "ix_followup_item_open_by_latest",
}


def _plan(session: Session, stmt: sa.Select[tuple[object, ...]]) -> list[str]:
    bind = session.get_bind()
    sql = str(stmt.compile(bind, compile_kwargs={"literal_binds": True}))
    return [row[-1] for row in session.execute(sa.text("EXPLAIN QUERY PLAN " + sql))]


@pytest.fixture
def sqlite_session(sqlite_url: str) -> Iterator[Session]:
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def sqlite_settings(sqlite_url: str) -> Settings:
    return Settings(database=DatabaseSettings(url=sqlite_url))


def test_each_section_walks_its_index_in_page_order(
    sqlite_session: Session, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sqlite_settings
    for n in range(3):
        make_patient(sqlite_session, f"C{n}")
    monkeypatch.setattr(worklist, "FEW_PATIENTS", 2)  # three patients make a crowd here
    query = WorklistQuery(today=TODAY, clinic="north")
    specs = {s.key: s for s in section_specs(sqlite_session, query=query, settings=settings)}
    for key, index in WALKS.items():
        spec = specs[key]
        # The overview's capped count and rows, and a focused section's exact count and page.
        for stmt in (spec.count(COUNT_CAP), spec.rows(0, OVERVIEW_ROWS), spec.count(None)):
            plan = _plan(sqlite_session, stmt)
            loops = [s for s in plan if s.startswith(("SCAN", "SEARCH")) and "anon_" not in s]
            # The section's index is the outer loop, each row then finds its patient by id.
            assert f"INDEX {index}" in loops[0], (key, plan)
            assert loops[1:] == ["SEARCH p USING INTEGER PRIMARY KEY (rowid=?)"], (key, plan)
            assert not any("TEMP B-TREE" in line for line in plan), (key, plan)  # no sort
        # A count needs only what the index holds (and the patients).
        assert "COVERING INDEX" in _plan(sqlite_session, spec.count(COUNT_CAP))[1], key
    safety_net = specs["no_plan"]
    count, rows = (
        _plan(sqlite_session, safety_net.count(COUNT_CAP)),
        _plan(sqlite_session, safety_net.rows(0, OVERVIEW_ROWS)),
    )
    assert any("ix_patient_living (clinic=?)" in line for line in count), count
    assert any("ix_patient_living_by_name" in line for line in rows)
    assert not any("TEMP B-TREE" in line for line in rows)
    for plan in (count, rows):
        assert any("ix_followup_item_open_by_patient (patient_id=?)" in line for line in plan)
        assert any("ix_diseasestate_discharged (patient_id=?)" in line for line in plan)
    # Nobody's patients: read off their own small partial index, in page order, no sort.
    no_owner = specs["no_owner"]
    for stmt in (no_owner.count(COUNT_CAP), no_owner.rows(0, OVERVIEW_ROWS)):
        plan = _plan(sqlite_session, stmt)
        assert any("INDEX ix_patient_no_owner (clinic=?)" in line for line in plan), plan
        assert any("ix_diseasestate_discharged (patient_id=?)" in line for line in plan), plan
        assert not any("TEMP B-TREE" in line for line in plan), plan


def test_a_navigators_own_page_walks_their_patients_for_the_safety_net(
    sqlite_session: Session, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(sqlite_session, "nina")
    for n in range(3):
        make_patient(sqlite_session, f"N{n}", navigator="nina")
    monkeypatch.setattr(worklist, "FEW_PATIENTS", 2)  # three patients make a crowd here
    query = WorklistQuery(today=TODAY, clinic="north", navigator="nina")
    specs = {s.key: s for s in section_specs(sqlite_session, query=query, settings=sqlite_settings)}
    # The safety net counts down the navigator's own living patients, not the whole clinic's.
    count = _plan(sqlite_session, specs["no_plan"].count(COUNT_CAP))
    assert any("ix_patient_living_by_navigator (navigator_id=? AND clinic=?)" in s for s in count)
    # The sections still walk their own index in page order, each row finding its patient by id.
    for key, index in WALKS.items():
        plan = _plan(sqlite_session, specs[key].count(COUNT_CAP))
        assert f"INDEX {index}" in plan[1], (key, plan)
        assert plan[2] == "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)", (key, plan)


@pytest.mark.parametrize("filters", [{"search": "smi"}, {"navigator": "nina"}])
def test_a_page_about_a_few_patients_starts_from_them(
    sqlite_session: Session,
    sqlite_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    filters: dict[str, str],
) -> None:
    make_user(sqlite_session, "nina")
    for n in range(3):
        make_patient(sqlite_session, f"S{n}", family="Smith", navigator="nina")
    for n in range(3):
        make_patient(sqlite_session, f"J{n}", family="Jones")
    monkeypatch.setattr(worklist, "FEW_PATIENTS", 4)  # six in the clinic, three in the page
    query = WorklistQuery(today=TODAY, clinic="north", **filters)
    specs = {s.key: s for s in section_specs(sqlite_session, query=query, settings=sqlite_settings)}
    for key in WALKS:
        for stmt in (specs[key].count(COUNT_CAP), specs[key].rows(0, OVERVIEW_ROWS)):
            plan = [line for line in _plan(sqlite_session, stmt) if "SEARCH" in line]
            # The patients named by id (through whichever patient index), then their own rows.
            assert plan[0].startswith("SEARCH p ") and "id=?" in plan[0], (key, plan)
            assert "(patient_id=?" in plan[1], (key, plan)


def test_trigger_order_urgent_then_open_then_oldest(session: Session, settings: Settings) -> None:
    # 'open' before 'acknowledged' is served by the index as ``state DESC``: check it means that.
    cases = [
        ("ack-old", "acknowledged", False, 30),
        ("open-new", "open", False, 1),
        ("open-old", "open", False, 5),
        ("urgent-ack", "acknowledged", True, 2),
        ("urgent-open", "open", True, 0),
        ("resolved", "resolved", True, 9),
    ]
    for mrn, state, urgent, age in cases:
        patient = make_patient(session, mrn)
        make_item(session, patient, earliest=TODAY + 90 * DAY, latest=TODAY + 180 * DAY)
        make_trigger(session, patient, state=state, urgent=urgent, detected_on=TODAY - age * DAY)
    result = build_worklist(session, query=WorklistQuery(today=TODAY), actor=NAV, settings=settings)
    assert [r.mrn for r in result.sections[0].rows] == [
        "urgent-open",
        "urgent-ack",
        "open-old",
        "open-new",
        "ack-old",
    ]


def test_capped_counts_in_page_order_and_in_patient_order(
    session: Session, settings: Settings
) -> None:
    # The safety net counts in patient order, the item sections in page order: both stop at
    # the cap and both report the same rows as an uncapped count would.
    for n in range(4):
        make_patient(session, f"F{n}")  # nobody follows them up
        patient = make_patient(session, f"O{n}")
        make_item(session, patient, earliest=TODAY - 9 * DAY, latest=TODAY - DAY, urgent=n == 3)
    query = WorklistQuery(today=TODAY)
    capped = build_worklist(session, query=query, actor=NAV, settings=settings, count_cap=3)
    exact = build_worklist(session, query=query, actor=NAV, settings=settings)
    for key in ("overdue", "no_plan"):
        (c,) = (s for s in capped.sections if s.key == key)
        (e,) = (s for s in exact.sections if s.key == key)
        assert (c.count, c.capped, e.count, e.capped) == (3, True, 4, False), key
        assert c.rows == e.rows, key
    focused = build_worklist(
        session,
        query=dataclasses.replace(query, section="no_plan"),
        actor=NAV,
        settings=settings,
        count_cap=3,
    )
    assert [r.mrn for r in focused.sections[0].rows] == ["F0", "F1", "F2", "F3"]
    assert exact.sections[1].rows[0].mrn == "O3"  # urgent first
