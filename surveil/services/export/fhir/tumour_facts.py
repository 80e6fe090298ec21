"""Pack 2027.1's tumour facts as FHIR (issue 15): node status, adverse histology, carcinoid type
and gastric type as Observations about the tumour's Condition (``focus``); carcinoid heart disease
as a Condition of its own, ``confirmed`` when recorded present and ``refuted`` when recorded
absent. A fact not recorded sends nothing: "not recorded" and "absent" must stay apart, as the
planner keeps them apart.

No date is sent: the registry keeps the fact, not when it was found (the tumour's diagnosis date
is not it).
"""

from collections.abc import Iterator

from surveil.core.vocab import AdverseHistology
from surveil.db import models as m
from surveil.services.export.fhir import codes as c
from surveil.services.export.fhir.codes import Code
from surveil.services.export.fhir.refs import Resource, codeable, condition_ref, patient_ref

LABORATORY = Code(c.OBSERVATION_CATEGORY, "laboratory", "Laboratory")  # pathology findings
EXAM = Code(c.OBSERVATION_CATEGORY, "exam", "Exam")  # the gastric type: endoscopy and gastrin
FEATURES = {
    AdverseHistology.LVI: "Lymphovascular invasion",
    AdverseHistology.MUSCULARIS: "Invasion of the muscularis propria",
    AdverseHistology.MESOAPPENDIX: "Mesoappendiceal invasion over 3 mm",
}
WORDS = {
    "N0": "No regional lymph node metastasis",
    "N1": "Regional lymph node metastasis",
    "typical": "Typical carcinoid",
    "atypical": "Atypical carcinoid",
    "type_1": "Type 1 (chronic atrophic gastritis)",
    "type_2": "Type 2 (gastrinoma, MEN1)",
    "type_3": "Type 3 (sporadic)",
}


def tumour_fact_resources(patient: m.Patient, tumour: m.Tumour | None) -> Iterator[Resource]:
    """The recorded 2027.1 facts of ``tumour``, in a fixed order (nothing when none is)."""
    if tumour is None:
        return
    tid = tumour.id
    if tumour.node_status:
        nodes = (c.REGIONAL_NODES_PATHOLOGY, c.LOCAL_NODE_STATUS)
        yield _valued(patient, tumour, f"node-status-{tid}", LABORATORY, nodes, tumour.node_status)
    if tumour.adverse_histology is not None:
        yield _adverse(patient, tumour)
    if tumour.carcinoid_type:
        yield _valued(patient, tumour, f"carcinoid-type-{tid}", LABORATORY,
                      (c.LOCAL_CARCINOID_TYPE,), tumour.carcinoid_type)  # fmt: skip
    if tumour.gastric_type:
        yield _valued(patient, tumour, f"gastric-type-{tid}", EXAM,
                      (c.LOCAL_GASTRIC_TYPE,), tumour.gastric_type)  # fmt: skip
    if tumour.carcinoid_heart_disease is not None:
        yield _heart(patient, tumour)


def _observation(
    patient: m.Patient, tumour: m.Tumour, oid: str, category: Code, code: tuple[Code, ...]
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [codeable(category)],
        "code": codeable(*code, text=code[-1].display),
        "subject": patient_ref(patient),
        "focus": [condition_ref(tumour)],
    }


def _valued(
    patient: m.Patient,
    tumour: m.Tumour,
    oid: str,
    category: Code,
    code: tuple[Code, ...],
    value: str,
) -> Resource:
    words = WORDS.get(value, value)
    return {
        **_observation(patient, tumour, oid, category, code),
        "valueCodeableConcept": codeable(Code(c.TUMOUR_FACT, value, words), text=words),
    }


def _adverse(patient: m.Patient, tumour: m.Tumour) -> Resource:
    """One component per feature, present or not: a report that names none says each is absent
    ("reported, none seen" is a fact; a report never entered sends nothing at all)."""
    seen = {part for part in (tumour.adverse_histology or "").split(",") if part}
    resource = _observation(
        patient, tumour, f"adverse-histology-{tumour.id}", LABORATORY, (c.LOCAL_ADVERSE_HISTOLOGY,)
    )
    resource["component"] = [
        {
            "code": codeable(Code(c.TUMOUR_FACT, feature.value, words), text=words),
            "valueBoolean": feature.value in seen,
        }
        for feature, words in FEATURES.items()
    ]
    if not seen:
        resource["note"] = [{"text": "Reported: none of these features seen."}]
    return resource


def _heart(patient: m.Patient, tumour: m.Tumour) -> Resource:
    present = bool(tumour.carcinoid_heart_disease)
    status = (
        Code(c.CONDITION_VERIFICATION, "confirmed", "Confirmed")
        if present
        else Code(c.CONDITION_VERIFICATION, "refuted", "Refuted")
    )
    resource: Resource = {
        "resourceType": "Condition",
        "id": f"carcinoid-heart-{tumour.id}",
        "verificationStatus": codeable(status),
        "code": codeable(c.CARCINOID_HEART, text=c.CARCINOID_HEART.display),
        "subject": patient_ref(patient),
    }
    # On the problem list only when present. R4's con-3 asks a problem-list item for a clinical
    # status, and a refuted condition has none that is true ("active" or "resolved" would both
    # say the patient had it).
    if present:
        resource["clinicalStatus"] = codeable(Code(c.CONDITION_CLINICAL, "active", "Active"))
        resource["category"] = [
            codeable(Code(c.CONDITION_CATEGORY, "problem-list-item", "Problem List Item"))
        ]
    return resource
