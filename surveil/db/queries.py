"""Reads that turn registry rows into the pure core's types."""

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from operator import itemgetter
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from surveil.core import facts as f
from surveil.core.vocab import (
    AdverseHistology,
    CarcinoidType,
    Differentiation,
    Functional,
    GastricType,
    Hereditary,
    ItemKind,
    NodeStatus,
    Resection,
    Site,
    Sstr,
    Stage,
    StateKind,
    TherapyKind,
)
from surveil.db import models as m
from surveil.db.bulk_rows import among
from surveil.db.driver_rows import ChunkQuery

E = TypeVar("E", bound=StrEnum)

# Which item kind a measurement's modality completes (an MRI measurement is an MRI done).
MODALITY_ITEM = {
    "mri": ItemKind.MRI,
    "ct": ItemKind.CT,
    "eus": ItemKind.EUS,
    "sstr_pet": ItemKind.SSTR_PET,
    "fdg_pet": ItemKind.FDG_PET,
    "endoscopy": ItemKind.ENDOSCOPY,
}


class PlannedPatient(Protocol):
    """What planning reads of a patient: an ORM patient, or a row of :data:`PLANNED_PATIENT`
    (a batch replan reads its 500 patients as rows: loading them as ORM objects, to expire them
    all at commit, was a twentieth of its time)."""

    @property
    def id(self) -> int | None: ...
    @property
    def clinic(self) -> str: ...
    @property
    def birth_date(self) -> dt.date: ...
    @property
    def timezone(self) -> str: ...
    @property
    def deceased_on(self) -> dt.date | None: ...
    @property
    def hereditary(self) -> str: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def no_follow_up_rule(self) -> str | None: ...
    @property
    def plan_note(self) -> str: ...
    @property
    def planned_at(self) -> dt.datetime | None: ...


PLANNED_PATIENT = (
    "id",
    "clinic",
    "birth_date",
    "timezone",
    "deceased_on",
    "hereditary",
    "created_at",
    "no_follow_up_rule",
    "plan_note",
)


def patients_to_plan(session: Session, ids: list[int]) -> list[PlannedPatient]:
    """The patients ``ids`` as plain rows of what planning reads, and when each was last
    planned, in id order."""
    table = m.Patient.__table__  # type: ignore[attr-defined]
    read = (*PLANNED_PATIENT, "planned_at")
    query = sa.select(*(table.c[name] for name in read)).order_by(table.c.id)
    rows: list[PlannedPatient] = []
    for chunk in _chunks(ids):
        rows.extend(session.execute(query.where(among(session, table.c.id, chunk))).all())
    return rows


def facts_for_patient(session: Session, patient: m.Patient) -> f.Facts:
    """Everything the planner and the triggers need to know about one patient."""
    return facts_for_patients(session, [patient])[patient.id or 0]


def facts_for_patients(session: Session, patients: Sequence[Any]) -> dict[int, f.Facts]:
    """Facts for many patients with one query per table (replanning 100k patients must not
    cost a dozen round trips each). ``patients``: ORM patients, or plain rows with the same
    attribute names (id, birth_date, timezone, deceased_on, hereditary, created_at).

    Each table is read as tuples of only the columns the facts need, grouped by patient in one
    pass: ORM objects, or named rows sorted with Python keys, built only to be read once were
    most of a replan's cost (issue 19)."""
    ids = [p.id for p in patients if p.id is not None]
    tumours = {row[0]: row for row in _tuples(session, _TUMOUR, ids)}
    states = grouped(_tuples(session, _STATE, ids))
    markers = grouped(_tuples(session, _MARKER, ids))
    therapies = grouped(_tuples(session, _THERAPY, ids))
    symptoms = grouped(_tuples(session, _SYMPTOM, ids))
    pathology = grouped(_tuples(session, _PATHOLOGY, ids))
    measurements = grouped(_tuples(session, _MEASUREMENT, ids))
    done = grouped(_tuples(session, _DONE, ids))
    none: list[Any] = []
    out = {}
    for patient in patients:
        pid = patient.id or 0
        out[pid] = _assemble(
            patient,
            tumours.get(pid),
            states.get(pid, none),
            measurements.get(pid, none),
            markers.get(pid, none),
            therapies.get(pid, none),
            symptoms.get(pid, none),
            pathology.get(pid, none),
            done.get(pid, none),
        )
    return out


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    # SQLite caps bound parameters; 900 stays well inside every backend's limit.
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _select(model: Any, *names: str) -> ChunkQuery:
    """``patient_id`` then ``names`` of ``model``'s table, leaving out struck-out results (a
    mistyped value kept in history is never planned on)."""
    table = model.__table__
    query = sa.select(table.c.patient_id, *(table.c[name] for name in names))
    if "struck_out_at" in table.c:
        query = query.where(table.c.struck_out_at.is_(None))
    return ChunkQuery(query, table.c.patient_id)


