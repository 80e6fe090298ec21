"""Who the patient is and what was found: Patient, Condition (the NET) and Observations
(lesion diameters, tumour markers, and each lesion's derived growth rate)."""

from collections.abc import Iterator
from typing import Any

from surveil.core import facts as f
from surveil.core.findings import show
from surveil.core.growth import Growth, growth_of, lesion_readings
from surveil.core.vocab import Differentiation, Grade, ItemKind, Site, Stage
from surveil.db import models as m
from surveil.services.export.fhir import codes as c
from surveil.services.export.fhir.codes import Code
from surveil.services.export.fhir.refs import (
    Resource,
    codeable,
    day,
    growth_id,
    instant,
    lesion_ref,
    marker_id,
    measurement_id,
    observation_ref,
    patient_ref,
    without_empty,
)
from surveil.services.export.fhir.rows import LesionRows, PatientRows
from surveil.services.labels import kind_label

IMAGING = Code(c.OBSERVATION_CATEGORY, "imaging", "Imaging")
LABORATORY = Code(c.OBSERVATION_CATEGORY, "laboratory", "Laboratory")


def patient_resource(rows: PatientRows) -> Resource:
    p = rows.patient
    mrn_type = Code(c.IDENTIFIER_TYPE, "MR", "Medical record number")
    telecom = [
        {"system": "email", "value": p.email} if p.email else None,
        {"system": "phone", "value": p.phone} if p.phone else None,
    ]
    return without_empty(
        {
            "resourceType": "Patient",
            "id": str(rows.patient_id),
            "meta": {"lastUpdated": instant(p.updated_at)},
            "identifier": [
                {
                    "use": "usual",
                    "type": codeable(mrn_type),
                    "system": c.MRN,
                    "value": p.mrn,
                    "assigner": {"display": p.clinic},
                }
            ],
            "active": True,
            "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
            "telecom": [t for t in telecom if t],
            "gender": p.sex,  # surveil's vocabulary is FHIR's AdministrativeGender
            "birthDate": day(p.birth_date),
            "deceasedDateTime": day(p.deceased_on) if p.deceased_on else None,
            "managingOrganization": {"display": p.clinic},
        }
    )


def condition_resource(rows: PatientRows) -> Resource | None:
    """The primary tumour, with its WHO grade and extent as coded stages."""
    tumour = rows.tumour
    if tumour is None:
        return None
    grade = Grade(tumour.grade)
    carcinoma = grade is Grade.NEC or tumour.differentiation == Differentiation.POOR
    kind = (
        Code(c.TUMOUR, "nec", "Neuroendocrine carcinoma")
        if carcinoma
        else Code(c.TUMOUR, "net", "Well-differentiated neuroendocrine tumour")
    )
    site = Site(tumour.site)
    where = "primary site unknown" if site is Site.UNKNOWN else f"of the {_words(site)}"
    return without_empty(
        {
            "resourceType": "Condition",
            "id": str(tumour.id),
            "clinicalStatus": codeable(Code(c.CONDITION_CLINICAL, "active", "Active")),
            "verificationStatus": codeable(
                Code(c.CONDITION_VERIFICATION, "confirmed", "Confirmed")
            ),
            "category": [
                codeable(Code(c.CONDITION_CATEGORY, "problem-list-item", "Problem List Item"))
            ],
            "code": codeable(kind, text=f"{kind.display} {where}"),
            "bodySite": [_site(site)],
            "subject": patient_ref(rows.patient),
            "onsetDateTime": day(tumour.diagnosed_on) if tumour.diagnosed_on else None,
            "stage": _stages(grade, tumour.stage),
            "note": [{"text": text} for text in [_tumour_facts(tumour)] if text],
        }
    )


def _words(value: str) -> str:
    return value.replace("_", " ")


def _site(site: Site) -> dict[str, Any]:
    local = Code(c.SITE, site.value, _words(site).capitalize())
    standard = c.SITES.get(site)
    return codeable(*([standard] if standard else []), local, text=_words(site))


def _stages(grade: Grade, stage: str | None) -> list[dict[str, Any]]:
    stages = [
        {
            "summary": codeable(Code(c.WHO_GRADE, grade.value, c.GRADES[grade])),
            "type": codeable(Code(c.STAGE_TYPE, "who-grade", "WHO 2019 grade")),
        }
    ]
    if stage:
        extent = Stage(stage)
        stages.append(
            {
                "summary": codeable(Code(c.EXTENT, extent.value, c.EXTENTS[extent])),
                "type": codeable(Code(c.STAGE_TYPE, "extent", "Extent of disease")),
            }
        )
    return stages


def _tumour_facts(tumour: m.Tumour) -> str:
    facts = [
        f"Ki-67 {show(tumour.ki67)} %" if tumour.ki67 is not None else "",
        f"mitoses {show(tumour.mitoses)} per 2 mm²" if tumour.mitoses is not None else "",
        f"differentiation {tumour.differentiation}",
        f"size {show(tumour.size_mm)} mm" if tumour.size_mm is not None else "",
        f"SSTR imaging {tumour.sstr_status}" if tumour.sstr_status != "unknown" else "",
        f"functional: {_words(tumour.functional)}" if tumour.functional != "none" else "",
    ]
    return "; ".join(fact for fact in facts if fact)


