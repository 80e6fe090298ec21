"""What each kind of sample message does to the registry, sent over a loopback socket to a
running listener: results, corrections, results that cannot join a series, demographics,
death, merge, and bookings from booked to no-show."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.hl7.sender import ack_code, messages_in
from surveil.services.hl7.siu import OUTSIDE_WORDS
from tests.hl7.conftest import SAMPLES, Running, World


def _markers(engine: sa.Engine, patient_id: int) -> list[tuple[str, float, str, float | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(m.MarkerResult)
            .where(m.MarkerResult.patient_id == patient_id)
            .order_by(col(m.MarkerResult.id))
        )
        return [(r.name, r.value, r.unit, r.uln) for r in rows]


def _codes(running: Running, *names: str) -> list[str]:
    return [ack_code(ack) for name in names for ack in running.send_file(name)]


def test_every_marker_the_lab_sends_is_recorded_with_unit_and_upper_limit(
    engine: sa.Engine, running: Running, world: World
) -> None:
    names = ("oru_5hiaa.hl7", "oru_nse.hl7", "oru_gastrin.hl7", "oru_insulin_glucose.hl7",
             "oru_calcium_pth.hl7", "oru_local_code.hl7", "odd_separators.hl7")  # fmt: skip
    assert _codes(running, *names) == ["AA"] * 7
    assert _markers(engine, world.ann) == [
        ("5hiaa", 45, "mg/24h", 8),
        ("nse", 14.2, "ug/L", 16.3),
        ("gastrin", 85, "pg/mL", 115),
        ("insulin", 30, "mU/L", 24.9),
        ("glucose", 2.4, "mmol/L", 5.8),
        ("calcium", 2.71, "mmol/L", 2.6),
        ("pth", 9.1, "pmol/L", 6.9),
        ("cga", 118, "ug/L", 100),  # the lab's local code LCGA, from [hl7] local_codes
        ("gastrin", 90, "pg/mL", 115),  # other encoding characters ($%*#), same meaning
    ]


def test_a_correction_replaces_the_earlier_value_and_other_assays_or_units_are_queued(
    engine: sa.Engine, running: Running, world: World
) -> None:
    assert _codes(running, "oru_cga.hl7", "oru_cga_corrected.hl7") == ["AA", "AA"]
    assert _markers(engine, world.ann) == [("cga", 112, "ug/L", 100)]
    [assay] = running.send_file("oru_cga_other_assay.hl7")
    [unit] = running.send_file("oru_cga_other_unit.hl7")
    assert ack_code(assay) == ack_code(unit) == "AE"
    assert "probably another assay" in assay  # ERR-8 in full; MSA-3 holds 80 characters
    assert "nmol/L cannot join the series in ug/L" in unit
    assert _markers(engine, world.ann) == [("cga", 112, "ug/L", 100)]  # never mixed in
    with Session(engine) as session:
        queued = session.exec(select(Hl7Message).where(Hl7Message.state == "queued")).all()
        assert [row.patient_id for row in queued] == [world.ann, world.ann]
        audit = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "marker.corrected")
        ).one()
        assert audit.before and '"value": 120' in audit.before and audit.channel == "hl7"


def test_demographics_contact_and_death(engine: sa.Engine, running: Running, world: World) -> None:
    names = (
        "adt_a01_admit.hl7",
        "adt_a04_register.hl7",
        "adt_a31_update.hl7",
        "adt_a03_discharge.hl7",
        "adt_a08_contact.hl7",
        "adt_a08_latin1_declared.hl7",
    )
    codes = _codes(running, *names)
    assert codes == ["AA"] * 6
    with Session(engine) as session:
        ann = session.get(m.Patient, world.ann)
        assert ann is not None
        assert (ann.family_name, ann.email, ann.phone) == (
            "Smith",
            "ann.sj@example.org",
            "+442079460999",
        )
        assert ann.given_name == "Anné"  # ISO 8859-1 declared in MSH-18
        first = session.exec(select(Hl7Message).order_by(col(Hl7Message.id))).first()
        assert first and "phone 020 7946 0001 not taken" in first.reason
    [death] = running.send_file("adt_a08_death.hl7")
    assert ack_code(death) == "AA"
    with Session(engine) as session:
        bob = session.get(m.Patient, world.bob)
        assert bob and bob.deceased_on == dt.date(2026, 11, 30)
        open_items = session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == world.bob,
                col(m.FollowUpItem.state).in_([s.value for s in m.OPEN_ITEM_STATES]),
            )
        ).all()
        assert open_items == []  # the plan stopped at once


@pytest.mark.usefixtures("world")
def test_a_merge_waits_for_a_navigator_in_words(running: Running) -> None:
    [ack] = running.send_file("adt_a40_merge.hl7")
    assert ack_code(ack) == "AE"
    assert "merged MRN 100077 into MRN 100001: merge these records" in ack


def test_bookings_from_booked_to_rescheduled_cancelled_and_no_show(
    engine: sa.Engine, running: Running, world: World
) -> None:
    """Through the workflow's booking service: every booking is an attempt, one outside the
    window keeps the configured coded reason, a cancellation or no-show ends the attempt."""

    def item() -> m.FollowUpItem:
        with Session(engine) as session:
            row = session.get(m.FollowUpItem, world.mri_item)
            assert row is not None
            return row

    def attempts() -> list[tuple[str, str, str | None, str]]:
        with Session(engine) as session:
            rows = session.exec(
                select(m.BookingAttempt)
                .where(m.BookingAttempt.item_id == world.mri_item)
                .order_by(col(m.BookingAttempt.id))
            )
            return [(a.placement, a.status, a.reason_code, a.reason_text) for a in rows]

    outside = ("after", "active", "hospital_system", OUTSIDE_WORDS)
    assert _codes(running, "siu_s12_booked.hl7") == ["AA"]
    assert item().state == "booked"
    assert item().booked_at == dt.datetime(2027, 1, 10, 14, 30, tzinfo=dt.UTC)  # London: GMT
    assert attempts() == [outside]  # 2027-01-10 is after the MRI's window: the coded reason
    assert _codes(running, "siu_s13_rescheduled.hl7", "siu_s14_modified.hl7") == ["AA", "AA"]
    assert item().booked_at == dt.datetime(2027, 1, 17, 10, 30, tzinfo=dt.UTC)
    assert [a[1] for a in attempts()] == ["cancelled", "cancelled", "active"]  # rebooked twice
    [no_show] = running.send_file("siu_s26_noshow.hl7")
    assert ack_code(no_show) == "AA", no_show
    assert item().booked_at is None and attempts()[-1][:2] == ("after", "no_show")
    assert item().state != "booked"  # due again (then re-planned with the rest of the plan)
    assert _codes(running, "siu_s12_booked.hl7") == ["AA"]  # a resend changes nothing
    assert len(attempts()) == 3
    # Ann's MRI was re-planned after the no-show: nothing open of that kind to cancel.
    [cancelled] = running.send_file("siu_s15_cancelled.hl7")
    assert ack_code(cancelled) == "AE" and "no open item of kind mri" in cancelled
    # Bob's MRI: a cancellation before any booking waits for a navigator; booked by the
    # hospital, then cancelled, the attempt ends as cancelled.
    bob = b"100002^^^HOSP^MR"
    early = running.send_raw(_renamed("siu_s15_cancelled.hl7", b"SIU0004", b"SIU0204", bob))
    assert ack_code(early[0]) == "AE" and "has no booking" in early[0]
    booked = running.send_raw(_renamed("siu_s12_booked.hl7", b"SIU0001", b"SIU0101", bob))
    gone = running.send_raw(_renamed("siu_s15_cancelled.hl7", b"SIU0004", b"SIU0104", bob))
    assert [ack_code(a) for a in booked + gone] == ["AA", "AA"], gone
    with Session(engine) as session:
        [attempt] = session.exec(
            select(m.BookingAttempt).where(m.BookingAttempt.patient_id == world.bob)
        ).all()
    assert (attempt.status, attempt.reason_code) == ("cancelled", "hospital_system")


def _renamed(name: str, control: bytes, new: bytes, mrn: bytes) -> bytes:
    [message] = messages_in(SAMPLES / name)
    assert control in message and b"100001^^^HOSP^MR" in message
    return message.replace(control, new).replace(b"100001^^^HOSP^MR", mrn)
