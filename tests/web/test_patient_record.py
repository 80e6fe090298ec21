"""The patient page's read side: the latest Ki-67 beside the grade it gave, contact and consent,
the navigator, every message sent or not, and times in the patient's own zone."""

import datetime as dt

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from surveil.core.findings import TriggerKind
from surveil.db import models as m
from surveil.services.labels import TRIGGER_LABELS, trigger_label
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput
from surveil.services.registry.record import LesionSeries
from surveil.web.charts import growth_chart
from tests.web.conftest import World
from tests.web.seed import TODAY, make_item, make_reminder, make_trigger


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start : html.index("</section>", start)]


def test_the_card_shows_the_latest_ki67_and_the_grade_it_gave(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    before = nina.get(f"/patients/{world.north_patient}").text
    assert "2 %</strong> → G1" in before and "at enrolment, 2024-01-10" in before
    with Session(web_engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        assert patient is not None
        for day, ki67 in (("2025-05-01", "12"), ("2025-01-01", "30")):
            registry.add_pathology(
                session, patient=patient, date=day, ki67=ki67, mitoses=None, today=TODAY
            )
        session.commit()
    html = nina.get(f"/patients/{world.north_patient}").text
    latest = html[html.index('id="latest-ki67"') :].split("</dd>")[0]
    assert "12 %</strong> → G2" in latest and "pathology result, 2025-05-01" in latest


def test_contact_consent_navigator_and_reminders_in_words(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    with Session(web_engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        assert patient is not None
        registry.update_patient(
            session,
            patient=patient,
            data=PatientInput(email="ada@example.org", phone="+447700900123"),
            today=TODAY,
        )
        patient.language = "cy"
        session.commit()
    contact = section(nina.get(f"/patients/{world.north_patient}").text, "contact")
    for shown in ("+447700900123", "ada@example.org", "e-mail", "cy", "Nina", "on, by e-mail"):
        assert shown in contact, shown
    with Session(web_engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        assert patient is not None
        registry.update_patient(
            session, patient=patient, data=PatientInput(opted_out=True, navigator=""), today=TODAY
        )
        session.commit()
    html = nina.get(f"/patients/{world.north_patient}").text
    assert "off: opted out" in section(html, "contact")
    assert "nobody: this patient has no owner" in section(html, "contact")
    assert "no navigator" in html.split('id="contact"')[0]  # and in the header


def test_the_message_history_lists_every_reminder_with_why_it_was_not_sent(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    empty = nina.get(f"/patients/{world.north_patient}").text
    assert "No reminder has been sent or planned" in empty
    with Session(web_engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        item = session.get(m.FollowUpItem, world.overdue_item)
        assert patient is not None and item is not None
        make_reminder(session, patient, item, state="failed")
        held = make_reminder(session, patient, None, state="suppressed")
        held.suppressed_reason = "opted out"
        held.send_after = dt.datetime(2026, 1, 12, 9, 0, tzinfo=dt.UTC)
        session.commit()
    messages = section(nina.get(f"/patients/{world.north_patient}").text, "messages")
    assert messages.count('<tr class="message-') == 2
    assert "2026-06-10 09:00 BST (Europe/London)" in messages  # 08:00 UTC, in summer
    assert "2026-01-12 09:00 GMT (Europe/London)" in messages
    assert "MRI" in messages and "550 mailbox unavailable" in messages
    assert "not sent: opted out" in messages


def test_a_booking_shows_in_the_patients_zone_with_its_name(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    # 09:30 in London on a summer day is 08:30 UTC: the page says 09:30 BST, never 08:30 UTC.
    summer = dt.datetime(2026, 7, 14, 8, 30, tzinfo=dt.UTC)
    with Session(web_engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        assert patient is not None
        make_item(
            session,
            patient,
            earliest=TODAY,
            latest=TODAY + dt.timedelta(days=60),
            state="booked",
            booked_at=summer,
        )
        session.commit()
    html = nina.get(f"/patients/{world.north_patient}").text
    assert "booked for 2026-07-14 09:30 BST (Europe/London)" in html
    assert "08:30 UTC" not in html


def test_the_growth_guide_starts_at_the_scan_the_growth_rule_compares_with() -> None:
    """Scans 300, 100 and 0 days ago (10, 11, 12 mm) plus a repeat read today: the rule compares
    today's scan with the one 100 days before (the most recent at least 60 days back), so the
    dashed 5 mm/year line starts there, not at the first scan."""
    day = dt.timedelta(days=1)
    points = (
        (TODAY - 300 * day, 10.0, "mri"),
        (TODAY - 100 * day, 11.0, "mri"),
        (TODAY - 30 * day, 11.5, "ct"),  # too close to today's to be compared with it
        (TODAY, 12.0, "mri"),
        (TODAY, 12.5, "ct"),  # the same day read twice: the larger stands, as in the rule
    )
    series = LesionSeries(label="L1", location="", points=points)
    chart = growth_chart(series, rate_mm_per_year=5, size_mm=20, today=TODAY, min_spacing_days=60)
    rate = next(g for g in chart.guides if "rate" in g.css)
    baseline = next(d for d in chart.dots if d.label.startswith(f"{TODAY - 100 * day}:"))
    assert (rate.x1, rate.y1) == (baseline.x, baseline.y)
    assert f"from the scan of {TODAY - 100 * day} (11 mm)" in chart.description
    lonely = growth_chart(
        LesionSeries(label="L2", location="", points=points[2:4]),
        rate_mm_per_year=5,
        size_mm=20,
        today=TODAY,
        min_spacing_days=60,
    )
    # 30 days between its two scans: no growth is measured yet, so the line starts at the first.
    assert next(g for g in lonely.guides if "rate" in g.css).x1 == lonely.dots[0].x


def test_trigger_kinds_read_as_words_on_the_patient_page_and_the_worklist(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    with Session(web_engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        assert patient is not None
        make_trigger(session, patient, kind="recist")
        make_trigger(session, patient, kind="ssa_overdue")
        session.commit()
    for path in (f"/patients/{world.north_patient}", "/worklist"):
        html = nina.get(path).text
        assert "RECIST progression" in html and "SSA injection overdue" in html, path
        assert "Recist" not in html and "Ssa overdue" not in html, path


def test_every_trigger_kind_has_its_own_words() -> None:
    assert {trigger_label(k) for k in TriggerKind} == set(TRIGGER_LABELS.values())
