"""Measurements imported in bulk: the same checks and natural keys as one row at a time
(``rows.measurement``), at spreadsheet scale (issue 16: 100,000 rows in under a minute).

One row at a time costs several queries and a flush per row. Here the patients, their lesions
and their stored measurements are read with one query per 900 keys, every row is checked in
memory by the form's own rules (``registry.patients.check_measurement``), and the new lesions
and measurements are written with one multi-row INSERT ... RETURNING per few hundred rows, in
the import's transaction. What a row means does not change:

* a row whose patient + lesion + date is already stored (in the registry, or earlier in the
  same file) with the same diameter is skipped; with another diameter it is a problem;
* an unknown MRN (or another clinic's) is a problem of the ``mrn`` column, and nothing else
  of that row is checked (there is no birth date to check against);
* every problem of every row is returned, and nothing is written while there is one.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.bulk_rows import insert_rows, new_ids
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.imports.csvfile import Row
from surveil.services.registry.patients import check_measurement
from surveil.services.users.accounts import may_see

CHUNK = 900  # keys per IN (...): inside SQLite's cap on bound parameters
T = TypeVar("T")
Key = tuple[int, str, dt.date]  # patient id, lesion label, date


@dataclass
class Bulk:
    """What a bulk import made, in the shape ``batch`` records: (table, id) per row created,
    the touched patients and how many rows each, the rows already stored, every problem."""

    created: list[tuple[str, int]] = field(default_factory=list)
    touched: dict[int, m.Patient] = field(default_factory=dict)
    per_patient: dict[int, int] = field(default_factory=dict)
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _New:
    patient_id: int
    label: str
    day: dt.date
    mm: float
    modality: str


def table_of(model: Any) -> sa.Table:
    """A table model's Core table (SQLModel's classes do not declare ``__table__`` to mypy)."""
    table: sa.Table = model.__table__
    return table


def chunks(items: list[T]) -> Iterator[list[T]]:
    size = CHUNK  # read at each call, so a test can make it small
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _float(value: str) -> float | None:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


def _iso(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def measurements(
    session: Session,
    actor: Actor,
    clinic: str,
    table: list[Row],
    today: dt.date,
    row_problem: Callable[[Row, str, str], Problem],
    progress: Callable[[int, int], None] | None = None,
) -> Bulk:
    """Check every row and, when none has a problem, write the new lesions and measurements.
    ``progress(rows checked, rows)`` is called every few thousand rows."""
    bulk = Bulk()
    patients = _patients(session, actor, clinic, {r.cells.get("mrn", "") for r in table})
    ids = [p.id for p in patients.values() if p.id is not None]
    lesions = _lesions(session, ids)
    stored = _stored(session, lesions)
    new: list[_New] = []
    for number, row in enumerate(table, start=1):
        if progress is not None and number % 5000 == 0:
            progress(number, len(table))
        cells = row.cells
        patient = patients.get(cells.get("mrn", ""))
        if patient is None or patient.id is None:
            bulk.problems.append(row_problem(row, "mrn", f"no patient with this MRN in {clinic}"))
            continue
        label, day = cells.get("lesion", ""), _iso(cells.get("date", ""))
        known = stored.get((patient.id, label, day)) if day is not None else None
        if known is not None:
            if _float(cells.get("diameter_mm", "")) != known:
                why = f"differs from the value already stored for this key ({known:g} mm)"
                bulk.problems.append(row_problem(row, "diameter_mm", why))
            else:
                bulk.skipped += 1
            continue
        try:
            label, day, mm, modality = check_measurement(
                birth_date=patient.birth_date,
                lesion=cells.get("lesion"),
                date=cells.get("date"),
                diameter_mm=cells.get("diameter_mm"),
                modality=cells.get("modality"),
                today=today,
            )
        except InvalidInput as error:
            bulk.problems += [row_problem(row, p.field, p.message) for p in error.problems]
            continue
        stored[(patient.id, label, day)] = mm  # a later row with this key is the same scan
        new.append(_New(patient.id, label, day, mm, modality))
        bulk.touched[patient.id] = patient
        bulk.per_patient[patient.id] = bulk.per_patient.get(patient.id, 0) + 1
    if progress is not None:
        progress(len(table), len(table))
    if not bulk.problems and new:
        _write(session, bulk, new, lesions)
    return bulk


def _patients(session: Session, actor: Actor, clinic: str, mrns: set[str]) -> dict[str, m.Patient]:
    """The clinic's patients with these MRNs that the actor may see, by MRN."""
    found: dict[str, m.Patient] = {}
    for part in chunks(sorted(mrns)):
        query = select(m.Patient).where(m.Patient.clinic == clinic, col(m.Patient.mrn).in_(part))
        found |= {p.mrn: p for p in session.exec(query) if may_see(actor, p)}
    return found


def _lesions(session: Session, patient_ids: list[int]) -> dict[tuple[int, str], int]:
    """Lesion id by (patient id, label)."""
    lesion = table_of(m.Lesion)
    found: dict[tuple[int, str], int] = {}
    for part in chunks(patient_ids):
        query = sa.select(lesion.c.patient_id, lesion.c.label, lesion.c.id).where(
            lesion.c.patient_id.in_(part)
        )
        found |= {(pid, label): lid for pid, label, lid in session.execute(query)}
    return found


def _stored(session: Session, lesions: dict[tuple[int, str], int]) -> dict[Key, float]:
    """The diameter stored for each (patient, lesion, date); the first row when there are
    several, as the one-row path reads it."""
    owner = {lid: key for key, lid in lesions.items()}
    measurement = table_of(m.Measurement)
    found: dict[Key, float] = {}
    for part in chunks(sorted(owner)):
        query = (
            sa.select(measurement.c.lesion_id, measurement.c.date, measurement.c.diameter_mm)
            .where(measurement.c.lesion_id.in_(part))
            .order_by(measurement.c.id)
        )
        for lesion_id, day, mm in session.execute(query):
            pid, label = owner[lesion_id]
            found.setdefault((pid, label, day), mm)
    return found


def _write(
    session: Session, bulk: Bulk, new: list[_New], lesions: dict[tuple[int, str], int]
) -> None:
    """The new lesions, then the measurements, each in one executemany with ids drawn first
    (``INSERT ... RETURNING`` in parameter order runs one statement per row on SQLite)."""
    session.flush()  # nothing the ORM holds may land after these rows, or take their ids
    now = utcnow()
    missing = sorted({(n.patient_id, n.label) for n in new} - lesions.keys())
    lesion_table, measurement_table = table_of(m.Lesion), table_of(m.Measurement)
    made = new_ids(session, lesion_table, len(missing))
    insert_rows(
        session,
        lesion_table,
        [{"id": lid, "patient_id": pid, "label": label, "location": "", "created_at": now}
         for lid, (pid, label) in zip(made, missing, strict=True)],
    )  # fmt: skip
    lesions.update(zip(missing, made, strict=True))
    bulk.created += [("lesion", lid) for lid in made]
    ids = new_ids(session, measurement_table, len(new))
    insert_rows(
        session,
        measurement_table,
        [{"id": mid, "lesion_id": lesions[(n.patient_id, n.label)], "date": n.day,
          "diameter_mm": n.mm, "modality": n.modality, "created_at": now}
         for mid, n in zip(ids, new, strict=True)],
    )  # fmt: skip
    bulk.created += [("measurement", mid) for mid in ids]


def insert_plain(session: Session, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows whose ids nobody needs, as one executemany."""
    batch = list(rows)
    if batch:
        session.execute(sa.insert(table), batch)
