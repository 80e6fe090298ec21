"""The bulk measurements import (``services.imports.bulk``) on SQLite and PostgreSQL: it finds
the same problems, skips the same rows and stores the same measurements as the one-row-at-a-time
path it replaced (``imports.rows.measurement``, the form's building block) on a seeded mix of good
and bad rows; keys in more than one chunk; a file's second row of the same key; the batch's rows,
audit and rollback at a size where every query runs in several chunks; progress reported."""

import datetime as dt
import random

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import InvalidInput, NotFound, Problem
from surveil.services.actor import Actor
from surveil.services.imports import batch, bulk, rows
from surveil.services.imports.csvfile import read_table
from surveil.services.registry import patients as registry
from tests.web.seed import make_patient, make_user

NINA = Actor(username="nina", role="navigator", clinic="north", channel=Channel.CLI)
TODAY = dt.date(2026, 6, 10)
HEADER = "mrn,lesion,date,diameter_mm,modality"
NORTH = ("N-100", "N-101", "N-102", "N-103", "N-104")


@pytest.fixture(autouse=True)
def world(engine: sa.Engine) -> None:
    with Session(engine) as session:
        make_user(session, "nina", role="navigator", clinic="north")
        make_user(session, "sam", role="navigator", clinic="south")
        for mrn in NORTH:
            make_patient(session, mrn, clinic="north", navigator="nina")
        make_patient(session, "S-200", clinic="south", navigator="sam")
        stored = session.exec(select(m.Patient).where(m.Patient.mrn == "N-100")).one()
        registry.add_measurement(session, patient=stored, lesion="L1", date="2026-01-10",
                                 diameter_mm="10", modality="mri", today=TODAY)  # fmt: skip
        session.commit()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every look-up, insert and delete then runs in several chunks, as on a 100,000-row file.
    monkeypatch.setattr(bulk, "CHUNK", 2)


def _seeded_rows(seed: int, count: int) -> list[str]:
    """Good rows and every kind of bad one, shuffled; duplicates of earlier keys included."""
    rng = random.Random(seed)
    made: list[str] = []
    for _ in range(count):
        mrn = rng.choice((*NORTH, *NORTH, "N-999", "S-200", ""))
        lesion = rng.choice(("L1", "L2", "L3", "", "L\x01", "L" * 40))
        day = rng.choice(("2026-01-10", "2025-11-02", "2026-03-15", "2025-13-01", "2027-01-01",
                          "1950-01-01", "31.12.2025", ""))  # fmt: skip
        mm = rng.choice(("10", "11", "12.5", "0", "-3", "900", "abc", ""))
        modality = rng.choice(("mri", "ct", "MRI", "xray", ""))
        made.append(f"{mrn},{lesion},{day},{mm},{modality}")
        if made and rng.random() < 0.2:
            made.append(rng.choice(made))  # the same row again, later in the file
    return made


def _one_by_one(session: Session, lines: list[str]) -> tuple[list[Problem], int]:
    """The path the bulk import replaced: the form's building block, row after row."""
    problems: list[Problem] = []
    skipped = 0
    for row in read_table("\n".join([HEADER, *lines]).encode(), kind="measurements",
                          date_format=None):  # fmt: skip
        try:
            applied = rows.measurement(session, NINA, "north", row.cells, TODAY)
        except InvalidInput as error:
            problems += [batch._row_problem(row, p.field, p.message) for p in error.problems]
            continue
        except NotFound:
            problems.append(batch._row_problem(row, "mrn", "no patient with this MRN in north"))
            continue
        skipped += applied.skipped
    return problems, skipped


def _in_bulk(session: Session, lines: list[str]) -> bulk.Bulk:
    table = read_table("\n".join([HEADER, *lines]).encode(), kind="measurements", date_format=None)
    return bulk.measurements(session, NINA, "north", table, TODAY, batch._row_problem)


