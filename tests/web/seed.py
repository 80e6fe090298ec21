"""Registry rows for worklist, action and web tests, made through the real services where one
exists (patients, tumours, states) and as plain rows where the planner or trigger engine would
make them (items, triggers, reminders)."""

import datetime as dt

from sqlmodel import Session

from surveil.config import SecuritySettings
from surveil.db import models as m
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.users import accounts as users

PASSWORD = "correct horse battery"
# Signs the test apps' cookies: long enough for create_app, and no placeholder.
SECRET_KEY = "test-secret-" + "x" * 32
TODAY = dt.date(2026, 6, 15)
# Tests of other areas log admins and clinicians in with a password alone; the second factor's
# own tests (tests/*/test_second_factor*.py, test_account_security*.py) keep the default.
NO_TOTP = SecuritySettings(totp_required=False)


def make_user(
    session: Session, username: str, *, role: str = "navigator", clinic: str = "north"
) -> m.User:
    return users.add_user(
        session,
        username=username,
        display_name=username.title(),
        role=role,
        clinic=clinic,
        password=PASSWORD,
    )


def make_patient(
    session: Session,
    mrn: str,
    *,
    clinic: str = "north",
    family: str = "Okafor",
    given: str = "Ada",
    site: str = "pancreas",
    state: str = "active_surveillance",
    navigator: str | None = None,
    timezone: str = "Europe/London",
) -> m.Patient:
    return registry.enrol_patient(
        session,
        clinic=clinic,
        data=PatientInput(
            mrn=mrn,
            given_name=given,
            family_name=family,
            birth_date="1960-02-29",
            timezone=timezone,
            navigator=navigator,
        ),
        tumour=TumourInput(site=site, ki67="2", diagnosed_on="2024-01-10"),
        state_kind=state,
        since="2024-01-10",
        resection=None,
        today=TODAY,
    )


def make_item(
    session: Session,
    patient: m.Patient,
    *,
    kind: str = "mri",
    earliest: dt.date,
    latest: dt.date,
    target: dt.date | None = None,
    state: str = "planned",
    urgent: bool = False,
    booked_at: dt.datetime | None = None,
) -> m.FollowUpItem:
    item = m.FollowUpItem(
        patient_id=patient.id,
        kind=kind,
        earliest=earliest,
        target=target or earliest + (latest - earliest) / 2,
        latest=latest,
        state=state,
        rule_id="pnet-small-surveillance",
        pack_id="net-default",
        pack_version="1",
        profile="default",
        source="ENETS 2016",
        anchor_event="diagnosis",
        anchor_date=dt.date(2024, 1, 10),
        reason="MRI every 6–12 months on surveillance",
        urgent=urgent,
        booked_at=booked_at,
    )
    session.add(item)
    session.flush()
    return item


def make_trigger(
    session: Session,
    patient: m.Patient,
    *,
    kind: str = "growth_rate",
    detected_on: dt.date = TODAY,
    state: str = "open",
    urgent: bool = False,
) -> m.Trigger:
    trigger = m.Trigger(
        patient_id=patient.id,
        kind=kind,
        subject_key=f"{kind}:L1",
        fingerprint=f"{kind}:L1:{detected_on}",
        lesion="L1",
        value=8.1,
        threshold=5.0,
        unit="mm/year",
        detected_on=detected_on,
        explanation="L1 grew 12 → 18 mm from 2025-03-02 to 2025-11-20: 8.1 mm/year ≥ 5 mm/year",
        state=state,
        urgent=urgent,
    )
    session.add(trigger)
    session.flush()
    return trigger


def make_reminder(
    session: Session, patient: m.Patient, item: m.FollowUpItem | None, *, state: str = "failed"
) -> m.Reminder:
    reminder = m.Reminder(
        idempotency_key=f"test:{patient.id}:{item.id if item else 0}:{state}",
        patient_id=patient.id,
        item_id=item.id if item else None,
        stage="window-open",
        channel="email",
        template="window-open",
        state=state,
        send_after=dt.datetime(2026, 6, 10, 8, 0, tzinfo=dt.UTC),
        attempts=8,
        last_error="550 mailbox unavailable",
    )
    session.add(reminder)
    session.flush()
    return reminder
