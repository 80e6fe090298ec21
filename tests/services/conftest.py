import datetime as dt

import pytest
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def small_pnet(session: Session) -> m.Patient:
    """A small G1 pancreatic NET on active surveillance since 2025-03-02."""
    patient = registry.enrol_patient(
        session,
        clinic="Neuroendocrine Tumour Clinic",
        data=PatientInput(
            mrn="P1",
            given_name="Ada",
            family_name="Lovelace",
            birth_date="1962-03-14",
            email="ada@example.org",
        ),
        tumour=TumourInput(site="pancreas", ki67="2", size_mm="12", diagnosed_on="2025-03-02"),
        state_kind="active_surveillance",
        since="2025-03-02",
        resection=None,
        today=TODAY,
    )
    session.commit()
    return patient


@pytest.fixture
def clinic_settings(settings: Settings) -> Settings:
    return settings
