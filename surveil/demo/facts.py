"""A demo draft as the planner's facts, read straight from the rows in memory.

The demo records follow-up history by asking the real planner what each patient needed
(history.py). Reading 100,000 freshly written patients back through the ORM would cost more
than writing them, so the facts are built here from the same rows the writer inserts. This mirrors
``surveil.db.queries.facts_for_patients`` field for field; a test checks the two agree.
"""

import datetime as dt

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
from surveil.db.queries import MODALITY_ITEM, completed_facts
from surveil.demo.story import Draft, Row


def facts_from_draft(
    draft: Draft, *, patient_id: int, created: dt.date, done: tuple[f.Completed, ...] = ()
) -> f.Facts:
    """The facts the registry will hold for ``draft`` once written as ``patient_id``, plus the
    completed items ``done`` (``created`` stands in for the state start when none is recorded)."""
    row = draft.patient
    measurements = tuple(
        sorted(
            (
                f.Measurement(
                    lesion=lesion["label"],
                    date=r["date"],
                    mm=r["diameter_mm"],
                    modality=r["modality"],
                )
                for lesion, rows in draft.lesions
                for r in rows
            ),
            key=lambda x: (x.lesion, x.date, x.mm),
        )
    )
    markers = tuple(
        sorted(
            (
                f.Marker(
                    name=ItemKind(r["name"]),
                    date=r["date"],
                    value=r["value"],
                    uln=r.get("uln"),
                    on_ppi=r.get("on_ppi", False),
                )
                for r in draft.markers
            ),
            key=lambda x: (x.name, x.date, x.value),
        )
    )
    completed = {(c.kind, c.date, c.region) for c in done}
    completed |= {(mk.name, mk.date, None) for mk in markers}
    completed |= {
        (MODALITY_ITEM[ms.modality], ms.date, None)
        for ms in measurements
        if ms.modality in MODALITY_ITEM
    }
    return f.Facts(
        patient=f.Patient(
            id=str(patient_id),
            birth_date=row["birth_date"],
            timezone=row["timezone"],
            deceased_on=row["deceased_on"],
            hereditary=Hereditary(row["hereditary"]),
        ),
        tumour=_tumour(draft.tumour),
        state=_state(draft, created),
        measurements=measurements,
        markers=markers,
        therapies=tuple(
            sorted(map(_therapy, draft.therapies), key=lambda x: (x.started_on, x.kind))
        ),
        completed=completed_facts(completed),
        symptoms=tuple(
            sorted(
                (f.Symptom(date=s["date"], description=s["description"]) for s in draft.symptoms),
                key=lambda x: (x.date, x.description),
            )
        ),
        pathology=tuple(sorted(map(_pathology, draft.pathology), key=lambda x: x.date)),
    )


def _state(draft: Draft, created: dt.date) -> f.State:
    # Rows are inserted in list order, so the list index is the order of their ids.
    ordered = sorted(
        enumerate(draft.states), key=lambda pair: (pair[1]["start_date"], pair[0]), reverse=True
    )
    current = next((s for _, s in ordered if s.get("end_date") is None), None)
    if current is None:
        diagnosed = draft.tumour.get("diagnosed_on") if draft.tumour else None
        return f.State(kind=StateKind.ACTIVE_SURVEILLANCE, since=diagnosed or created)
    resection = current.get("resection")
    return f.State(
        kind=StateKind(current["kind"]),
        since=current["start_date"],
        resection=Resection(resection) if resection else None,
    )


def _tumour(row: Row | None) -> f.Tumour | None:
    if row is None:
        return None
    return f.Tumour(
        site=Site(row["site"]),
        differentiation=Differentiation(row["differentiation"]),
        ki67=row.get("ki67"),
        mitoses=row.get("mitoses"),
        stage=Stage(row["stage"]) if row.get("stage") else None,
        functional=Functional(row["functional"]),
        sstr=Sstr(row["sstr_status"]),
        diagnosed_on=row.get("diagnosed_on"),
        size_mm=row.get("size_mm"),
        node_status=NodeStatus(row["node_status"]) if row.get("node_status") else None,
        adverse_histology=_adverse(row.get("adverse_histology")),
        carcinoid_type=CarcinoidType(row["carcinoid_type"]) if row.get("carcinoid_type") else None,
        gastric_type=GastricType(row["gastric_type"]) if row.get("gastric_type") else None,
        carcinoid_heart_disease=row.get("carcinoid_heart_disease"),
    )


def _adverse(stored: str | None) -> frozenset[AdverseHistology] | None:
    # As ``db.queries``: None is not recorded, "" is reported with none seen.
    if stored is None:
        return None
    return frozenset(AdverseHistology(v) for v in stored.split(",") if v)


def _therapy(t: Row) -> f.Therapy:
    return f.Therapy(
        kind=TherapyKind(t["kind"]),
        agent=t.get("agent"),
        started_on=t["started_on"],
        ended_on=t.get("ended_on"),
        cycles_given=t.get("cycles_given"),
        last_given_on=t.get("last_given_on"),
    )


def _pathology(p: Row) -> f.Pathology:
    own = p.get("differentiation")
    return f.Pathology(
        date=p["date"],
        ki67=p.get("ki67"),
        mitoses=p.get("mitoses"),
        differentiation=Differentiation(own) if own else None,
    )
