"""Issue #18 point 5 on the patient page: the patient's reminder hours and the clinic's cadence,
in words, in the contact card."""

import datetime as dt

import sqlalchemy as sa
from fastapi.testclient import TestClient

from surveil.config import Settings
from surveil.services.actor import Actor
from surveil.services.reminders.hours import set_send_window
from tests.web.conftest import World
from tests.web.test_patient_record import section

NINA = Actor(username="nina", role="navigator", clinic="north")


def test_the_contact_card_shows_the_clinic_default_then_the_patient_window(
    nina: TestClient, world: World, web_engine: sa.Engine, web_settings: Settings
) -> None:
    contact = section(nina.get(f"/patients/{world.north_patient}").text, "contact")
    assert "clinic default: 09:00 their time" in contact
    assert "never during quiet hours (20:00-08:00)" in contact
    assert "when the window opens; 7 days before the target" in contact

    set_send_window(
        web_engine, actor=NINA, patient_id=world.north_patient, start="17:00", end="20:00",
        settings=web_settings, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    contact = section(nina.get(f"/patients/{world.north_patient}").text, "contact")
    hours = contact[contact.index('id="reminder-hours"') :].split("</dd>")[0]
    assert "17:00-20:00 (Europe/London)" in hours and "clinic default" not in hours
