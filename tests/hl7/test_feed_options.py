"""The feed's options, each with sample messages over a real loopback socket: what an A03 does
(``[hl7] a03``), enrolling unknown patients from A01/A04/A28 (``enrol_unknown``), and a SIU
booking outside the item's window left to a navigator (``booking_outside_window = "queue"``)."""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings, load_settings
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.errors import ConfigError
from surveil.hl7.listener import Listener
from surveil.hl7.sender import ack_code, messages_in
from tests.hl7.conftest import SAMPLES, Running, World, hl7_settings, serving


@contextmanager
def feed(engine: sa.Engine, db_url: str, **options: object) -> Iterator[Running]:
    base = hl7_settings(db_url)
    settings: Settings = dataclasses.replace(base, hl7=dataclasses.replace(base.hl7, **options))
    with serving(Listener(engine, settings)) as running:
        yield running


def _item_states(engine: sa.Engine, patient_id: int) -> list[str]:
    with Session(engine) as session:
        query = (
            select(m.FollowUpItem)
            .where(m.FollowUpItem.patient_id == patient_id)
            .order_by(col(m.FollowUpItem.id))
        )
        return [i.state for i in session.exec(query)]


def _words(engine: sa.Engine) -> list[str]:
    """What each stored message did (the ACK of an applied one says only "applied")."""
    with Session(engine) as session:
        query = select(Hl7Message).order_by(col(Hl7Message.id))
        return [r.reason for r in session.exec(query)]


def _audit(engine: sa.Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        query = select(m.AuditEvent).order_by(col(m.AuditEvent.id))
        return [(e.action, e.channel) for e in session.exec(query)]


def test_a03_ignored_leaves_everything_as_it_was(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    with feed(engine, db_url, a03="ignore") as running:
        [ack] = running.send_file("adt_a03_discharge.hl7")
    assert ack_code(ack) == "AA" and "nothing changed" in _words(engine)[0]
    assert _item_states(engine, world.ann) == ["planned", "planned"]
    assert _audit(engine) == [("hl7.applied", "hl7")]


def test_a03_queued_waits_for_a_navigator_in_words(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    with feed(engine, db_url, a03="queue") as running:
        [ack] = running.send_file("adt_a03_discharge.hl7")
    assert ack_code(ack) == "AE"
    assert "the hospital discharged MRN 100001 from a stay on 2026-12-01 (A03)" in ack
    assert _item_states(engine, world.ann) == ["planned", "planned"]


def test_a03_discharge_ends_follow_up_at_once_through_the_state_service(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    with feed(engine, db_url, a03="discharge") as running:
        [ack] = running.send_file("adt_a03_discharge.hl7")
        assert ack_code(ack) == "AA", ack
        assert "discharged from follow-up on 2026-12-01" in _words(engine)[0]
        # The same message resent, and a second discharge, change nothing more.
        [again] = running.send_file("adt_a03_discharge.hl7")
        assert ack_code(again) == "AA"
    with Session(engine) as session:
        [state] = session.exec(
            select(m.DiseaseState).where(m.DiseaseState.patient_id == world.ann)
        ).all()
    assert (state.kind, str(state.start_date)) == ("discharged", "2026-12-01")
    assert state.reason == "discharged by the hospital (HL7 A03)"
    assert _item_states(engine, world.ann) == ["cancelled", "cancelled"]  # nothing stays open
    assert _item_states(engine, world.bob) == ["planned"]
    actions = _audit(engine)
    assert ("state.set", "hl7") in actions and ("plan.stopped", "hl7") in actions


def test_a03_by_default_updates_details_as_a08_does(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    with feed(engine, db_url) as running:
        [ack] = running.send_file("adt_a03_discharge.hl7")
    assert ack_code(ack) == "AA"
    assert _words(engine)[0].startswith("updated email")  # as an A08 would
    assert "cancelled" not in _item_states(engine, world.ann)  # no discharge: nothing stopped
    with Session(engine) as session:
        assert session.exec(select(m.DiseaseState)).all() == []


@pytest.mark.usefixtures("world")
def test_unknown_patients_are_queued_unless_enrolment_is_configured(
    engine: sa.Engine, db_url: str
) -> None:
    with feed(engine, db_url) as running:
        [ack] = running.send_file("adt_a28_unknown.hl7")
    assert ack_code(ack) == "AE" and "unknown patient" in ack
    with feed(engine, db_url, enrol_unknown=True, enrol_timezone="Europe/Paris") as running:
        a28 = messages_in(SAMPLES / "adt_a28_unknown.hl7")[0].replace(b"ADT0004", b"ADT0104")
        [enrolled] = running.send_raw(a28)
        # An ORU or an A08 for an unknown MRN never enrols: only A01/A04/A28 do.
        a08 = a28.replace(b"ADT^A28", b"ADT^A08").replace(b"ADT0104", b"ADT0105")
        [update] = running.send_raw(a08.replace(b"555555", b"666666"))
        [result] = running.send_file("oru_unknown_patient.hl7")
    assert ack_code(enrolled) == "AA", enrolled
    assert "enrolled MRN 555555" in _words(engine)[1]
    assert [ack_code(update), ack_code(result)] == ["AE", "AE"]
    with Session(engine) as session:
        patient = session.exec(select(m.Patient).where(m.Patient.mrn == "555555")).one()
        assert (patient.family_name, patient.given_name) == ("Newman", "Neil")
        assert (patient.timezone, patient.clinic) == ("Europe/Paris", hl7_settings("").clinic.name)
        assert str(patient.birth_date) == "1960-05-01" and patient.sex == "female"
        assert session.exec(select(m.Patient).where(m.Patient.mrn == "666666")).first() is None
    assert ("patient.enrolled", "hl7") in _audit(engine)


def test_a_booking_outside_the_window_can_be_left_to_a_navigator(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    with feed(engine, db_url, booking_outside_window="queue") as running:
        [ack] = running.send_file("siu_s12_booked.hl7")
    assert ack_code(ack) == "AE"
    assert "after its due window" in ack and "book it by hand with the reason" in ack
    assert _item_states(engine, world.ann) == ["planned", "planned"]
    with Session(engine) as session:
        assert session.exec(select(m.BookingAttempt)).all() == []


def test_the_options_are_checked_when_the_configuration_loads(tmp_path: Path) -> None:
    (tmp_path / "none.toml").write_text("")
    with pytest.raises(ConfigError) as refused:
        load_settings(
            tmp_path / "none.toml",
            environ={
                "SURVEIL_HL7_A03": "drop",
                "SURVEIL_HL7_ENROL_TIMEZONE": "Mars/Olympus",
                "SURVEIL_HL7_BOOKING_OUTSIDE_WINDOW": "maybe",
            },
        )
    fields = {p.field for p in refused.value.problems}
    assert fields >= {"hl7.a03", "hl7.enrol_timezone", "hl7.booking_outside_window"}
    settings = load_settings(
        tmp_path / "none.toml",
        environ={"SURVEIL_HL7_A03": "discharge", "SURVEIL_HL7_ENROL_UNKNOWN": "true"},
    )
    assert (settings.hl7.a03, settings.hl7.enrol_unknown) == ("discharge", True)
    assert settings.hl7.booking_reason in settings.reasons.booking
