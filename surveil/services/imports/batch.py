"""The import entry points: ``import_csv`` (preview or commit one file as a batch) and
``rollback_import`` (undo a batch whole while nothing newer depends on it).

An import is all or nothing: every row is checked by the registry's building blocks (the same
checks as the forms) in one transaction; if any row has a problem, every problem is reported
at once (row, column, value, why) and nothing is written. A dry run goes as far as a commit
would (the triggers that would open included) and then rolls back. Rows already stored with
the same values are skipped, so re-importing a file changes nothing and records no batch.
The changes come in on channel ``import``; the batch and each touched patient get an audit
event, and triggers and plans are re-run for the touched patients.
"""

import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit, audit_many
from surveil.services.entry import change
from surveil.services.imports import bulk
from surveil.services.imports import rows as appliers
from surveil.services.imports.csvfile import Row, read_table
from surveil.services.planning import care
from surveil.services.planning.batch_gc import batch_gc
from surveil.services.registry.access import require_clinic

IMPORTERS = (m.Role.ADMIN, m.Role.NAVIGATOR)
REFRESH_CHUNK = 500  # patients re-planned per step, as ``replan --all`` does
# progress(stage, done, total): "checking rows" in rows, then "re-planning" in patients
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportReport:
    kind: str
    file_sha256: str
    rows: int
    created: int  # rows that add something
    skipped: int  # rows already stored with the same values
    new_patients: int
    touched_patients: int
    new_triggers: tuple[str, ...]  # kinds of the triggers the import opens (or would open)
    batch_id: int | None  # None for a dry run, or when nothing was new
    dry_run: bool

    @property
    def trigger_counts(self) -> tuple[tuple[str, int], ...]:
        """(kind, how many) of the new triggers: a big file opens thousands, shown by kind."""
        return tuple(sorted(Counter(self.new_triggers).items()))


class _Preview(Exception):
    """Leaves the transaction of a dry run by rolling it back, carrying what it would do."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("dry run")
        self.report = report


@dataclass
class _Tally:
    created: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    touched: dict[int, m.Patient] = dataclasses.field(default_factory=dict)
    per_patient: dict[int, int] = dataclasses.field(default_factory=dict)
    skipped: int = 0
    new_patients: int = 0


@change("import.committed", *care.CONSEQUENCES)
def import_csv(
    engine: sa.Engine,
    *,
    actor: Actor,
    kind: str,
    content: bytes,
    filename: str,
    clinic: str,
    dry_run: bool,
    settings: Settings,
    today: dt.date,
    date_format: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Check every row of ``content`` and commit them as one batch (or, ``dry_run``, only
    say what would change). Raises InvalidInput with every problem of every row."""
    if actor.role not in IMPORTERS:
        raise PermissionDenied("only administrators and navigators import files")
    require_clinic(actor, clinic)
    actor = dataclasses.replace(actor, channel=Channel.IMPORT)
    table = read_table(content, kind=kind, date_format=date_format)
    digest = hashlib.sha256(content).hexdigest()
    try:
        with session_scope(engine) as session:
            tally = _apply(session, actor, kind, clinic, table, today, progress)
            patients = list(tally.touched.values())
            opened = _refresh(session, patients, settings, today, actor, progress)
            report = ImportReport(
                kind=kind,
                file_sha256=digest,
                rows=len(table),
                created=len(table) - tally.skipped,
                skipped=tally.skipped,
                new_patients=tally.new_patients,
                touched_patients=len(patients),
                new_triggers=opened,
                batch_id=None,
                dry_run=dry_run,
            )
            if dry_run:
                raise _Preview(report)
            if tally.created:
                report = _record_batch(session, actor, report, tally, clinic, filename)
            return report
    except _Preview as preview:
        return preview.report


