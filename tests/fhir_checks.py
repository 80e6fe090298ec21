"""Checks every FHIR test applies to what surveil exports.

``fhir.resources`` (R4B models, wire-compatible with R4 for the types exported) validates the
structure, but it does not check required code bindings: ``status: "bogus"`` passes it. So the
codes of every required binding used are checked here against the R4 value sets, and each
resource is serialised by the library and validated again (the round trip a receiver makes).
The library is imported inside the functions: its cold import is slow, and only these tests
need it.
"""

import json
from typing import Any

from surveil.core.vocab import ItemKind

# R4 value sets of the required bindings the export uses (hl7.org/fhir/R4, each resource page).
REQUEST_STATUS = {
    "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
}  # fmt: skip
REQUIRED: dict[tuple[str, str], set[str]] = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("CarePlan", "status"): REQUEST_STATUS,
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("ServiceRequest", "status"): REQUEST_STATUS,
    ("ServiceRequest", "intent"): {
        "proposal", "plan", "directive", "order", "original-order", "reflex-order",
        "filler-order", "instance-order", "option",
    },
    ("ServiceRequest", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Task", "status"): {
        "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
        "in-progress", "on-hold", "failed", "completed", "entered-in-error",
    },
    ("Task", "intent"): {
        "unknown", "proposal", "plan", "order", "original-order", "reflex-order",
        "filler-order", "instance-order", "option",
    },
    ("Task", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Observation", "status"): {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    },
    ("Bundle", "type"): {
        "document", "message", "transaction", "transaction-response", "batch",
        "batch-response", "history", "searchset", "collection",
    },
}  # fmt: skip
CONDITION_CLINICAL = {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}
CONDITION_VERIFICATION = {
    "unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error",
}  # fmt: skip
SEARCH_MODES = {"match", "include", "outcome"}
ITEM_KIND = "urn:surveil:item-kind"


def validate_resource(resource: dict[str, Any]) -> None:
    """Valid R4(B) structure, required codes from their value sets, and the same again after
    the library serialises it."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"])
    parsed = model.model_validate(resource)
    again = json.loads(parsed.model_dump_json())
    model.model_validate(again)
    check_codes(resource)
    check_codes(again)


def check_codes(resource: dict[str, Any]) -> None:
    kind = resource["resourceType"]
    for (owner, element), allowed in REQUIRED.items():
        if owner == kind and element in resource:
            assert resource[element] in allowed, f"{kind}.{element} = {resource[element]!r}"
    if kind == "Condition":
        # Optional in R4 but for a problem-list item (con-3): a refuted condition has none.
        problem = any("problem-list-item" in _codes(cat) for cat in resource.get("category", []))
        assert "clinicalStatus" in resource or not problem, resource
        if "clinicalStatus" in resource:
            assert _codes(resource["clinicalStatus"]) <= CONDITION_CLINICAL
        assert _codes(resource["verificationStatus"]) <= CONDITION_VERIFICATION
    if kind == "ServiceRequest":
        assert resource["intent"] == "plan"
        kinds = [c["code"] for c in resource["code"]["coding"] if c["system"] == ITEM_KIND]
        assert len(kinds) == 1 and kinds[0] in {k.value for k in ItemKind}, resource["code"]
    if kind in {"CarePlan", "Task"}:
        assert resource["intent"] == "plan"


def _codes(concept: dict[str, Any]) -> set[str]:
    return {coding["code"] for coding in concept["coding"]}


def validate_bundle(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole $everything answer: the Bundle, each entry, unique full URLs, and every literal
    reference resolving to an entry. Returns the resources."""
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    Bundle.model_validate(json.loads(Bundle.model_validate(bundle).model_dump_json()))
    check_codes(bundle)
    entries = bundle.get("entry", [])
    urls = [entry["fullUrl"] for entry in entries]
    assert len(urls) == len(set(urls)), "fullUrl repeated"
    resources = [entry["resource"] for entry in entries]
    for entry in entries:
        assert entry["search"]["mode"] in SEARCH_MODES
        resource = entry["resource"]
        assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
        validate_resource(entry["resource"])
    check_references(resources)
    return resources


def check_references(resources: list[dict[str, Any]]) -> None:
    """Every ``{"reference": "Type/id"}`` names a resource in the same export."""
    present = {f"{r['resourceType']}/{r['id']}" for r in resources}
    for resource in resources:
        for target in references(resource):
            assert target in present, f"{resource['resourceType']}/{resource['id']} → {target}"


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def by_type(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == kind]
