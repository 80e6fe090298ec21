"""Issue #18 point 4 end to end: a patient whose language is Spanish gets the reminder in
Spanish, dates included, through a real SMTP server; an unsupported language gets English."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from surveil.services.reminders import delivery
from surveil.services.reminders.delivery import dispatch_due
from tests.daemon.seed import add_item, add_patient, settings_for
from tests.daemon.sink import Sink
from tests.daemon.test_delivery import NOW, plan


def test_each_patient_is_written_to_in_their_language(
    engine: sa.Engine, db_url: str, sink: Sink
) -> None:
    settings = settings_for(db_url, sink.port, reminders={"channels": ["email"]})
    opened = dt.date(2026, 6, 9)
    with Session(engine) as session:
        for mrn, language in (("ES1", "es-MX"), ("FR1", "fr"), ("DE1", "de"), ("EN1", None)):
            add_item(session, add_patient(session, mrn, language=language), opened)
        session.commit()
    assert plan(engine, settings) == 4
    transports = delivery.build_transports(settings)
    try:
        assert dispatch_due(engine, transports, settings, NOW, "w1") == 4
    finally:
        transports["email"].close()
    by_address = {str(m["To"]): m for m in sink.messages()}
    spanish = by_address["es1@example.org"]
    body = spanish.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert str(spanish["Subject"]).startswith("Es hora de pedir cita")
    assert "Estimado/a Ann:" in text and "9 de junio de 2026" in text
    french = by_address["fr1@example.org"].get_body(("plain",))
    assert french is not None and "9 juin 2026" in french.get_content()
    for english in ("de1@example.org", "en1@example.org"):
        assert str(by_address[english]["Subject"]).startswith("Time to book")
