"""The building blocks of a demo patient's history: the draft being written, the story context,
and small writers for each kind of row (states, therapies, lesions, markers, symptoms, pathology)
that never write a date after the story's end.
"""

import datetime as dt
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from surveil.core.vocab import (
    Differentiation,
    Grade,
    ItemKind,
    Resection,
    Site,
    StateKind,
    TherapyKind,
)
from surveil.demo import series

Row = dict[str, Any]
T = TypeVar("T")


class Pathway(StrEnum):
    WATCHED = "watched"  # not resected, on active surveillance (small pNET, gastric type 1)
    RESECTED = "resected"
    METASTATIC = "metastatic"  # well differentiated, advanced: SSA, PRRT, everolimus...
    CARCINOMA = "carcinoma"  # poorly differentiated (NEC): chemotherapy, short intervals
    DISCHARGED = "discharged"
    CARRIER = "carrier"  # MEN1 carrier without a tumour yet: screening only


@dataclass(frozen=True)
class Scenario:
    name: str
    share: float  # of all demo patients
    pathway: Pathway
    sites: Mapping[Site, float]
    grades: Mapping[Grade, float]
    men1: bool = False


PROCEDURES = {
    Site.PANCREAS: ("distal pancreatectomy", "pancreatoduodenectomy (Whipple)", "enucleation"),
    Site.SMALL_BOWEL: ("small-bowel resection and mesenteric nodes", "ileocaecal resection"),
    Site.RECTUM: ("endoscopic submucosal dissection", "transanal excision"),
    Site.APPENDIX: ("appendicectomy", "appendicectomy", "right hemicolectomy"),
    Site.LUNG: ("lobectomy", "segmentectomy"),
    Site.STOMACH: ("endoscopic resection", "partial gastrectomy"),
    Site.DUODENUM: ("endoscopic resection", "pancreatoduodenectomy (Whipple)"),
    Site.COLON: ("right hemicolectomy", "left hemicolectomy"),
    Site.THYMUS: ("thymectomy",),
}
SSA_AGENTS = ("lanreotide 120 mg every 28 days", "octreotide LAR 30 mg every 28 days")
SSA_EVERY = dt.timedelta(days=28)
LATE_SSA_SHARE = 0.06  # a few injections overdue, so the worklist has something to chase
UPGRADE = {Grade.G1: Grade.G2, Grade.G2: Grade.G3}


@dataclass
class Draft:
    """One synthetic patient as rows without ids."""

    number: int
    scenario: Scenario
    patient: Row
    tumour: Row | None = None
    pathology: list[Row] = field(default_factory=list)
    states: list[Row] = field(default_factory=list)
    therapies: list[Row] = field(default_factory=list)
    lesions: list[tuple[Row, list[Row]]] = field(default_factory=list)
    markers: list[Row] = field(default_factory=list)
    symptoms: list[Row] = field(default_factory=list)