def _stored(session: Session) -> list[tuple[str, str, dt.date, float, str]]:
    query = (
        select(m.Patient.mrn, m.Lesion.label, m.Measurement.date, m.Measurement.diameter_mm,
               m.Measurement.modality)
        .join(m.Lesion, col(m.Lesion.patient_id) == m.Patient.id)
        .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
        .order_by(m.Patient.mrn, m.Lesion.label, m.Measurement.date)
    )  # fmt: skip
    return list(session.exec(query).all())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_problems_skips_and_rows_as_one_row_at_a_time(
    engine: sa.Engine, seed: int
) -> None:
    lines = _seeded_rows(seed, 80)
    with Session(engine) as session:
        expected, _ = _one_by_one(session, lines)
        session.rollback()
    with Session(engine) as session:
        found = _in_bulk(session, lines)
        assert found.created == []  # a problem anywhere: nothing written
        session.rollback()
    assert expected, "the seeded file has bad rows"
    assert [str(p) for p in found.problems] == [str(p) for p in expected]
    # The good rows alone: the same rows stored, the same ones skipped.
    bad = {int(p.field.split(",")[0].removeprefix("row ")) - 2 for p in expected}
    good = [line for number, line in enumerate(lines) if number not in bad]
    with Session(engine) as session:
        problems, skipped = _one_by_one(session, good)
        assert problems == []
        one_by_one = _stored(session)
        session.rollback()
    with Session(engine) as session:
        done = _in_bulk(session, good)
        assert done.problems == [] and done.skipped == skipped
        assert _stored(session) == one_by_one
        made = {table for table, _ in done.created}
        assert made <= {"lesion", "measurement"} and "measurement" in made
        session.rollback()


def test_a_later_row_of_the_same_key_is_skipped_or_refused(engine: sa.Engine) -> None:
    lines = ["N-101,L9,2026-02-01,14,ct", "N-101,L9,2026-02-01,14,ct", "N-101,L9,2026-02-01,15,ct"]
    with Session(engine) as session:
        found = _in_bulk(session, lines)
    assert [str(p) for p in found.problems] == [
        "row 4, column diameter_mm: differs from the value already stored for this key "
        "(14 mm) (value '15')"
    ]
    with Session(engine) as session:
        done = _in_bulk(session, lines[:2])
        assert (done.skipped, len(done.created)) == (1, 2)  # one new lesion, one measurement


def test_a_big_batch_is_recorded_audited_and_rolled_back_whole(
    engine: sa.Engine, settings: Settings
) -> None:
    lines = [
        f"{mrn},{lesion},{dt.date(2025, 1, 1) + dt.timedelta(days=7 * week)},{10 + week / 10},mri"
        for mrn in NORTH
        for lesion in ("L1", "L2")
        for week in range(12)
    ]
    seen: list[tuple[str, int, int]] = []
    report = batch.import_csv(
        engine, actor=NINA, kind="measurements", content="\n".join([HEADER, *lines]).encode(),
        filename="big.csv", clinic="north", dry_run=False, settings=settings, today=TODAY,
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )  # fmt: skip
    assert (report.rows, report.created, report.touched_patients) == (120, 120, 5)
    assert ("checking rows", 120, 120) in seen and ("re-planning", 5, 5) in seen
    with Session(engine) as session:
        made = session.exec(
            select(m.ImportBatchRow.table_name, sa.func.count())
            .where(m.ImportBatchRow.batch_id == report.batch_id)
            .group_by(m.ImportBatchRow.table_name)
        ).all()
        # N-100's L1 existed; nine new lesions.
        assert dict(made) == {"measurement": 120, "lesion": 9}
        patients = session.exec(
            select(m.AuditEvent.patient_id).where(
                m.AuditEvent.action == "import.committed", col(m.AuditEvent.patient_id).is_not(None)
            )
        ).all()
        assert len(patients) == 5
        assert len(_stored(session)) == 121
    again = batch.import_csv(
        engine, actor=NINA, kind="measurements", content="\n".join([HEADER, *lines]).encode(),
        filename="big.csv", clinic="north", dry_run=False, settings=settings, today=TODAY,
    )  # fmt: skip
    assert (again.created, again.skipped, again.batch_id) == (0, 120, None)
    assert report.batch_id is not None
    now = dt.datetime.now(dt.UTC)
    deleted = batch.rollback_import(
        engine, actor=NINA, batch_id=report.batch_id, now=now, settings=settings, today=TODAY
    )
    assert deleted == 129
    with Session(engine) as session:
        assert [(s[0], s[1]) for s in _stored(session)] == [("N-100", "L1")]
        assert session.exec(select(sa.func.count()).select_from(m.Lesion)).one() == 1
