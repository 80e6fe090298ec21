"""Who may decide what about a trigger: the one rule used by every shell (CLI, web, the API to
come), so it cannot differ between entry points.

* Anyone who may see the patient (navigator, clinician, administrator) acknowledges a trigger and
  adds notes: someone has seen it.
* Clinical findings (growth, size, RECIST progression or a new lesion, marker rise, grade
  change, new symptoms) are resolved, confirmed and re-opened by clinicians only: each is a
  clinical decision with a clinician's name on it.
* Administrative ones (a missed somatostatin-analogue dose, a reminder that could not be
  delivered) may be closed by navigators too: nothing clinical is decided.

A kind this module does not know is treated as clinical: a new trigger kind waits for a
clinician until someone decides otherwise here.
"""

from surveil.core.findings import TriggerKind
from surveil.db import models as m
from surveil.errors import PermissionDenied
from surveil.services.actor import Actor
from surveil.services.labels import trigger_label

# Closed by whoever runs the worklist: an appointment to chase, a message to resend.
ADMINISTRATIVE_KINDS = frozenset({TriggerKind.SSA_OVERDUE.value, "reminder_failed"})
CLINICIAN_ROLES = frozenset({m.Role.CLINICIAN.value})


def is_clinical(kind: str) -> bool:
    return kind not in ADMINISTRATIVE_KINDS


def is_clinician(actor: Actor) -> bool:
    return actor.role in CLINICIAN_ROLES


def may_resolve(actor: Actor, kind: str) -> bool:
    """May this person close a trigger of this kind (with any outcome)?"""
    return is_clinician(actor) or not is_clinical(kind)


def role_may_resolve(role: str | None, kind: str) -> bool:
    """:func:`may_resolve` for a signed-in user's role: pages offer only what the person may do
    (the entry point checks again)."""
    return role in CLINICIAN_ROLES or not is_clinical(kind)


def require_may_resolve(actor: Actor, trigger: m.Trigger) -> None:
    if not may_resolve(actor, trigger.kind):
        raise PermissionDenied(
            f"trigger {trigger.id} ({trigger_label(trigger.kind)}) is a clinical finding: only a "
            f"clinician may resolve it; {actor.username} ({actor.role}) may acknowledge it "
            "and add a note"
        )


def require_clinician(actor: Actor, what: str) -> None:
    """Confirming a proposed consequence or re-opening a decision: a clinician's act."""
    if not is_clinician(actor):
        raise PermissionDenied(f"only a clinician may {what}; {actor.username} is a {actor.role}")