@dataclass
class Story:
    """What the course builders need while they write one patient's history."""

    rng: random.Random
    draft: Draft
    site: Site | None
    grade: Grade | None
    born: dt.date
    diagnosed: dt.date
    end: dt.date  # today, or the day the patient died: nothing is recorded after it
    on_ppi: bool

    @property
    def scenario(self) -> Scenario:
        return self.draft.scenario

    def days(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(days=round(self.rng.uniform(low, high)))

    def years_left(self, since: dt.date) -> float:
        return (self.end - since).days / 365.25


def pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def pathology_counts(
    rng: random.Random, grade: Grade
) -> tuple[Differentiation, float | None, float | None]:
    """Ki-67 (%) and mitoses (per 2 mm²) that give ``grade`` under WHO 2019, with a few values on
    the band edges (Ki-67 2.9, 3.0, 20.0) because real reports land there too."""
    mitoses_reported = rng.random() < 0.6
    if grade is Grade.NEC:
        ki67 = float(round(rng.uniform(35, 95)))
        return Differentiation.POOR, ki67, float(rng.randint(21, 80)) if mitoses_reported else None
    if grade is Grade.G1:
        if rng.random() < 0.02:
            return Differentiation.WELL, None, None  # not yet gradable (GX)
        ki67 = rng.choice((2.0, 2.9)) if rng.random() < 0.05 else round(rng.uniform(0.3, 2.9), 1)
        return Differentiation.WELL, ki67, float(rng.randint(0, 1)) if mitoses_reported else None
    if grade is Grade.G2:
        edge = rng.random() < 0.05
        ki67 = rng.choice((3.0, 20.0)) if edge else round(3 + 17 * rng.betavariate(1.3, 3.0), 1)
        return Differentiation.WELL, ki67, float(rng.randint(0, 12)) if mitoses_reported else None
    ki67 = float(round(rng.uniform(21, 55)))
    return Differentiation.WELL, ki67, float(rng.randint(5, 30)) if mitoses_reported else None


# --------------------------------------------------------------------------- small pieces


def add_state(story: Story, kind: StateKind, since: dt.date, reason: str, **extra: object) -> None:
    """Open a new disease-state episode; the current one ends that day."""
    states = story.draft.states
    if states:
        states[-1]["end_date"] = since
    row: Row = {"kind": kind.value, "start_date": since, "end_date": None, "resection": None}
    states.append({**row, "reason": reason, **extra})


def add_therapy(
    story: Story,
    kind: TherapyKind,
    agent: str,
    started: dt.date,
    ended: dt.date | None = None,
    cycles: int | None = None,
    last: dt.date | None = None,
) -> None:
    if ended is None and story.draft.patient["deceased_on"] is not None:
        ended = story.end  # nothing is ongoing for a patient who has died
    row: Row = {"kind": kind.value, "agent": agent, "started_on": started, "ended_on": ended}
    story.draft.therapies.append({**row, "cycles_given": cycles, "last_given_on": last})


def add_lesion(story: Story, label: str, location: str, rows: list[Row]) -> None:
    if rows:
        story.draft.lesions.append(({"label": label, "location": location}, rows))


def add_markers(
    story: Story,
    name: ItemKind,
    *,
    level: float,
    start: dt.date,
    end: dt.date | None = None,
    months: tuple[float, float] = (6, 12),
    trend: Callable[[dt.date], float] | None = None,
    keep: int = series.MAX_MARKERS,
) -> None:
    """A series of ``name`` from ``start`` to ``end`` (default: to the end of the story)."""
    story.draft.markers += series.markers(
        story.rng,
        name,
        start=start,
        end=story.end if end is None else end,
        months=months,
        level=level,
        trend=trend,
        on_ppi=story.on_ppi,
        keep=keep,
    )


def add_symptom(story: Story, share: float, description: str) -> None:
    if story.rng.random() < share:
        day = max(story.end - story.days(0, 150), story.diagnosed)
        story.draft.symptoms.append({"date": day, "description": description})


def add_pathology(
    story: Story,
    on: dt.date,
    differentiation: Differentiation | None,
    ki67: float | None,
    mitoses: float | None,
) -> None:
    if ki67 is None and mitoses is None:
        return  # nothing was counted
    story.draft.pathology.append(
        {
            "date": on,
            "ki67": ki67,
            "mitoses": mitoses,
            "differentiation": differentiation.value if differentiation else None,
        }
    )


def surgery(story: Story, on: dt.date) -> Resection:
    """Resect the primary on ``on``: the operation, the resected state, maybe a specimen count."""
    assert story.site is not None and story.grade is not None
    rng = story.rng
    add_therapy(story, TherapyKind.SURGERY, rng.choice(PROCEDURES[story.site]), on, on)
    margin = Resection.R0 if rng.random() < 0.88 else Resection.R1
    add_state(story, StateKind.RESECTED, on, "resection of the primary", resection=margin.value)
    if rng.random() < 0.5:
        # The specimen is counted again; now and then it grades higher than the biopsy did.
        upgrade = rng.random() < 0.1
        grade = UPGRADE.get(story.grade, story.grade) if upgrade else story.grade
        add_pathology(story, on, *pathology_counts(rng, grade))
    return margin


def ssa_course(story: Story, started: dt.date, ended: dt.date | None) -> None:
    """Monthly injections: how many were given, and when the last one was."""
    until = ended or story.end
    cycles = (until - started) // SSA_EVERY + 1
    if ended is None and cycles > 3 and story.rng.random() < LATE_SSA_SHARE:
        cycles -= 2  # the last two were missed
    last = started + SSA_EVERY * (cycles - 1)
    add_therapy(story, TherapyKind.SSA, story.rng.choice(SSA_AGENTS), started, ended, cycles, last)


def cycles_course(
    story: Story, kind: TherapyKind, agent: str, started: dt.date, every_days: int, total: int
) -> dt.date:
    """A fixed number of cycles (PRRT, chemotherapy); returns the day of the last one given."""
    days = (started + dt.timedelta(days=every_days * k) for k in range(total))
    given = [day for day in days if day <= story.end]
    done = len(given) == total
    add_therapy(story, kind, agent, started, given[-1] if done else None, len(given), given[-1])
    return given[-1]