_TUMOUR = _select(
    m.Tumour,
    "site",
    "differentiation",
    "ki67",
    "mitoses",
    "stage",
    "functional",
    "sstr_status",
    "diagnosed_on",
    "size_mm",
    "node_status",
    "adverse_histology",
    "carcinoid_type",
    "gastric_type",
    "carcinoid_heart_disease",
)
_STATE = _select(m.DiseaseState, "start_date", "id", "kind", "end_date", "resection")
_MARKER = _select(m.MarkerResult, "name", "date", "value", "uln", "on_ppi")
_THERAPY = _select(
    m.Therapy, "started_on", "kind", "agent", "ended_on", "cycles_given", "last_given_on"
)
_SYMPTOM = _select(m.Symptom, "date", "description")
_PATHOLOGY = _select(m.PathologyResult, "date", "ki67", "mitoses", "differentiation")
_MEASUREMENT = ChunkQuery(
    sa.select(  # type: ignore[arg-type]
        col(m.Lesion.patient_id),
        col(m.Lesion.label),
        col(m.Measurement.date),
        col(m.Measurement.diameter_mm),
        col(m.Measurement.modality),
    )
    .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
    .where(col(m.Measurement.struck_out_at).is_(None)),
    col(m.Lesion.patient_id),
)
_DONE = ChunkQuery(
    sa.select(  # type: ignore[arg-type]
        col(m.FollowUpItem.patient_id),
        col(m.FollowUpItem.kind),
        col(m.FollowUpItem.completed_on),
        col(m.FollowUpItem.region),
    ).where(
        col(m.FollowUpItem.state) == m.ItemState.DONE,
        col(m.FollowUpItem.completed_on).is_not(None),
    ),
    col(m.FollowUpItem.patient_id),
)


# Every read of the facts, as ``facts_for_patients`` makes them (``bench_replan`` times them
# bare, on a plain connection, as the floor of reading the facts).
FACT_READS = (_TUMOUR, _STATE, _MARKER, _THERAPY, _SYMPTOM, _PATHOLOGY, _MEASUREMENT, _DONE)


def _tuples(session: Session, query: ChunkQuery, ids: list[int]) -> list[Any]:
    return query.rows(session, ids)


def plain_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """``table``'s columns but its timestamps (created, updated, booked at): the planner never
    reads them, and each would be turned into an aware datetime for nothing."""
    return [column for column in table.c if not _is_timestamp(column)]


def _is_timestamp(column: sa.Column[Any]) -> bool:
    try:
        return column.type.python_type is dt.datetime
    except NotImplementedError:
        return False


def grouped(rows: list[Any]) -> dict[int, list[Any]]:
    """``rows`` by their first column, the patient's id, in the order read."""
    out: dict[int, list[Any]] = {}
    for row in rows:
        pid = row[0]
        found = out.get(pid)
        if found is None:
            out[pid] = [row]
        else:
            found.append(row)
    return out


def _members(kind: type[E]) -> dict[str, E]:
    # A dict lookup instead of calling the enum (its constructor is ~20x slower); an unknown
    # value still fails loudly, as the enum call did (the CHECK constraints make it impossible).
    return {member.value: member for member in kind}


_ITEM = _members(ItemKind)
_STATE_KIND = _members(StateKind)
_RESECTION = _members(Resection)
_THERAPY_KIND = _members(TherapyKind)
_DIFFERENTIATION = _members(Differentiation)
_HEREDITARY = _members(Hereditary)
_SITE = _members(Site)
_STAGE = _members(Stage)
_FUNCTIONAL = _members(Functional)
_SSTR = _members(Sstr)
_NODE = _members(NodeStatus)
_CARCINOID = _members(CarcinoidType)
_GASTRIC = _members(GastricType)
_ADVERSE = _members(AdverseHistology)
_BY_THREE = itemgetter(1, 2, 3)
_BY_TWO = itemgetter(1, 2)


