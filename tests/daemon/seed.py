"""Registry rows for the daemon tests, inserted directly (thousands in well under a second)."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import ClinicSettings, DaemonSettings, DatabaseSettings, Settings, SmtpSettings
from surveil.db import models as m
from surveil.services.reminders.planning import plan_reminders

CLINIC = "Neuroendocrine Tumour Clinic"


def settings_for(db_url: str, smtp_port: int = 25, **daemon: Any) -> Settings:
    """Settings for a daemon on ``db_url`` sending to a local SMTP server without TLS."""
    reminders = daemon.pop("reminders", {"channels": ["email", "sms"]})
    return Settings(
        # The default clinic name ("Neuroendocrine Tumour Clinic") itself names the diagnosis.
        clinic=ClinicSettings(name="St Elsewhere Hospital", phone="020 7946 0000"),
        database=DatabaseSettings(url=db_url),
        smtp=SmtpSettings(
            host="127.0.0.1", port=smtp_port, security="none", sender="clinic@example.org",
            timeout_seconds=5,
        ),
        daemon=DaemonSettings(**({"sms_channel": "log"} | daemon)),
        reminders=reminders,
    )  # fmt: skip


def add_patient(session: Session, mrn: str, **values: Any) -> m.Patient:
    fields: dict[str, Any] = {
        "clinic": CLINIC,
        "mrn": mrn,
        "given_name": "Ann",
        "family_name": "Smith",
        "birth_date": dt.date(1960, 5, 1),
        "email": f"{mrn.lower()}@example.org",
        "timezone": "Europe/London",
    }
    patient = m.Patient(**(fields | values))
    session.add(patient)
    session.flush()
    return patient


def add_item(
    session: Session, patient: m.Patient, earliest: dt.date, *, days: int = 30, **values: Any
) -> m.FollowUpItem:
    """An item whose window runs ``days`` from ``earliest``, target in the middle."""
    fields: dict[str, Any] = {
        "patient_id": patient.id,
        "kind": "mri",
        "earliest": earliest,
        "target": earliest + dt.timedelta(days=days // 2),
        "latest": earliest + dt.timedelta(days=days),
        "rule_id": "test-rule",
        "pack_id": "net-default",
        "pack_version": "1",
        "profile": "default",
    }
    item = m.FollowUpItem(**(fields | values))
    session.add(item)
    session.flush()
    return item


def many_due(engine: sa.Engine, settings: Settings, n: int, now: dt.datetime) -> int:
    """``n`` patients, each with one MRI whose window opened yesterday; planned into rows."""
    opened = (now - dt.timedelta(days=1)).date()
    with Session(engine) as session:
        patients = [
            m.Patient(
                clinic=CLINIC, mrn=f"K{i:05d}", given_name="Ann", family_name="Smith",
                birth_date=dt.date(1960, 5, 1), email=f"k{i:05d}@example.org",
            )
            for i in range(n)
        ]  # fmt: skip
        session.add_all(patients)
        session.flush()
        session.add_all(
            m.FollowUpItem(
                patient_id=p.id or 0, kind="mri", earliest=opened,
                target=opened + dt.timedelta(days=15), latest=opened + dt.timedelta(days=30),
                rule_id="test-rule", pack_id="net-default", pack_version="1", profile="default",
            )
            for p in patients
        )  # fmt: skip
        session.commit()
        planned = plan_reminders(session, settings, now)
        session.commit()
    return planned
