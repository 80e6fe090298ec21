"""Bulk export in the FHIR Bulk Data style: one ndjson file per resource type
(``Patient.ndjson``, ``CarePlan.ndjson``...), one resource per line, for one patient or for
every patient the actor may see.

The registry is read from one snapshot in batches (on SQLite it never holds up a writer), the
files are written into a hidden staging folder beside the target, the export is audited once
(with its counts), and only then are the files moved into place: an export that fails, or
whose audit event cannot be written, leaves no patient file behind. Files are created
readable by their owner only (they hold patient data).
"""

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.core.zones import today_in
from surveil.db.session import read_scope, session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.export.fhir.bundle import EXPORTED
from surveil.services.export.fhir.record import (
    RESOURCE_TYPES,
    growth_spacing,
    patient_by_mrn,
    patient_record,
)
from surveil.services.export.fhir.refs import Resource
from surveil.services.export.fhir.rows import (
    BATCH,
    patients_by_id,
    read_patients,
    visible_patient_ids,
)

Progress = Callable[[int, int], None]  # (patients done, patients in all)


@dataclass(frozen=True)
class BulkExport:
    directory: Path
    patients: int
    counts: dict[str, int]  # resources written per type, every type listed
    files: tuple[Path, ...]


@dataclass
class NdjsonWriter:
    """Appends resources to ``<Type>.ndjson`` files in ``folder``, one JSON object a line."""

    folder: Path
    counts: dict[str, int] = field(default_factory=dict)
    _files: dict[str, IO[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind in RESOURCE_TYPES:
            descriptor = os.open(self.path(kind), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._files[kind] = open(descriptor, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            self.counts[kind] = 0

    def path(self, kind: str) -> Path:
        return self.folder / f"{kind}.ndjson"

    def write(self, resources: list[Resource]) -> None:
        for resource in resources:
            kind = resource["resourceType"]
            line = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
            self._files[kind].write(line + "\n")
            self.counts[kind] += 1

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()


@audited_read(EXPORTED)
def export_ndjson(
    engine: sa.Engine,
    *,
    actor: Actor,
    out_dir: Path,
    mrn: str | None,
    settings: Settings,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> BulkExport:
    """Write one patient (``mrn``) or, with ``mrn=None``, every patient ``actor`` may see (their
    clinic; every clinic for an administrator) into ``out_dir``, replacing earlier files.
    ``today`` (default: today in the clinic) picks the protocol in force for growth rates."""
    day = today or today_in(settings.clinic.timezone, dt.datetime.now(dt.UTC))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fhir-export-", dir=out_dir))
    try:
        writer = NdjsonWriter(staging)
        try:
            with read_scope(engine) as session:
                spacing = growth_spacing(session, settings, day)
                ids = _chosen(session, actor=actor, mrn=mrn)
                _write_all(session, writer, ids, spacing=spacing, progress=progress)
        finally:
            writer.close()
        _audit_export(engine, actor=actor, ids=ids, mrn=mrn, counts=writer.counts)
        files = tuple(_publish(writer, out_dir))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BulkExport(directory=out_dir, patients=len(ids), counts=writer.counts, files=files)


def _chosen(session: Session, *, actor: Actor, mrn: str | None) -> list[int]:
    if mrn is not None:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn)
        return [patient.id] if patient.id is not None else []
    return visible_patient_ids(session, clinic=None if actor.is_admin else actor.clinic)


def _write_all(
    session: Session,
    writer: NdjsonWriter,
    ids: list[int],
    *,
    spacing: int,
    progress: Progress | None,
) -> None:
    done = 0
    for start in range(0, len(ids), BATCH):
        for rows in read_patients(session, patients_by_id(session, ids[start : start + BATCH])):
            writer.write(patient_record(rows, min_spacing_days=spacing))
            done += 1
            if progress is not None:
                progress(done, len(ids))
        session.expunge_all()  # a batch's rows are written: do not keep them for the next


def _audit_export(
    engine: sa.Engine,
    *,
    actor: Actor,
    ids: list[int],
    mrn: str | None,
    counts: dict[str, int],
) -> None:
    one = ids[0] if mrn is not None and ids else None
    scope = "every clinic" if actor.is_admin else f"clinic {actor.clinic}"
    with session_scope(engine) as session:
        audit(
            session,
            actor=actor,
            action=EXPORTED,
            patient_id=one,
            subject=f"Patient/{one}" if one is not None else "all patients",
            detail=f"FHIR bulk ndjson of {len(ids)} patient(s) from {scope}",
            after={"patients": len(ids), "resources": counts},
        )


def _publish(writer: NdjsonWriter, out_dir: Path) -> list[Path]:
    published = []
    for kind in RESOURCE_TYPES:
        target = out_dir / f"{kind}.ndjson"
        os.replace(writer.path(kind), target)
        published.append(target)
    return published
