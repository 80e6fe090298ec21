"""When reminders go out: quiet hours on the patient's clock across DST changes (time moved
with time-machine), and the navigators' daily digest at the clinic's local time."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.services.reminders import delivery
from surveil.services.reminders.delivery import dispatch_due, plan_reminders, send_digest
from surveil.transports import LogTransport
from tests.daemon.seed import CLINIC, add_item, add_patient, settings_for
from tests.daemon.sink import Sink

UTC = dt.UTC
QUIET = {"send_time": "07:00", "quiet_start": "20:00", "quiet_end": "08:00"}


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc"),
    [
        ("Europe/London", dt.date(2026, 3, 29), dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        ("Europe/London", dt.date(2026, 10, 25), dt.datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        ("America/New_York", dt.date(2026, 11, 1), dt.datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
        ("Australia/Sydney", dt.date(2026, 4, 5), dt.datetime(2026, 4, 4, 22, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_end_at_eight_on_the_patients_clock_on_dst_days(
    engine: sa.Engine, db_url: str, zone: str, day: dt.date, expected_utc: dt.datetime
) -> None:
    """A 07:00 send time is inside quiet hours (20:00-08:00): the reminder waits for 08:00
    local, which is a different UTC hour on the day the clocks change."""
    settings = settings_for(db_url, email_channel="log", reminders=QUIET | {"channels": ["email"]})
    with Session(engine) as session:
        add_item(session, add_patient(session, "P1", timezone=zone), day)
        session.commit()
    log = LogTransport()
    early = expected_utc - dt.timedelta(minutes=1)
    with time_machine.travel(early, tick=False), Session(engine) as session:
        assert plan_reminders(session, settings, dt.datetime.now(UTC)) == 0
    with time_machine.travel(expected_utc, tick=False):
        now = dt.datetime.now(UTC)
        with Session(engine) as session:
            assert plan_reminders(session, settings, now) == 1
            session.commit()
            (row,) = session.exec(select(m.Reminder)).all()
        assert row.send_after.replace(tzinfo=UTC) == expected_utc
        assert dispatch_due(engine, {"email": log}, settings, now, "w1") == 1
    local = expected_utc.astimezone(ZoneInfo(zone))
    assert (local.date(), local.time()) == (day, dt.time(8, 0))


def _navigator(session: Session, name: str, email: str | None, **values: object) -> m.User:
    user = m.User(
        username=name, display_name=name.title(), role="navigator", clinic=CLINIC,
        password_hash="x", email=email, **values,
    )  # fmt: skip
    session.add(user)
    session.flush()
    return user


def test_daily_digest_once_a_day_at_the_clinic_time_with_mrn_and_initials_only(
    engine: sa.Engine, db_url: str, sink: Sink
) -> None:
    settings = settings_for(db_url, sink.port, digest_time="07:30")
    today = dt.date(2026, 6, 10)
    with Session(engine) as session:
        nurse = _navigator(session, "nurse", "nurse@example.org")
        _navigator(session, "noemail", None)
        _navigator(session, "gone", "gone@example.org", active=False)
        other = _navigator(session, "other", "other@example.org")
        late = add_patient(session, "M1001", given_name="Ada", family_name="Lovelace")
        add_item(session, late, today - dt.timedelta(days=33))  # latest 3 days ago
        ssa = add_patient(session, "M1002", given_name="Bob", family_name="Brown",
                          navigator_id=nurse.id)  # fmt: skip
        add_item(session, ssa, today - dt.timedelta(days=10), days=7, kind="ssa_injection")
        failed = add_patient(session, "M1003", given_name="Cy", family_name="Cole")
        session.add(
            m.Reminder(
                idempotency_key="k-failed", patient_id=failed.id, stage="window_open",
                channel="email", template="window-open", state="failed",
                send_after=dt.datetime(2026, 6, 1, 8, tzinfo=UTC), last_error="550 <cy@x.org>",
            )
        )  # fmt: skip
        flagged = add_patient(session, "M1004", given_name="Di", family_name="Dunn")
        session.add(
            m.Trigger(
                patient_id=flagged.id or 0, kind="growth_rate", subject_key="growth_rate:L1",
                fingerprint="growth_rate:L1:2026-06-01", detected_on=dt.date(2026, 6, 1),
                explanation="grew", urgent=True,
            )
        )  # fmt: skip
        dead = add_patient(session, "M1005", deceased_on=today - dt.timedelta(days=1))
        add_item(session, dead, today - dt.timedelta(days=40))
        elsewhere = add_patient(session, "M1006", navigator_id=other.id)
        add_item(session, elsewhere, today - dt.timedelta(days=40))
        session.commit()

    def digest(at: dt.datetime) -> int:
        with Session(engine) as session:
            added = send_digest(session, settings, at)
            session.commit()
            return added

    # 07:30 in London is 06:30 UTC in June.
    assert digest(dt.datetime(2026, 6, 10, 6, 29, tzinfo=UTC)) == 0
    assert digest(dt.datetime(2026, 6, 10, 6, 30, tzinfo=UTC)) == 2  # nurse and other
    assert digest(dt.datetime(2026, 6, 10, 15, 0, tzinfo=UTC)) == 0  # once a day
    transports = delivery.build_transports(settings)
    now = dt.datetime(2026, 6, 10, 6, 31, tzinfo=UTC)
    assert dispatch_due(engine, transports, settings, now, "w1") == 2
    transports["email"].close()

    by_to = {msg["To"]: msg for msg in sink.messages()}
    assert set(by_to) == {"nurse@example.org", "other@example.org"}
    mail = by_to["nurse@example.org"]
    assert mail["Subject"].endswith("2 overdue (1 urgent), 1 failed, 1 triggered")
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    for expected in ("MRN M1001 (A.L.)", "URGENT: MRN M1002 (B.B.)", "MRN M1003 (C.C.)",
                     "MRN M1004 (D.D.)", "email failed"):  # fmt: skip
        assert expected in text
    assert not re.search(r"Lovelace|Brown|@|M1005|M1006", text)  # no names, addresses, others
    assert "M1006" in by_to["other@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]

    assert digest(dt.datetime(2026, 6, 11, 6, 30, tzinfo=UTC)) == 2  # the next day
    with Session(engine) as session:
        keys = session.exec(select(m.Reminder.idempotency_key).where(
            col(m.Reminder.user_id).is_not(None))).all()  # fmt: skip
    assert len(set(keys)) == 4
