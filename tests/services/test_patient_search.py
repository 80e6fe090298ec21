"""Finding any patient (SQLite and PostgreSQL): MRN, name prefix blind to case and accents, birth
date, clinic isolation, paging, and what each row says."""

import datetime as dt
import logging
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.audit import list_audit
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput
from surveil.services.registry.search import find_patients, search_statements
from tests.web.seed import TODAY, make_item, make_patient, make_user

NAV = Actor(username="nina", role="navigator", clinic="north")
ADMIN = Actor(username="root", role="admin", clinic="north")
DAY = dt.timedelta(days=1)


def mrns(session: Session, text: str, actor: Actor = NAV) -> list[str]:
    return [r.mrn for r in find_patients(session, actor=actor, text=text).rows]


@pytest.fixture
def people(session: Session) -> None:
    make_user(session, "nina", clinic="north")
    make_patient(session, "N-1", family="Björk", given="Åsa", navigator="nina")
    make_patient(session, "N-2", family="Bjornsson", given="Olaf")
    make_patient(session, "N-3", family="O’Brien", given="Seán")
    make_patient(session, "N-4", family="Okafor", given="Ada")
    make_patient(session, "BJ-5", family="Lindqvist", given="Bo")  # an MRN that reads like a name
    make_patient(session, "S-1", clinic="south", family="Björk", given="Eva")
    session.commit()


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("bjor", ["N-1", "N-2"]),  # family name prefix, accent-blind, ordered by name
        ("BJÖRK", ["N-1"]),
        ("  björk   åsa ", ["N-1"]),  # family then given
        ("asa bj", ["N-1"]),  # given then family
        ("sean", ["N-3"]),
        ("obri", ["N-3"]),
        ("o'brien", ["N-3"]),
        ("N-4", ["N-4"]),  # MRN, exactly
        ("n-4", []),  # an MRN is not a name: no prefix of "n 4" either
        ("BJ-5", ["BJ-5"]),
        ("jork", []),  # a prefix, not a substring
        ("1960-02-29", ["N-1", "N-2", "BJ-5", "N-3", "N-4"]),  # birth date: everyone here
        ("%", []),
        ("_", []),
    ],
)
def test_what_a_search_finds(session: Session, typed: str, found: list[str]) -> None:
    assert mrns(session, typed) == found


@pytest.mark.usefixtures("people")
def test_a_navigator_finds_only_their_clinic_and_an_admin_every_clinic(session: Session) -> None:
    assert mrns(session, "björk") == ["N-1"]
    assert sorted(mrns(session, "björk", ADMIN)) == ["N-1", "S-1"]
    assert mrns(session, "S-1") == []


@pytest.mark.usefixtures("people")
def test_the_whole_list_pages_by_name(session: Session) -> None:
    first = find_patients(session, actor=NAV, page_size=2)
    assert (first.total, first.pages, first.matched_by) == (5, 3, "")
    pages = [find_patients(session, actor=NAV, page=n, page_size=2) for n in (1, 2, 3, 9)]
    assert [[r.mrn for r in p.rows] for p in pages] == [
        ["N-1", "N-2"],
        ["BJ-5", "N-3"],
        ["N-4"],
        ["N-4"],  # past the end: the last page
    ]


@pytest.mark.usefixtures("people")
def test_a_date_that_does_not_exist_is_refused_naming_the_field(session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        find_patients(session, actor=NAV, text="2026-02-30")
    assert [p.field for p in refused.value.problems] == ["q"]


def test_a_row_says_grade_state_navigator_and_the_next_item(session: Session) -> None:
    make_user(session, "nina", clinic="north")
    patient = make_patient(session, "N-1", family="Okafor", given="Ada", navigator="nina")
    later = make_item(session, patient, earliest=TODAY + 30 * DAY, latest=TODAY + 60 * DAY)
    sooner = make_item(session, patient, kind="cga", earliest=TODAY - 5 * DAY, latest=TODAY)
    make_item(session, patient, earliest=TODAY - 90 * DAY, latest=TODAY - 80 * DAY, state="done")
    session.commit()
    [row] = find_patients(session, actor=NAV, text="okafor").rows
    assert (row.name, row.grade, row.state, row.navigator) == (
        "OKAFOR, Ada",
        "G1",
        "active_surveillance",
        "Nina",
    )
    assert row.next_item is not None
    assert (row.next_item.kind, row.next_item.target) == ("cga", sooner.target)
    assert sooner.target < later.target


def test_a_renamed_patient_is_found_by_the_new_name_only(session: Session) -> None:
    patient = make_patient(session, "N-1", family="Smith", given="Jo")
    registry.update_patient(
        session, patient=patient, data=PatientInput(family_name="Ñúñez"), today=TODAY
    )
    session.commit()
    assert mrns(session, "nunez jo") == ["N-1"]
    assert mrns(session, "smith") == []


@pytest.mark.usefixtures("people")
def test_a_search_writes_no_audit_row_and_logs_nothing(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    before = list_audit(session)[1]
    with caplog.at_level(logging.DEBUG):
        assert mrns(session, "okafor") == ["N-4"]
    assert list_audit(session)[1] == before
    assert "okafor" not in caplog.text.lower()


@pytest.mark.parametrize(
    ("typed", "indexes"),
    [
        ("N-4", {"ix_patient_mrn", "ix_patient_search_name", "ix_patient_search_given"}),
        ("oka", {"ix_patient_mrn", "ix_patient_search_name", "ix_patient_search_given"}),
        ("1960-02-29", {"ix_patient_birth_date"}),
        ("", {"ix_patient_search_name"}),
    ],
)
def test_each_way_of_matching_reads_its_own_index(
    sqlite_url: str, typed: str, indexes: set[str]
) -> None:
    """SQLite plans without statistics (nobody runs ANALYZE): left to itself it would read every
    patient of the clinic through ``clinic = ?``. The plans checked here are the plans it runs
    on the 100,000-patient benchmark registry."""
    engine = sa.create_engine(sqlite_url)  # plans only: no pragmas needed
    count, in_order = search_statements(typed, clinic="north")
    page = in_order.offset(50).limit(50)
    with engine.connect() as connection:
        plan = [
            row[-1]
            for stmt in (count, page)
            for row in connection.execute(sa.text("EXPLAIN QUERY PLAN " + _sql(engine, stmt)))
        ]
    engine.dispose()
    used = {line.split(" INDEX ")[1].split()[0] for line in plan if " INDEX " in line}
    assert used - {"ix_patient_clinic"} == indexes, plan
    assert not any(line.startswith("SCAN p") and "INDEX" not in line for line in plan), plan
    if not typed:  # the whole list walks the name index in order: no sort, however long
        assert not any("TEMP B-TREE" in line for line in plan), plan


def _sql(engine: sa.Engine, stmt: sa.Select[Any]) -> str:
    return str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
