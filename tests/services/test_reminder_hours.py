"""Issue #18 point 5: a patient's preferred reminder hours, inside the clinic's quiet hours,
DST-safe, through the audited entry point; on SQLite and PostgreSQL."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.core.reminders import send_window_problem
from surveil.db import models as m
from surveil.errors import InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.reminders.hours import describe, set_send_window
from surveil.services.reminders.planning import effective_policy, plan_reminders
from tests.daemon.seed import CLINIC, add_item, add_patient, settings_for

COVERED = frozenset({"surveil.services.reminders.hours.set_send_window"})

NURSE = Actor(username="nina", role="navigator", clinic=CLINIC)
STRANGER = Actor(username="olga", role="navigator", clinic="Another Hospital")
LONDON = ZoneInfo("Europe/London")
# The clocks go forward in London on 29 March 2026: 17:00 is 17:00 UTC the day before, 16:00
# UTC that day.
BEFORE_CHANGE, CHANGE_DAY = dt.date(2026, 3, 28), dt.date(2026, 3, 29)
NOW = dt.datetime(2026, 3, 30, 20, 0, tzinfo=dt.UTC)


def _patient(engine: sa.Engine, mrn: str = "H1", *days: dt.date) -> int:
    with Session(engine) as session:
        patient = add_patient(session, mrn)
        for day in days:
            add_item(session, patient, day)
        session.commit()
        return patient.id or 0


def _audit(engine: sa.Engine) -> list[m.AuditEvent]:
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.action == "patient.send_window")
        return list(session.exec(query.order_by(col(m.AuditEvent.id))))


def test_a_window_is_audited_and_reminders_go_out_at_its_start_on_the_patient_clock(
    engine: sa.Engine, db_url: str
) -> None:
    settings = settings_for(db_url, reminders={"channels": ["email"], "before_target_days": 0})
    pid = _patient(engine, "H1")
    hours = set_send_window(
        engine, actor=NURSE, patient_id=pid, start="17:00", end="20:00",
        settings=settings, now=NOW,
    )  # fmt: skip
    assert hours.window == "17:00-20:00 (Europe/London)" and hours.quiet == "20:00-08:00"
    (event,) = _audit(engine)
    assert event.patient_id == pid and event.actor == "nina"
    assert "17:00-20:00" in str(event.after) and "17:00" not in str(event.before)

    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None
        assert (patient.send_window_start, patient.send_window_end) == (
            dt.time(17, 0),
            dt.time(20, 0),
        )
        for day in (BEFORE_CHANGE, CHANGE_DAY):
            add_item(session, patient, day)
        session.commit()
        # Planned at each window-open day's 17:00 in London, whatever the UTC offset.
        assert plan_reminders(session, settings, dt.datetime(2026, 3, 28, 18, tzinfo=dt.UTC))
        assert plan_reminders(session, settings, dt.datetime(2026, 3, 29, 18, tzinfo=dt.UTC))
        session.commit()
        times = sorted(r.send_after for r in session.exec(select(m.Reminder)))
    assert [t.replace(tzinfo=dt.UTC) for t in times] == [
        dt.datetime(2026, 3, 28, 17, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 16, 0, tzinfo=dt.UTC),
    ]
    for at in times:
        local = at.replace(tzinfo=dt.UTC).astimezone(LONDON)
        assert local.time() == dt.time(17, 0)


def test_without_a_window_the_clinic_send_time_is_used(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url, reminders={"channels": ["email"], "before_target_days": 0})
    _patient(engine, "H2", CHANGE_DAY)
    with Session(engine) as session:
        assert plan_reminders(session, settings, dt.datetime(2026, 3, 29, 12, tzinfo=dt.UTC))
        session.commit()
        (row,) = session.exec(select(m.Reminder)).all()
    assert row.send_after.replace(tzinfo=dt.UTC) == dt.datetime(2026, 3, 29, 8, tzinfo=dt.UTC)


def test_waiting_reminders_move_to_the_new_hours(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url, reminders={"channels": ["email"], "before_target_days": 0})
    pid = _patient(engine, "H3", CHANGE_DAY)
    planned_at = dt.datetime(2026, 3, 29, 8, 30, tzinfo=dt.UTC)  # 09:30 BST: row due, not sent
    with Session(engine) as session:
        assert plan_reminders(session, settings, planned_at) == 1
        session.commit()
    early = dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)  # before its 09:00 BST send time
    hours = set_send_window(
        engine, actor=NURSE, patient_id=pid, start="18:00", end="19:30",
        settings=settings, now=early,
    )  # fmt: skip
    assert hours.moved == 1
    with Session(engine) as session:
        (row,) = session.exec(select(m.Reminder)).all()
    assert row.send_after.replace(tzinfo=dt.UTC) == dt.datetime(2026, 3, 29, 17, tzinfo=dt.UTC)
    cleared = set_send_window(
        engine, actor=NURSE, patient_id=pid, start="", end="", settings=settings, now=early
    )
    assert cleared.window is None and cleared.send_time == "09:00"
    assert len(_audit(engine)) == 2


@pytest.mark.parametrize(
    ("start", "end", "fields"),
    [
        ("25:00", "", ["send_window_start"]),
        ("7pm", "8pm", ["send_window_start", "send_window_end"]),
        ("17:00", "", ["send_window_end"]),
        ("19:00", "21:00", ["send_window_start"]),  # runs into quiet hours from 20:00
        ("07:00", "09:00", ["send_window_start"]),  # starts in quiet hours
        ("18:00", "17:00", ["send_window_start"]),  # backwards
    ],
)
def test_a_bad_window_names_every_field_and_writes_nothing(
    engine: sa.Engine, db_url: str, start: str, end: str, fields: list[str]
) -> None:
    settings = settings_for(db_url)
    pid = _patient(engine, "H4")
    with pytest.raises(InvalidInput) as caught:
        set_send_window(
            engine, actor=NURSE, patient_id=pid, start=start, end=end,
            settings=settings, now=NOW,
        )  # fmt: skip
    assert [p.field for p in caught.value.problems] == fields
    assert _audit(engine) == []
    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None and patient.send_window_start is None


def test_another_clinic_cannot_set_a_window(engine: sa.Engine, db_url: str) -> None:
    pid = _patient(engine, "H5")
    with pytest.raises(NotFound):
        set_send_window(
            engine, actor=STRANGER, patient_id=pid, start="17:00", end="20:00",
            settings=settings_for(db_url), now=NOW,
        )  # fmt: skip
    assert _audit(engine) == []


def test_window_rules_against_quiet_hours() -> None:
    quiet = (dt.time(20, 0), dt.time(8, 0))
    assert send_window_problem(dt.time(17), dt.time(20), *quiet) is None
    assert send_window_problem(dt.time(8), dt.time(20), *quiet) is None
    assert send_window_problem(dt.time(7, 59), dt.time(9), *quiet) is not None
    midday = (dt.time(12), dt.time(14))
    assert send_window_problem(dt.time(10), dt.time(12), *midday) is None
    assert send_window_problem(dt.time(10), dt.time(13), *midday) is not None
    assert send_window_problem(dt.time(14), dt.time(23), *midday) is None
    assert send_window_problem(dt.time(1), dt.time(2), dt.time(0), dt.time(0)) is None


def test_the_cadence_is_described_in_words(db_url: str) -> None:
    policy = effective_policy(settings_for(db_url))
    patient = m.Patient(
        clinic=CLINIC, mrn="X", given_name="A", family_name="B", birth_date=dt.date(1960, 1, 1)
    )
    hours = describe(patient, policy)
    assert hours.window is None and hours.send_time == "09:00"
    assert hours.cadence == "when the window opens; 7 days before the target"


CADENCE = {"channels": ["email"], "before_target_days": 0, "days_before_window": [14, 3],
           "repeats": 2, "repeat_every_days": 2}  # fmt: skip


def test_the_clinic_cadence_is_described_as_configured(db_url: str) -> None:
    policy = effective_policy(settings_for(db_url, reminders=CADENCE))
    patient = m.Patient(
        clinic=CLINIC, mrn="X", given_name="A", family_name="B", birth_date=dt.date(1960, 1, 1)
    )
    assert describe(patient, policy).cadence == (
        "14 and 3 days before the window opens; when the window opens; "
        "up to 2 repeats 2 days apart while not done"
    )


def test_reminder_planning_follows_the_clinic_cadence(engine: sa.Engine, db_url: str) -> None:
    """One outbox row per cadence day, planned as each day comes (the query reaches items whose
    window opens 14 days ahead), none twice, none after the item is done."""
    settings = settings_for(db_url, reminders=CADENCE)
    opens = dt.date(2026, 5, 1)
    pid = _patient(engine, "H6", opens)
    planned: list[tuple[str, dt.date]] = []
    with Session(engine) as session:
        days = (dt.date(2026, 4, 16), dt.date(2026, 4, 17), dt.date(2026, 4, 28), opens,
                dt.date(2026, 5, 3), dt.date(2026, 5, 5), dt.date(2026, 5, 7))  # fmt: skip
        for day in days:
            noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
            assert plan_reminders(session, settings, noon) in (0, 1)
            assert plan_reminders(session, settings, noon) == 0  # again: nothing new
            session.commit()
        rows = session.exec(select(m.Reminder).order_by(col(m.Reminder.send_after))).all()
        planned = [(r.stage, r.send_after.date()) for r in rows]
    assert planned == [
        ("before_window", dt.date(2026, 4, 17)),
        ("before_window", dt.date(2026, 4, 28)),
        ("window_open", opens),
        ("repeat", dt.date(2026, 5, 3)),
        ("repeat", dt.date(2026, 5, 5)),
    ]
    assert {r.patient_id for r in rows} == {pid}


def test_a_window_and_a_language_together_or_neither(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    pid = _patient(engine, "H7")
    with pytest.raises(InvalidInput) as caught:
        set_send_window(
            engine, actor=NURSE, patient_id=pid, start="19:00", end="21:00", language="not a tag!",
            settings=settings, now=NOW,
        )  # fmt: skip
    assert [p.field for p in caught.value.problems] == ["send_window_start", "language"]
    assert _audit(engine) == []
    hours = set_send_window(
        engine, actor=NURSE, patient_id=pid, start="17:00", end="19:00", language="es",
        settings=settings, now=NOW,
    )  # fmt: skip
    assert hours.window == "17:00-19:00 (Europe/London)"
    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None and patient.language == "es"
    set_send_window(
        engine, actor=NURSE, patient_id=pid, start="", end="", language="",
        settings=settings, now=NOW,
    )  # fmt: skip
    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None and (patient.language, patient.send_window_start) == (None, None)
    first, second = _audit(engine)
    assert '"language": "es"' in str(first.after) and '"language": "es"' in str(second.before)