def _refresh(
    session: Session,
    patients: list[m.Patient],
    settings: Settings,
    today: dt.date,
    actor: Actor,
    progress: Progress | None,
) -> tuple[str, ...]:
    """Triggers, then plans, for the touched patients, a chunk at a time (the bulk replan
    path of ``replan --all``), all in the import's transaction; the kinds of the new triggers."""
    opened: list[str] = []
    with batch_gc():
        for start in range(0, len(patients), REFRESH_CHUNK):
            part = patients[start : start + REFRESH_CHUNK]
            refresh = care.refresh_patients(
                session, patients=part, settings=settings, today=today, channel=actor.channel
            )
            opened += [t.kind for t in refresh.new_triggers]
            if progress is not None:
                progress("re-planning", start + len(part), len(patients))
    return tuple(opened)


def _apply(
    session: Session,
    actor: Actor,
    kind: str,
    clinic: str,
    table: list[Row],
    today: dt.date,
    progress: Progress | None,
) -> _Tally:
    if kind == "measurements":  # the spreadsheet-sized kind: checked and written in bulk
        step = None if progress is None else partial(progress, "checking rows")
        done = bulk.measurements(session, actor, clinic, table, today, _row_problem, step)
        if done.problems:
            raise InvalidInput(done.problems, what=f"{kind} file ({len(table)} rows)")
        return _Tally(done.created, done.touched, done.per_patient, done.skipped, 0)
    apply = appliers.APPLIERS[kind]
    tally = _Tally()
    problems: list[Problem] = []
    for row in table:
        try:
            applied = apply(session, actor, clinic, row.cells, today)
        except InvalidInput as error:
            problems += [_row_problem(row, p.field, p.message) for p in error.problems]
            continue
        except NotFound:
            problems.append(_row_problem(row, "mrn", f"no patient with this MRN in {clinic}"))
            continue
        patient_id = appliers._id(applied.patient)
        if applied.skipped:
            tally.skipped += 1
            continue
        tally.created += applied.created
        tally.touched[patient_id] = applied.patient
        tally.per_patient[patient_id] = tally.per_patient.get(patient_id, 0) + 1
        tally.new_patients += applied.new_patient
    if problems:
        raise InvalidInput(problems, what=f"{kind} file ({len(table)} rows)")
    return tally


def _row_problem(row: Row, column: str, why: str) -> Problem:
    value = row.cells.get(column)
    shown = f" (value {value!r})" if value and repr(value) not in why else ""
    return Problem(f"row {row.number}, column {column}", why + shown)


def _record_batch(
    session: Session,
    actor: Actor,
    report: ImportReport,
    tally: _Tally,
    clinic: str,
    filename: str,
) -> ImportReport:
    batch = m.ImportBatch(
        kind=report.kind,
        filename=filename[:200],
        file_sha256=report.file_sha256,
        clinic=clinic,
        actor=actor.username,
        rows=report.rows,
        created=report.created,
        skipped=report.skipped,
    )
    session.add(batch)
    session.flush()
    assert batch.id is not None
    bulk.insert_plain(
        session,
        bulk.table_of(m.ImportBatchRow),
        ({"batch_id": batch.id, "table_name": name, "row_id": rid} for name, rid in tally.created),
    )
    counts = {"rows": report.rows, "created": report.created, "skipped": report.skipped}
    audit(
        session,
        actor=actor,
        action="import.committed",
        subject=f"import:{batch.id}",
        after={**counts, "sha256": report.file_sha256},
        detail=f"{report.kind} import {batch.id}: {report.created} new, {report.skipped} there",
    )
    session.flush()  # the batch's own event first, then its patients'
    audit_many(  # one statement: a 100,000-row file touches 20,000 patients
        session,
        [
            {
                "action": "import.committed",
                "patient_id": patient_id,
                "subject": f"import:{batch.id}",
                "detail": f"{report.kind} import {batch.id}: {added} row(s)",
            }
            for patient_id, added in tally.per_patient.items()
        ],
        actor=actor,
    )
    return dataclasses.replace(report, batch_id=batch.id)


