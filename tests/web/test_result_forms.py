"""The patient page's record-keeping forms through the real app (TestClient, logged in, on both
backends): each leaves its audit rows by the navigator on channel ``web``, says what changed in
the plan, and a refused post answers 422 with every problem beside its field and writes nothing.
A mistyped measurement corrected from the page withdraws the trigger it raised; an outreach call
shows on the worklist row."""

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from tests.web.conftest import World, csrf_of
from tests.web.test_one_way_in_records_shells import Audit

SHELL_COVERED: frozenset[str] = frozenset(
    {
        "results.measurement",
        "results.marker",
        "results.therapy",
        "results.dose",
        "results.symptom",
        "results.measurement_strike",
        "results.measurement_correct",
        "results.marker_strike",
        "results.marker_correct",
        "outreach.record",
    }
)
NOT_AUDITED: dict[str, str] = {}


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
    )


@pytest.fixture
def audit(nina: TestClient, web_engine: sa.Engine) -> Audit:  # noqa: ARG001 (logged in first)
    return Audit(web_engine)


def post(client: TestClient, path: str, form: dict[str, str]) -> tuple[int, str]:
    token = csrf_of(client, "/worklist")
    response = client.post(path, data={"csrf_token": token, **form}, follow_redirects=False)
    if response.status_code == 303:
        page = client.get(response.headers["location"])
        return 303, page.text
    return response.status_code, response.text


def rows_of(audit: Audit) -> list[tuple[str, str, str, int | None, str | None]]:
    return [(r.action, r.actor, r.channel, r.patient_id, r.subject) for r in audit.new()]


def newest(engine: sa.Engine, model: type[m.SQLModel]) -> int:  # type: ignore[name-defined]
    with Session(engine) as session:
        return int(session.exec(select(sa.func.max(model.id))).one())  # type: ignore[attr-defined]


def test_a_refused_form_shows_every_problem_and_writes_nothing(
    nina: TestClient, audit: Audit, world: World
) -> None:
    north = world.north_patient
    before = audit.record()
    status, html = post(
        nina,
        f"/patients/{north}/measurements",
        {"lesion": "", "date": "2999-01-01", "diameter_mm": "-4", "modality": "xray"},
    )
    assert status == 422
    for field in ("lesion", "date", "diameter_mm", "modality"):
        assert f'id="measurement-{field}-error"' in html, field
    assert 'value="-4"' in html  # what was typed comes back
    assert audit.new() == [] and audit.record() == before

    item = str(world.overdue_item)
    status, html = post(
        nina, f"/patients/{north}/outreach", {"channel": "fax", "result": "", "item_id": item}
    )
    assert status == 422 and "outreach-channel-error" in html and "outreach-result-error" in html
    assert f'<option value="{item}" selected>' in html  # the item chosen is still chosen
    assert audit.new() == [] and audit.record() == before

    # Another clinic's patient: not found, and nothing written but the refusal's own audit row.
    status, _ = post(nina, f"/patients/{world.south_patient}/symptoms", {"date": "2026-01-01"})
    assert status == 404
    assert [r.action for r in audit.new()] == ["access.denied"]
    assert audit.record() == before


