"""Which patient a caller means, and whether they may touch them: the check every entry point of
the clinical record makes before it reads or writes anything.

A patient outside the actor's clinic is refused as ``AccessDenied`` (shown as not found, so a
guessed MRN or id does not confirm that the patient exists)."""

from sqlmodel import Session

from surveil.db import models as m
from surveil.errors import PermissionDenied
from surveil.services.actor import Actor
from surveil.services.registry.patients import get_patient
from surveil.services.users.accounts import visible_patient


def patient_by_mrn(session: Session, *, actor: Actor, mrn: str, clinic: str) -> m.Patient:
    """The patient with this MRN in ``clinic`` (MRNs are unique within a clinic), if ``actor``
    may see them."""
    found = get_patient(session, mrn=mrn, clinic=clinic)
    return visible_patient(session, actor=actor, patient_id=found.id or 0)


def require_clinic(actor: Actor, clinic: str) -> None:
    """Refuse to enrol into, or list, a clinic the actor does not work for (administrators work
    for every clinic: the rule of ``users.accounts.may_see``)."""
    if not (actor.is_admin or actor.clinic == clinic):
        raise PermissionDenied(
            f"{actor.username} works for clinic {actor.clinic!r}, not {clinic!r}"
        )