@change("import.rolled_back", *care.CONSEQUENCES)
def rollback_import(
    engine: sa.Engine,
    *,
    actor: Actor,
    batch_id: int,
    now: dt.datetime,
    settings: Settings,
    today: dt.date,
) -> int:
    """Delete every row the batch created and re-plan its patients; returns how many rows.
    Refused (Conflict) once anything newer depends on it: a later batch of the clinic not
    rolled back, or a person's change to one of its patients since."""
    if actor.role not in IMPORTERS:
        raise PermissionDenied("only administrators and navigators roll imports back")
    actor = dataclasses.replace(actor, channel=Channel.IMPORT)
    with session_scope(engine) as session:
        batch = session.get(m.ImportBatch, batch_id)
        if batch is None or not (actor.is_admin or batch.clinic == actor.clinic):
            raise NotFound(f"no import batch {batch_id}")
        if batch.rolled_back_at is not None:
            raise Conflict(f"import {batch_id} was already rolled back")
        rows = bulk.table_of(m.ImportBatchRow)  # as tuples: a batch may hold 120,000 rows
        made = [
            (name, row_id)
            for name, row_id in session.execute(
                sa.select(rows.c.table_name, rows.c.row_id).where(rows.c.batch_id == batch_id)
            )
        ]
        patient_ids = _patients_of(session, made)
        _refuse_if_depended_on(session, batch, patient_ids)
        for table_name in appliers.DELETE_ORDER:
            model = appliers.TABLES[table_name]
            ids = [row_id for name, row_id in made if name == table_name]
            for part in bulk.chunks(ids):
                session.execute(sa.delete(model).where(model.id.in_(part)))  # type: ignore[attr-defined]
        batch.rolled_back_at, batch.rolled_back_by = now, actor.username
        session.add(batch)
        audit(
            session,
            actor=actor,
            action="import.rolled_back",
            subject=f"import:{batch_id}",
            before={"rows": len(made)},
            detail=f"{batch.kind} import {batch_id} rolled back: {len(made)} rows deleted",
        )
        left = [
            patient
            for part in bulk.chunks(patient_ids)
            for patient in session.exec(select(m.Patient).where(col(m.Patient.id).in_(part)))
        ]
        _refresh(session, left, settings, today, actor, None)
        return len(made)


def _patients_of(session: Session, made: Sequence[tuple[str, int]]) -> list[int]:
    """The patients of a batch's rows (table, id), with one query per table and 900 ids (a
    batch may hold 100,000 measurements)."""
    ids: set[int] = set()
    by_table: dict[str, list[int]] = {}
    for table_name, row_id in made:
        by_table.setdefault(table_name, []).append(row_id)
    for table_name, row_ids in by_table.items():
        for part in bulk.chunks(row_ids):
            query: Any
            if table_name == "patient":
                ids |= set(part)
                continue
            if table_name == "measurement":
                query = (
                    sa.select(col(m.Lesion.patient_id))
                    .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
                    .where(col(m.Measurement.id).in_(part))
                )
            else:
                model: Any = appliers.TABLES[table_name]
                query = sa.select(model.patient_id).where(model.id.in_(part))
            ids |= set(session.execute(query.distinct()).scalars())
    return sorted(ids)


def _refuse_if_depended_on(session: Session, batch: m.ImportBatch, patient_ids: list[int]) -> None:
    later = session.exec(
        select(m.ImportBatch.id).where(
            m.ImportBatch.clinic == batch.clinic,
            col(m.ImportBatch.id) > batch.id,
            col(m.ImportBatch.rolled_back_at).is_(None),
        )
    ).first()
    if later is not None:
        raise Conflict(f"import {later} came later and is not rolled back: roll it back first")
    for part in bulk.chunks(patient_ids):
        changed = session.exec(
            select(m.AuditEvent.action).where(
                col(m.AuditEvent.patient_id).in_(part),
                m.AuditEvent.at > batch.created_at,
                m.AuditEvent.actor != "system",
                col(m.AuditEvent.action).not_like("%.viewed"),
                m.AuditEvent.action != "import.committed",
            )
        ).first()
        if changed is not None:
            raise Conflict(
                f"a patient of import {batch.id} was changed since ({changed}); not rolled back"
            )
