"""The plan: a CarePlan, and for each open follow-up item a ServiceRequest (what is due, in
which window, and which rule of which protocol asked for it) and the navigator's Task."""

from collections.abc import Iterator
from typing import Any

from surveil.core.vocab import IMAGING_KINDS, MARKER_KINDS, ItemKind, ItemState, StateKind
from surveil.db import models as m
from surveil.services.export.fhir import codes as c
from surveil.services.export.fhir.codes import Code
from surveil.services.export.fhir.refs import (
    Resource,
    careplan_ref,
    codeable,
    condition_ref,
    day,
    instant,
    patient_ref,
    service_request_ref,
    without_empty,
)
from surveil.services.export.fhir.rows import PatientRows
from surveil.services.labels import kind_label

FULFILL = Code(c.TASK_CODE, "fulfill", "Fulfill the focal request")


def has_plan(rows: PatientRows) -> bool:
    """A patient the planner has never run for, with nothing open, has no plan to send."""
    return bool(rows.open_items) or rows.patient.planned_at is not None


def plan_resources(rows: PatientRows) -> Iterator[Resource]:
    if not has_plan(rows):
        return
    yield careplan_resource(rows)
    for item in rows.open_items:
        yield service_request_resource(rows, item)
        yield task_resource(rows, item)


def careplan_status(rows: PatientRows) -> str:
    if rows.patient.deceased_on is not None:
        return "revoked"  # ended before completion
    if rows.state is not None and rows.state.kind == StateKind.DISCHARGED:
        return "completed"
    return "active"


def protocol_uri(item: m.FollowUpItem) -> str:
    """The protocol pack, its version and the clinic's profile that planned ``item``."""
    return f"{c.PROTOCOL}:{item.pack_id}:{item.pack_version}:{item.profile}"


def careplan_resource(rows: PatientRows) -> Resource:
    p = rows.patient
    protocols = sorted({protocol_uri(item) for item in rows.open_items})
    notes = [
        p.plan_note,
        f"No follow-up is needed under rule {p.no_follow_up_rule}." if p.no_follow_up_rule else "",
    ]
    return without_empty(
        {
            "resourceType": "CarePlan",
            "id": str(rows.patient_id),
            "instantiatesUri": protocols,
            "status": careplan_status(rows),
            "intent": "plan",
            "title": "Neuroendocrine tumour follow-up",
            "description": _describe(rows),
            "subject": patient_ref(p),
            "created": instant(p.planned_at) if p.planned_at else None,
            "addresses": [condition_ref(rows.tumour)] if rows.tumour else None,
            "activity": [{"reference": service_request_ref(item)} for item in rows.open_items],
            "note": [{"text": text} for text in notes if text],
        }
    )


def _describe(rows: PatientRows) -> str:
    count = len(rows.open_items)
    packs = sorted(
        {f"{i.pack_id} v{i.pack_version} (profile {i.profile})" for i in rows.open_items}
    )
    what = f"{count} open follow-up item{'s' if count != 1 else ''}"
    return what + (f", planned by protocol {', '.join(packs)}" if packs else "")


def service_request_resource(rows: PatientRows, item: m.FollowUpItem) -> Resource:
    kind = ItemKind(item.kind)
    return without_empty(
        {
            "resourceType": "ServiceRequest",
            "id": str(item.id),
            "meta": {"lastUpdated": instant(item.updated_at)},
            "instantiatesUri": [protocol_uri(item)],
            "basedOn": [careplan_ref(rows.patient)],
            "status": c.SERVICE_REQUEST_STATUS[ItemState(item.state)],
            "intent": "plan",
            "category": _category(kind),
            "priority": "urgent" if item.urgent else "routine",
            "code": item_code(item),
            "subject": patient_ref(rows.patient),
            "occurrencePeriod": {"start": day(item.earliest), "end": day(item.latest)},
            "authoredOn": instant(item.created_at),
            "reasonCode": [
                codeable(Code(c.RULE, item.rule_id, item.rule_id), text=item.reason or None)
            ],
            "reasonReference": [condition_ref(rows.tumour)] if rows.tumour else None,
            "bodySite": [_region(item.region)] if item.region else None,
            "note": [{"text": provenance(item)}],
        }
    )


def item_code(item: m.FollowUpItem) -> dict[str, Any]:
    kind = ItemKind(item.kind)
    standard = c.order_code(kind)
    local = Code(c.ITEM_KIND, kind.value, kind_label(kind))
    text = kind_label(kind) + (f" ({item.region})" if item.region else "")
    return codeable(*([standard] if standard else []), local, text=text)


def _category(kind: ItemKind) -> list[dict[str, Any]] | None:
    if kind in IMAGING_KINDS or kind is ItemKind.ECHOCARDIOGRAM:
        return [codeable(c.IMAGING)]
    if kind in MARKER_KINDS or kind is ItemKind.LABS:
        return [codeable(c.LABORATORY)]
    return None


def _region(region: str) -> dict[str, Any]:
    standard = c.REGIONS.get(region)
    local = Code(c.REGION, region, region)
    return codeable(*([standard] if standard else []), local, text=region)


def provenance(item: m.FollowUpItem) -> str:
    """Why this item exists, in one line: rule, protocol, source, evidence, anchor, target."""
    parts = [
        f"Rule {item.rule_id} of protocol {item.pack_id} v{item.pack_version} "
        f"(profile {item.profile})",
        f"source {item.source}" + (f" (evidence {item.evidence})" if item.evidence else "")
        if item.source
        else "",
        f"anchored on {item.anchor_event.replace('_', ' ')}"
        + (f" on {day(item.anchor_date)}" if item.anchor_date else "")
        if item.anchor_event
        else "",
        f"target date {day(item.target)}",
    ]
    return "; ".join(part for part in parts if part) + "."


def task_resource(rows: PatientRows, item: m.FollowUpItem) -> Resource:
    """The navigator's job: get the ServiceRequest done within its window."""
    label = kind_label(item.kind)
    return without_empty(
        {
            "resourceType": "Task",
            "id": str(item.id),
            "basedOn": [careplan_ref(rows.patient)],
            "status": c.TASK_STATUS[ItemState(item.state)],
            "businessStatus": codeable(
                Code(c.ITEM_STATE, item.state, item.state), text=_business_status(item)
            ),
            "intent": "plan",
            "priority": "urgent" if item.urgent else "routine",
            "code": codeable(FULFILL),
            "description": f"Arrange {label} between {day(item.earliest)} and {day(item.latest)}",
            "focus": service_request_ref(item),
            "for": patient_ref(rows.patient),
            "authoredOn": instant(item.created_at),
            "lastModified": instant(item.updated_at),
            "owner": _owner(rows.navigator),
            "restriction": {"period": {"start": day(item.earliest), "end": day(item.latest)}},
        }
    )


def _business_status(item: m.FollowUpItem) -> str:
    text = item.state
    if item.state == ItemState.BOOKED and item.booked_at is not None:
        text += f" for {instant(item.booked_at)}"
    if item.snoozed_until is not None:
        reason = f": {item.snooze_reason}" if item.snooze_reason else ""
        text += f", snoozed until {day(item.snoozed_until)}{reason}"
    return text


def _owner(navigator: m.User | None) -> dict[str, Any] | None:
    """A logical reference: the navigator is a surveil user, not a resource in the export."""
    if navigator is None:
        return None
    return {
        "type": "Practitioner",
        "identifier": {"system": c.USER, "value": navigator.username},
        "display": navigator.display_name,
    }
