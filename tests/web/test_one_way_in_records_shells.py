"""One way in, from the web, for the clinical record: every form that changes an item or a trigger,
and the patient page, run through the real app (TestClient, logged in, on both backends), leave
exactly their audit rows: by the navigator, on channel ``web``, from the client's address, and
surveil's own consequences as ``system`` on ``web``. A refused form leaves no row and no change."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, col, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.web.deps import clinic_today
from tests.web.conftest import World, csrf_of
from tests.web.seed import NO_TOTP, TODAY, make_item

SHELL_COVERED: frozenset[str] = frozenset(
    {
        "patients.detail",
        "items.ordered",
        "items.booked",
        "items.done",
        "items.declined",
        "items.not_needed",
        "items.snooze",
        "triggers.acknowledge",
        "triggers.resolve",
    }
)
NOT_AUDITED: dict[str, str] = {}

Row = tuple[str, str, str, int | None, str | None]  # action, actor, channel, patient, subject


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    """The web fixtures' app, on each backend (the shared fixture runs on SQLite only)."""
    return Settings(
        database=DatabaseSettings(url=db_url),
        security=NO_TOTP,
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
    )


class Audit:
    """The audit rows and the record as each request leaves them."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.seen = self._last()

    def _last(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(sa.func.max(m.AuditEvent.id))).one() or 0

    def new(self) -> list[m.AuditEvent]:
        with Session(self.engine) as session:
            rows = list(
                session.exec(
                    select(m.AuditEvent)
                    .where(col(m.AuditEvent.id) > self.seen)
                    .order_by(col(m.AuditEvent.id))
                ).all()
            )
        self.seen = rows[-1].id or self.seen if rows else self.seen
        return rows

    def record(self) -> dict[str, list[tuple[object, ...]]]:
        """Every clinical table's rows (the audit, login, session and rate-limit tables aside)."""
        skip = {"audit_event", "login_attempt", "web_session", "rate_limit"}
        with self.engine.connect() as connection:
            return {
                t.name: [tuple(r) for r in connection.execute(sa.select(t)).all()]
                for t in SQLModel.metadata.sorted_tables
                if t.name not in skip
            }


@pytest.fixture
def audit(
    nina: TestClient,  # noqa: ARG001 - logged in first, so its rows are not counted
    web_engine: sa.Engine,
) -> Iterator[Audit]:
    yield Audit(web_engine)  # after the login's own rows


def nina_did(action: str, patient: int, subject: str) -> Row:
    return (action, "nina", "web", patient, subject)


def surveil_did(action: str, patient: int, subject: str) -> Row:
    return (action, "system", "web", patient, subject)


def post(client: TestClient, audit: Audit, path: str, form: dict[str, str]) -> list[Row]:
    """Post a form as the worklist would, follow the redirect, and return the rows it left."""
    token = csrf_of(client, "/worklist")
    response = client.post(path, data={"csrf_token": token, "next": "/worklist", **form})
    assert response.status_code == 200, response.text
    rows = audit.new()
    assert all(r.ip == "testclient" and r.os_user is None for r in rows if r.actor == "nina")
    return [(r.action, r.actor, r.channel, r.patient_id, r.subject) for r in rows]


def newest(engine: sa.Engine, model: type[SQLModel]) -> int:
    with Session(engine) as session:
        found = session.exec(select(sa.func.max(model.id))).one()  # type: ignore[attr-defined]
    assert found is not None
    return int(found)


ITEM_FORMS = [
    ("ordered", {"note": "requested"}, "item.ordered"),
    ("booked", {"date": "tomorrow", "time": "09:30", "reason_code": "no_slot"}, "item.booked"),
    ("declined", {"reason": "moving abroad"}, "item.declined"),
    ("not-needed", {"reason": "done elsewhere"}, "item.not_needed"),
    ("snooze", {"until": "tomorrow", "reason": "on holiday"}, "item.snoozed"),
]


