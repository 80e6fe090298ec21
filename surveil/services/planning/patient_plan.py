"""A stored patient's plan as a clinician reads it (``surveil plan --patient``): the open items
with their reasons and the unresolved triggers. Reading it is audited as a view of the patient."""

import datetime as dt

import sqlalchemy as sa

from surveil.core.plan import Plan
from surveil.core.protocol import Pack, Profile
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.planning.plans import plan_for_patient
from surveil.services.registry.access import patient_by_mrn


@audited_read("plan.viewed")
def show_plan(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str,
    clinic: str,
    pack: Pack,
    profile: Profile,
    today: dt.date,
    what_if: bool = False,
) -> tuple[Plan, list[dict[str, object]]]:
    """The plan under ``profile`` as of ``today``: the stored items, or with ``what_if`` the items
    ``pack`` and ``profile`` would plan (nothing stored changes either way)."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        audit(
            session,
            actor=actor,
            action="plan.viewed",
            patient_id=patient.id,
            subject=f"plan:{patient.id}",
            detail=f"{'what-if ' if what_if else ''}plan as of {today} under "
            f"{pack.id} {pack.version}:{profile.name}",
        )
        return plan_for_patient(
            session, patient=patient, pack=pack, profile=profile, today=today, what_if=what_if
        )