def test_every_form_leaves_its_audit_rows_and_says_what_changed(
    nina: TestClient, audit: Audit, world: World, web_engine: sa.Engine
) -> None:
    north = world.north_patient
    today = re.search(r'name="date" value="(\d{4}-\d\d-\d\d)"', nina.get(f"/patients/{north}").text)
    assert today
    day = today.group(1)
    audit.new()  # the page view

    status, html = post(
        nina,
        f"/patients/{north}/markers",
        {"name": "cga", "value": "80", "unit": "ng/mL", "uln": "100", "date": day},
    )
    marker = newest(web_engine, m.MarkerResult)
    assert status == 303 and "Recorded cga 80 ng/mL" in html and "target" in html
    assert rows_of(audit)[0] == ("marker.recorded", "nina", "web", north, f"marker:{marker}")

    status, html = post(
        nina,
        f"/patients/{north}/therapies",
        {"kind": "ssa", "agent": "lanreotide 120 mg", "started_on": day},
    )
    therapy = newest(web_engine, m.Therapy)
    assert status == 303 and "Recorded ssa from" in html
    assert "added SSA injection" in html or "target" in html  # the plan change is listed
    assert rows_of(audit)[0] == ("therapy.recorded", "nina", "web", north, f"therapy:{therapy}")

    status, html = post(
        nina, f"/patients/{north}/therapies/{therapy}/doses", {"given_on": day, "note": "left"}
    )
    assert status == 303 and f"Doses given: {day}" in html
    assert rows_of(audit)[0] == ("therapy.dose_given", "nina", "web", north, f"therapy:{therapy}")

    status, html = post(
        nina, f"/patients/{north}/symptoms", {"date": day, "description": "flushing"}
    )
    symptom = newest(web_engine, m.Symptom)
    assert status == 303 and "flushing" in html
    assert rows_of(audit)[0] == ("symptom.recorded", "nina", "web", north, f"symptom:{symptom}")

    status, html = post(
        nina,
        f"/patients/{north}/markers/{marker}/correct",
        {"value": "8", "reason": "decimal point"},
    )
    assert status == 303 and "Corrected to cga 8 ng/mL" in html and "<del>80 ng/mL" in html
    assert [r[0] for r in rows_of(audit)][:3] == [
        "marker.struck_out",
        "marker.recorded",
        "marker.corrected",
    ]
    corrected = newest(web_engine, m.MarkerResult)
    status, html = post(
        nina, f"/patients/{north}/markers/{corrected}/strike", {"reason": "wrong patient"}
    )
    assert status == 303 and "struck out by nina: wrong patient" in html
    assert rows_of(audit)[0] == ("marker.struck_out", "nina", "web", north, f"marker:{corrected}")

    status, html = post(
        nina,
        f"/patients/{north}/outreach",
        {"channel": "call", "result": "will_book", "item_id": str(world.overdue_item)},
    )
    contact = newest(web_engine, m.OutreachContact)
    assert status == 303 and "call: will book" in html
    assert rows_of(audit)[0] == ("outreach.recorded", "nina", "web", north, f"outreach:{contact}")
    worklist = nina.get("/worklist").text
    assert re.search(r"last contact \d{4}-\d\d-\d\d: call, will book", worklist)


def test_correcting_a_mistyped_measurement_from_the_page_withdraws_its_trigger(
    nina: TestClient, audit: Audit, world: World, web_engine: sa.Engine
) -> None:
    """10 mm a year ago; 40 typed for 10.4 today fires a growth trigger; correcting it closes it."""
    patient = world.growth_patient
    page = nina.get(f"/patients/{patient}").text
    day = re.search(r'name="date" value="(\d{4}-\d\d-\d\d)"', page)
    assert day
    form = {"lesion": "L1", "date": day.group(1), "diameter_mm": "40", "modality": "mri"}
    status, html = post(nina, f"/patients/{patient}/measurements", form)
    assert status == 303 and "New trigger:" in html
    wrong = newest(web_engine, m.Measurement)
    audit.new()

    status, html = post(nina, f"/patients/{patient}/measurements/{wrong}/strike", {"reason": ""})
    assert status == 422 and "measurement-" in html and audit.new() == []

    status, html = post(
        nina,
        f"/patients/{patient}/measurements/{wrong}/correct",
        {"diameter_mm": "10.4", "reason": "typed 40 for 10.4"},
    )
    assert status == 303 and "Corrected to L1 10.4 mm" in html
    with Session(web_engine) as session:
        triggers = session.exec(
            select(m.Trigger).where(m.Trigger.patient_id == patient).order_by(col(m.Trigger.id))
        ).all()
    growth = [t for t in triggers if t.kind == "growth_rate"]
    assert growth and all(t.state == m.TriggerState.RESOLVED for t in growth)
    assert "withdrawn: corrected: typed 40 for 10.4" in html
    assert ("trigger.withdrawn", "system") in [(r[0], r[1]) for r in rows_of(audit)]