def _assemble(
    patient: Any,
    tumour: Any,
    states: list[Any],
    measurement_rows: list[Any],
    marker_rows: list[Any],
    therapy_rows: list[Any],
    symptom_rows: list[Any],
    pathology_rows: list[Any],
    done: list[Any],
) -> f.Facts:
    """One patient's facts from the tuples of :data:`_TUMOUR`, :data:`_STATE`, ... (each
    starting with the patient id). Sorted as the facts are compared: by value, the database
    order only breaking ties."""
    # The current episode: the latest open one (start date, then id).
    current = max((s for s in states if s[4] is None), key=_BY_TWO, default=None)
    if current is not None:
        resection = _RESECTION[current[5]] if current[5] else None
        state = f.State(kind=_STATE_KIND[current[3]], since=current[1], resection=resection)
    else:
        since = tumour[8] if tumour is not None and tumour[8] else patient.created_at.date()
        state = f.State(kind=StateKind.ACTIVE_SURVEILLANCE, since=since)
    # Built positionally in list comprehensions: a replan builds ~15 of these per patient,
    # and keyword arguments and generators cost a third more than the objects themselves.
    marker_rows = sorted(marker_rows, key=_BY_THREE)
    marker, item = f.Marker, _ITEM
    markers = tuple([marker(item[n], day, v, uln, ppi) for _, n, day, v, uln, ppi in marker_rows])
    kinds, therapy = _THERAPY_KIND, f.Therapy
    therapies = tuple(
        [
            therapy(kinds[kind], started, agent, ended, cycles, last)
            for _, started, kind, agent, ended, cycles, last in sorted(therapy_rows, key=_BY_TWO)
        ]
    )
    measurement_rows = sorted(measurement_rows, key=_BY_THREE)
    measurement = f.Measurement
    measurements = tuple([measurement(*row[1:]) for row in measurement_rows])
    # The stored text of each kind, not the enum: a str hashes in C (an enum member's hash is a
    # Python call) and the triples sort without a key function, in the same order.
    completed = {(kind, day, region or "") for _, kind, day, region in done}
    completed.update([(row[1], row[2], "") for row in marker_rows])
    completed.update(  # a measured lesion is the tumour's own imaging: no separate body region
        [
            (_MODALITY_TEXT[modality], day, "")
            for _, _l, day, _mm, modality in measurement_rows
            if modality in _MODALITY_TEXT
        ]
    )
    return f.Facts(
        patient=f.Patient(
            id=str(patient.id),
            birth_date=patient.birth_date,
            timezone=patient.timezone,
            deceased_on=patient.deceased_on,
            hereditary=_HEREDITARY[patient.hereditary],
        ),
        tumour=_tumour(tumour),
        state=state,
        measurements=measurements,
        markers=markers,
        therapies=therapies,
        completed=_completed(completed),
        symptoms=tuple(
            f.Symptom(date=day, description=text)
            for _, day, text in sorted(symptom_rows, key=_BY_TWO)
        ),
        pathology=tuple(
            f.Pathology(
                date=day,
                ki67=ki67,
                mitoses=mitoses,
                differentiation=_DIFFERENTIATION[grade] if grade else None,
            )
            for _, day, ki67, mitoses, grade in sorted(pathology_rows, key=_BY_DATE)
        ),
    )


_BY_DATE = itemgetter(1)
_MODALITY_TEXT = {modality: kind.value for modality, kind in MODALITY_ITEM.items()}


def completed_facts(done: set[tuple[ItemKind, dt.date, str | None]]) -> tuple[f.Completed, ...]:
    """(kind, date, region) triples as facts, in a fixed order (the facts are compared)."""
    ordered = sorted(done, key=_completed_order)
    return tuple([f.Completed(kind=t[0], date=t[1], region=t[2]) for t in ordered])


def _completed_order(t: tuple[ItemKind, dt.date, str | None]) -> tuple[str, dt.date, str]:
    return t[0], t[1], t[2] or ""


def _completed(done: set[tuple[str, dt.date, str]]) -> tuple[f.Completed, ...]:
    """:func:`completed_facts` of (kind as stored, date, region or "") triples: the same facts
    in the same order (an ItemKind sorts as its text)."""
    made = _COMPLETED
    if len(made) > _COMPLETED_CAP:
        made.clear()
    out = []
    for triple in sorted(done):
        fact = made.get(triple)
        if fact is None:
            kind, day, region = triple
            fact = made[triple] = f.Completed(kind=_ITEM[kind], date=day, region=region or None)
        out.append(fact)
    return tuple(out)


# Completed facts are immutable and few distinct ones exist (kinds x days x regions), while a
# replan of 100,000 patients needs ~1.8 million of them: each is built once and shared (building
# a frozen dataclass costs ~15x a dict lookup). Cleared when large, so a long-lived process
# stays bounded.
_COMPLETED: dict[tuple[str, dt.date, str], f.Completed] = {}
_COMPLETED_CAP = 500_000


def _tumour(row: Any) -> f.Tumour | None:
    if row is None:
        return None
    (_, site, differentiation, ki67, mitoses, stage, functional, sstr, diagnosed_on, size_mm,
     node, adverse, carcinoid, gastric, heart) = row  # fmt: skip
    return f.Tumour(
        site=_SITE[site],
        differentiation=_DIFFERENTIATION[differentiation],
        ki67=ki67,
        mitoses=mitoses,
        stage=_STAGE[stage] if stage else None,
        functional=_FUNCTIONAL[functional],
        sstr=_SSTR[sstr],
        diagnosed_on=diagnosed_on,
        size_mm=size_mm,
        node_status=_NODE[node] if node else None,
        adverse_histology=_adverse(adverse),
        carcinoid_type=_CARCINOID[carcinoid] if carcinoid else None,
        gastric_type=_GASTRIC[gastric] if gastric else None,
        carcinoid_heart_disease=heart,
    )


def _adverse(stored: str | None) -> frozenset[AdverseHistology] | None:
    """The stored comma list as facts: None is not recorded, "" is reported with none seen."""
    if stored is None:
        return None
    return frozenset(_ADVERSE[v] for v in stored.split(",") if v)
