"""A compact way to build Facts for the trigger tests (real Facts, no stand-ins)."""

import datetime as dt
from collections.abc import Iterable

from surveil.core.facts import (
    Facts,
    Marker,
    Measurement,
    Pathology,
    Patient,
    State,
    Symptom,
    Therapy,
    Tumour,
)
from surveil.core.vocab import Differentiation, Site, StateKind

D = dt.date.fromisoformat


def scans(*rows: tuple[str, str, float] | tuple[str, str, float, str]) -> tuple[Measurement, ...]:
    """("L1", "2025-03-10", 12.0[, "ct"]) -> Measurement."""
    out = []
    for row in rows:
        lesion, day, mm = row[0], row[1], row[2]
        modality = row[3] if len(row) == 4 else "mri"
        out.append(Measurement(lesion=lesion, date=D(day), mm=mm, modality=modality))
    return tuple(out)


def make_facts(
    *,
    state: StateKind = StateKind.ACTIVE_SURVEILLANCE,
    since: str = "2025-01-01",
    site: Site | None = Site.PANCREAS,
    ki67: float | None = 1.0,
    mitoses: float | None = None,
    differentiation: Differentiation = Differentiation.WELL,
    measurements: Iterable[Measurement] = (),
    markers: Iterable[Marker] = (),
    therapies: Iterable[Therapy] = (),
    symptoms: Iterable[Symptom] = (),
    pathology: Iterable[Pathology] = (),
    deceased_on: str | None = None,
) -> Facts:
    tumour = (
        None
        if site is None
        else Tumour(site=site, differentiation=differentiation, ki67=ki67, mitoses=mitoses)
    )
    return Facts(
        patient=Patient(id="p1", deceased_on=D(deceased_on) if deceased_on else None),
        tumour=tumour,
        state=State(kind=state, since=D(since)),
        measurements=tuple(measurements),
        markers=tuple(markers),
        therapies=tuple(therapies),
        symptoms=tuple(symptoms),
        pathology=tuple(pathology),
    )
