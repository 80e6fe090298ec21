"""A small real registry for the issue-14 tests (bookings, late work, reopening, reasons): one
small pancreatic NET on surveillance since 2026-05-01, planned by the planner itself, so its
MRI and CgA windows are 2026-11-01 – 2027-05-01 (due on TODAY)."""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.planning import care
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.worklist.sections import WorklistQuery, build_worklist

TODAY = dt.date(2026, 11, 23)
CLINIC = "north"
NINA = Actor("nina", "navigator", CLINIC, ip="10.0.0.7")
NINA_CLI = Actor("nina", "navigator", CLINIC, channel=Channel.CLI, os_user="ops")
DR = Actor("dr.okafor", "clinician", CLINIC, ip="10.0.0.9")
DR_CLI = Actor("dr.okafor", "clinician", CLINIC, channel=Channel.CLI, os_user="ops")


@dataclass(frozen=True)
class Seed:
    patient: int
    mri: int
    cga: int


def seed_patient(
    engine: sa.Engine, settings: Settings, mrn: str = "P1", clinic: str = CLINIC
) -> Seed:
    """Enrolled and planned with the services' building blocks (no audit rows)."""
    with Session(engine, expire_on_commit=False) as session:
        patient = registry.enrol_patient(
            session,
            clinic=clinic,
            data=PatientInput(
                mrn=mrn, given_name="Ada", family_name="Lovelace", birth_date="1962-03-14"
            ),
            tumour=TumourInput(site="pancreas", ki67="2", size_mm="12", diagnosed_on="2026-05-01"),
            state_kind="active_surveillance",
            since="2026-05-01",
            resection=None,
            today=TODAY,
        )
        care.refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI
        )
        session.commit()
        items = {i.kind: i.id or 0 for i in open_items(session, patient.id or 0)}
        return Seed(patient=patient.id or 0, mri=items["mri"], cga=items["cga"])


def open_items(session: Session, patient_id: int) -> list[m.FollowUpItem]:
    rows = session.exec(
        select(m.FollowUpItem)
        .where(
            m.FollowUpItem.patient_id == patient_id,
            col(m.FollowUpItem.state).in_([s.value for s in m.OPEN_ITEM_STATES]),
        )
        .order_by(col(m.FollowUpItem.id))
    )
    return list(rows)


def item(engine: sa.Engine, item_id: int) -> m.FollowUpItem:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(m.FollowUpItem, item_id)
        assert row is not None
        return row


def sections_of(engine: sa.Engine, settings: Settings, today: dt.date) -> dict[str, list[int]]:
    """Each worklist section's item ids (trigger and patient sections by their row's id)."""
    with Session(engine) as session:
        found = build_worklist(
            session, query=WorklistQuery(today=today), actor=NINA, settings=settings
        )
        return {
            s.key: [r.item_id or r.trigger_id or r.patient_id for r in s.rows]
            for s in found.sections
        }


def where_is(engine: sa.Engine, settings: Settings, today: dt.date, item_id: int) -> list[str]:
    shown = sections_of(engine, settings, today)
    item_sections = {k: v for k, v in shown.items() if k not in ("no_owner", "no_plan")}
    return [key for key, ids in item_sections.items() if item_id in ids]
