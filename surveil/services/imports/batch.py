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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.imports import rows as appliers
from surveil.services.imports.csvfile import Row, read_table
from surveil.services.planning import care
from surveil.services.registry.access import require_clinic

IMPORTERS = (m.Role.ADMIN, m.Role.NAVIGATOR)


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
            tally = _apply(session, actor, kind, clinic, table, today)
            patients = list(tally.touched.values())
            refresh = care.refresh_patients(
                session, patients=patients, settings=settings, today=today, channel=actor.channel
            )
            report = ImportReport(
                kind=kind,
                file_sha256=digest,
                rows=len(table),
                created=len(table) - tally.skipped,
                skipped=tally.skipped,
                new_patients=tally.new_patients,
                touched_patients=len(patients),
                new_triggers=tuple(t.kind for t in refresh.new_triggers),
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


def _apply(
    session: Session, actor: Actor, kind: str, clinic: str, table: list[Row], today: dt.date
) -> _Tally:
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
    for table_name, row_id in tally.created:
        session.add(m.ImportBatchRow(batch_id=batch.id, table_name=table_name, row_id=row_id))
    counts = {"rows": report.rows, "created": report.created, "skipped": report.skipped}
    audit(
        session,
        actor=actor,
        action="import.committed",
        subject=f"import:{batch.id}",
        after={**counts, "sha256": report.file_sha256},
        detail=f"{report.kind} import {batch.id}: {report.created} new, {report.skipped} there",
    )
    for patient_id, added in tally.per_patient.items():
        audit(
            session,
            actor=actor,
            action="import.committed",
            patient_id=patient_id,
            subject=f"import:{batch.id}",
            detail=f"{report.kind} import {batch.id}: {added} row(s)",
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
        made = session.exec(
            select(m.ImportBatchRow).where(m.ImportBatchRow.batch_id == batch_id)
        ).all()
        patient_ids = _patients_of(session, made)
        _refuse_if_depended_on(session, batch, patient_ids)
        for table_name in appliers.DELETE_ORDER:
            model = appliers.TABLES[table_name]
            ids = [r.row_id for r in made if r.table_name == table_name]
            if ids:
                session.execute(sa.delete(model).where(model.id.in_(ids)))  # type: ignore[attr-defined]
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
        left = session.exec(select(m.Patient).where(col(m.Patient.id).in_(patient_ids))).all()
        care.refresh_patients(
            session, patients=list(left), settings=settings, today=today, channel=actor.channel
        )
        return len(made)


def _patients_of(session: Session, made: Sequence[m.ImportBatchRow]) -> list[int]:
    ids: set[int] = set()
    for row in made:
        if row.table_name == "patient":
            ids.add(row.row_id)
        elif row.table_name == "lesion":
            lesion = session.get(m.Lesion, row.row_id)
            ids |= {lesion.patient_id} if lesion else set()
        elif row.table_name == "measurement":
            found = session.exec(
                select(m.Lesion.patient_id)
                .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
                .where(m.Measurement.id == row.row_id)
            ).first()
            ids |= {found} if found else set()
        else:
            model: Any = appliers.TABLES[row.table_name]
            stored = session.get(model, row.row_id)
            ids |= {stored.patient_id} if stored is not None else set()
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
    changed = session.exec(
        select(m.AuditEvent.action).where(
            col(m.AuditEvent.patient_id).in_(patient_ids),
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