# --------------------------------------------------------------------------- observations


def observations(rows: PatientRows, *, min_spacing_days: int) -> Iterator[Resource]:
    """Every measurement and marker result, then each lesion's growth rate where two readings
    are far enough apart (``min_spacing_days``, as the growth trigger requires)."""
    for series in rows.lesions:
        for measurement in series.measurements:
            yield _measurement(rows, series, measurement)
    for result in rows.markers:
        yield _marker(rows, result)
    for series in rows.lesions:
        growth = _growth(series, min_spacing_days)
        if growth is not None:
            yield _growth_rate(rows, series, growth)


def _measurement(rows: PatientRows, series: LesionRows, measurement: m.Measurement) -> Resource:
    label = series.lesion.label
    return without_empty(
        {
            "resourceType": "Observation",
            "id": measurement_id(measurement),
            "status": "final",
            "category": [codeable(IMAGING)],
            "code": codeable(
                c.LESION_DIAMETER,
                c.LOCAL_LESION_DIAMETER,
                text=f"Longest diameter of lesion {label}",
            ),
            "subject": patient_ref(rows.patient),
            "focus": [lesion_ref(series.lesion)],
            "effectiveDateTime": day(measurement.date),
            "valueQuantity": quantity(measurement.diameter_mm, "mm"),
            "bodySite": {"text": series.lesion.location} if series.lesion.location else None,
            "method": codeable(
                Code(c.MODALITY, measurement.modality, kind_label(measurement.modality)),
                text=kind_label(measurement.modality),
            ),
        }
    )


def _marker(rows: PatientRows, result: m.MarkerResult) -> Resource:
    kind = ItemKind(result.name)
    standard = c.marker_code(kind, result.unit)
    local = Code(c.ITEM_KIND, kind.value, kind_label(kind))
    return without_empty(
        {
            "resourceType": "Observation",
            "id": marker_id(result),
            "status": "final",
            "category": [codeable(LABORATORY)],
            "code": codeable(*([standard] if standard else []), local, text=kind_label(kind)),
            "subject": patient_ref(rows.patient),
            "effectiveDateTime": day(result.date),
            "valueQuantity": quantity(result.value, result.unit),
            "referenceRange": (
                [{"high": quantity(result.uln, result.unit), "text": "upper limit of normal"}]
                if result.uln is not None
                else None
            ),
            "note": (
                [{"text": "Taken on a proton-pump inhibitor, which raises CgA and gastrin."}]
                if result.on_ppi
                else None
            ),
        }
    )


def _growth(series: LesionRows, min_spacing_days: int) -> Growth | None:
    label = series.lesion.label
    readings = lesion_readings(
        f.Measurement(lesion=label, date=r.date, mm=r.diameter_mm, modality=r.modality)
        for r in series.measurements
    )
    return growth_of(label, readings.get(label, []), min_spacing_days)


def _growth_rate(rows: PatientRows, series: LesionRows, growth: Growth) -> Resource:
    label = series.lesion.label
    # The two-point rate is what the trigger judged; the least-squares slope the trigger's
    # explanation adds is left out (exact arithmetic over every scan: a fifth of a bulk export).
    note = (
        f"Two-point rate from {show(growth.earlier.mm)} mm on {growth.earlier.date} to "
        f"{show(growth.later.mm)} mm on {growth.later.date}, "
        f"{len(growth.readings)} scans in all"
    )
    return without_empty(
        {
            "resourceType": "Observation",
            "id": growth_id(series.lesion),
            "status": "final",
            "category": [codeable(IMAGING)],
            "code": codeable(c.LOCAL_GROWTH_RATE, text=f"Growth rate of lesion {label}"),
            "subject": patient_ref(rows.patient),
            "focus": [lesion_ref(series.lesion)],
            "effectivePeriod": {
                "start": day(growth.earlier.date),
                "end": day(growth.later.date),
            },
            "valueQuantity": {
                "value": float(growth.rate),
                "unit": c.GROWTH_UNIT.ucum,
                "system": c.UCUM,
                "code": c.GROWTH_UNIT.ucum,
            },
            "derivedFrom": [
                observation_ref(measurement_id(_read_on(series, reading.date)))
                for reading in (growth.earlier, growth.later)
            ],
            "note": [{"text": note}],
        }
    )


def _read_on(series: LesionRows, date: object) -> m.Measurement:
    """The measurement that gave the day's reading: the largest diameter, ties broken by the
    modality name as core.growth does."""
    same_day = [r for r in series.measurements if r.date == date]
    return min(same_day, key=lambda r: (-r.diameter_mm, r.modality))


def quantity(value: float, unit: str) -> dict[str, Any]:
    """A Quantity with its UCUM code where the unit is known, else the unit as typed."""
    known = c.unit_of(unit) if unit else None
    if known is None:
        return without_empty({"value": value, "unit": unit.strip()})
    return {"value": value, "unit": unit.strip(), "system": c.UCUM, "code": known.ucum}
