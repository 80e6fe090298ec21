"""Issue #18 point 4 for calendar feeds: a patient's feed is worded in their language, through
the token path the endpoint uses (``open_feed`` + ``render_items``) and through
``build_patient_feed``; on SQLite and PostgreSQL. Every feed template in every shipped
language, every kind and state, through a catalogue that fails on a missing msgid, is in
tests/test_reminder_languages.py."""

import icalendar
from sqlmodel import Session

from surveil.config import Settings, WebSettings
from surveil.services.feeds import tokens as feeds
from tests.services.test_feeds import BASE, DAY, issue
from tests.web.seed import TODAY, make_item, make_patient


def _summaries(body: bytes) -> set[str]:
    return {str(ev["SUMMARY"]) for ev in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def test_a_feed_speaks_the_patient_language(session: Session, settings: Settings) -> None:
    settings = Settings(database=settings.database, web=WebSettings(base_url=BASE))
    window = {"earliest": TODAY + 10 * DAY, "latest": TODAY + 40 * DAY}
    bodies: dict[str, bytes] = {}
    for mrn, language in (("ES", "es-ES"), ("FR", "fr"), ("EN", None), ("DE", "de")):
        patient = make_patient(session, mrn)
        patient.language = language
        session.add(patient)
        make_item(session, patient, **window)
        make_item(session, patient, kind="cga", state="done", **window)
        token, _ = issue(session, patient)
        session.commit()
        renderer = feeds.FeedRenderer(settings, cache_size=8)
        opened = feeds.open_feed(
            session.connection(), feeds.hash_token(token), today=TODAY, retention=30 * DAY
        )
        assert opened is not None and opened.language == language
        bodies[mrn] = renderer.render_items(opened, opened.items, opened.timezone).body
        row = feeds.lookup(session, token)
        assert row is not None
        assert feeds.build_patient_feed(session, row, settings, TODAY) == bodies[mrn]
    assert _summaries(bodies["ES"]) == {
        "Pendiente: Prueba de imagen de seguimiento",
        "Hecho: Análisis de sangre",
    }
    assert _summaries(bodies["FR"]) == {
        "Examen d'imagerie de suivi à faire",
        "Fait : Prise de sang",
    }
    assert (
        _summaries(bodies["EN"])
        == _summaries(bodies["DE"])
        == {
            "Follow-up scan due",
            "Done: Blood test",
        }
    )
    spanish = icalendar.Calendar.from_ical(bodies["ES"])
    assert "Sus fechas de seguimiento" in str(spanish["X-WR-CALDESC"])
    day = (TODAY + 10 * DAY).day
    described = " ".join(str(ev["DESCRIPTION"]) for ev in spanish.walk("VEVENT"))
    assert f"Cualquier día del {day} de " in described