def test_every_form_and_the_patient_page_leave_their_audit_rows(
    nina: TestClient, audit: Audit, world: World, web_engine: sa.Engine
) -> None:
    north = world.north_patient
    tomorrow = _tomorrow(nina)
    for path, form, action in ITEM_FORMS:
        item = _another_item(web_engine, north)
        filled = {k: tomorrow if v == "tomorrow" else v for k, v in form.items()}
        rows = post(nina, audit, f"/items/{item}/{path}", filled)
        assert rows == [nina_did(action, north, f"item:{item}")], path

    rows = post(nina, audit, f"/items/{world.marker_item}/done", {"marker_value": "40"})
    assert rows == [
        nina_did("marker.recorded", north, f"marker:{newest(web_engine, m.MarkerResult)}"),
        nina_did("item.done", north, f"item:{world.marker_item}"),
    ]

    subject = f"trigger:{world.trigger}"
    acknowledged = post(nina, audit, f"/triggers/{world.trigger}/acknowledge", {})
    assert acknowledged == [nina_did("trigger.acknowledged", north, subject)]
    # A growth finding waits for a clinician: nina's resolve is refused, nothing written
    # (a clinician's is walked in tests/web/test_trigger_decisions_web.py).
    before = audit.record()
    token = csrf_of(nina, "/worklist")
    refused = nina.post(
        f"/triggers/{world.trigger}/resolve", data={"csrf_token": token, "outcome": "benign"}
    )
    assert refused.status_code == 403
    assert audit.new() == [] and audit.record() == before

    assert nina.get(f"/patients/{north}").status_code == 200
    viewed = [(r.action, r.actor, r.channel, r.patient_id, r.subject) for r in audit.new()]
    assert viewed == [nina_did("patient.viewed", north, f"patient:{north}")]


def test_done_with_a_growing_lesion_audits_the_trigger_as_surveils_own(
    nina: TestClient, audit: Audit, world: World, web_engine: sa.Engine
) -> None:
    """10 mm a year ago, 16 mm today: the growth trigger and its tumour board are surveil's
    consequences of the nurse's form, on the web channel."""
    form = {"lesion": "L1", "diameter_mm": "16", "modality": "mri"}
    rows = post(nina, audit, f"/items/{world.growth_item}/done", form)
    patient = world.growth_patient
    with Session(web_engine) as session:
        trigger = session.exec(select(m.Trigger).where(m.Trigger.patient_id == patient)).one()
    measurement = newest(web_engine, m.Measurement)
    assert rows == [
        nina_did("measurement.recorded", patient, f"measurement:{measurement}"),
        nina_did("item.done", patient, f"item:{world.growth_item}"),
        surveil_did("trigger.fired", patient, f"trigger:{trigger.id}"),
    ]  # leaving surveillance is proposed, for a clinician to confirm: no state.set yet


REFUSED_FORMS = [
    ("items", "overdue_item", "booked", {"date": "2000-01-01", "time": "9h"}),
    ("items", "overdue_item", "done", {"completed_on": "2999-01-01"}),
    ("items", "marker_item", "done", {"marker_value": ""}),
    ("items", "overdue_item", "declined", {"reason": " "}),
    ("items", "overdue_item", "not-needed", {"reason": ""}),
    ("items", "overdue_item", "snooze", {"until": "2999-01-01", "reason": ""}),
    ("triggers", "trigger", "resolve", {"outcome": ""}),
]


def test_a_refused_form_leaves_no_row_and_no_change(
    nina: TestClient, audit: Audit, world: World
) -> None:
    for area, which, path, form in REFUSED_FORMS:
        before = audit.record()
        token = csrf_of(nina, "/worklist")
        response = nina.post(
            f"/{area}/{getattr(world, which)}/{path}",
            data={"csrf_token": token, "next": "/worklist", **form},
        )
        assert response.status_code == 200 and "Nothing was changed" in response.text, path
        assert audit.new() == [] and audit.record() == before, path

    before = audit.record()
    token = csrf_of(nina, "/worklist")
    response = nina.post(f"/items/{world.due_item}/ordered", data={"csrf_token": token})
    assert response.status_code == 404  # another clinic's item
    rows = [(r.action, r.actor, r.patient_id) for r in audit.new()]
    assert rows == [("access.denied", "nina", world.south_patient)]  # the app's, ASVS 16.3.2
    assert audit.record() == before


def _another_item(engine: sa.Engine, patient_id: int) -> int:
    """A planned MRI, due now, for one form to act on."""
    with Session(engine, expire_on_commit=False) as session:
        patient = session.get(m.Patient, patient_id)
        assert patient is not None
        item = make_item(session, patient, earliest=TODAY, latest=TODAY + dt.timedelta(days=30))
        session.commit()
    assert item.id is not None
    return item.id


def _tomorrow(client: TestClient) -> str:
    """The soonest day a booking or a snooze may take: tomorrow where the clinic is."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return (clinic_today(settings) + dt.timedelta(days=1)).isoformat()
