"""Resource ids, references and FHIR's date forms, shared by every builder.

Ids are the registry's own row ids, prefixed where one FHIR type gathers rows of several
tables (Observation: measurements, markers, growth rates), so an id is stable across exports
and unique within its type across the whole registry.
"""

import datetime as dt
from typing import Any

from surveil.db import models as m
from surveil.services.export.fhir.codes import Code

Resource = dict[str, Any]


def _id(row: object) -> int:
    value = getattr(row, "id", None)
    assert isinstance(value, int), f"{type(row).__name__} is not stored yet"
    return value


def patient_ref(patient: m.Patient) -> dict[str, str]:
    return {"reference": f"Patient/{_id(patient)}"}


def condition_ref(tumour: m.Tumour) -> dict[str, str]:
    return {"reference": f"Condition/{_id(tumour)}"}


def careplan_ref(patient: m.Patient) -> dict[str, str]:
    # One plan per patient: the CarePlan shares the patient's id.
    return {"reference": f"CarePlan/{_id(patient)}"}


def service_request_ref(item: m.FollowUpItem) -> dict[str, str]:
    return {"reference": f"ServiceRequest/{_id(item)}"}


def measurement_id(measurement: m.Measurement) -> str:
    return f"measurement-{_id(measurement)}"


def marker_id(result: m.MarkerResult) -> str:
    return f"marker-{_id(result)}"


def growth_id(lesion: m.Lesion) -> str:
    return f"growth-rate-{_id(lesion)}"


def observation_ref(observation_id: str) -> dict[str, str]:
    return {"reference": f"Observation/{observation_id}"}


def lesion_ref(lesion: m.Lesion) -> dict[str, Any]:
    """A logical reference: surveil has no BodyStructure resource, but every measurement and
    growth rate of one lesion names the same identifier, so a receiver can group them."""
    return {
        "type": "BodyStructure",
        "identifier": {"system": "urn:surveil:lesion", "value": str(_id(lesion))},
        "display": f"lesion {lesion.label}",
    }


def codeable(*codes: Code, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [code.coding() for code in codes]}
    if text:
        concept["text"] = text
    return concept


def day(value: dt.date) -> str:
    return value.isoformat()


def instant(value: dt.datetime) -> str:
    """An instant with its offset, as FHIR requires (SQLite hands back naive UTC values)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat(timespec="seconds")


def without_empty(resource: Resource) -> Resource:
    """FHIR forbids empty elements: drop keys whose value is None, an empty list or dict."""
    return {key: value for key, value in resource.items() if value not in (None, [], {}, "")}
