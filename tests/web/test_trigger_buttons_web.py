"""Issue 14.5 on the pages (both backends): a navigator sees Acknowledge and Add a note on a
clinical trigger, never the Resolve / Confirm / Re-open buttons they cannot use, on the patient
page and on the worklist; a clinician sees them. A navigator's refused post says why."""

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.services.triggers.roles import role_may_resolve
from tests.web.conftest import World, csrf_of
from tests.web.test_one_way_in_records_shells import Audit, post
from tests.web.test_trigger_decisions_web import audit, dora, web_settings

__all__ = ["audit", "dora", "web_settings"]  # the fixtures, shared with the decisions' tests


def test_navigators_see_only_the_buttons_they_may_use(
    nina: TestClient, dora: TestClient, audit: Audit, world: World, web_engine: sa.Engine
) -> None:
    patient = world.growth_patient
    post(nina, audit, f"/items/{world.growth_item}/done",
         {"lesion": "L1", "diameter_mm": "16", "modality": "mri"})  # fmt: skip
    with Session(web_engine) as session:
        trigger = session.exec(select(m.Trigger).where(m.Trigger.patient_id == patient)).one()
    base = f"/triggers/{trigger.id}"

    for page in (nina.get(f"/patients/{patient}").text, nina.get("/worklist").text):
        assert f"{base}/acknowledge" in page
        assert f"{base}/resolve" not in page and f"{base}/confirm" not in page
        assert "Waits for a clinician" in page
    assert f"{base}/note" in nina.get(f"/patients/{patient}").text
    for page in (dora.get(f"/patients/{patient}").text, dora.get("/worklist").text):
        assert f"{base}/resolve" in page and "Waits for a clinician" not in page
    assert f"{base}/confirm" in dora.get(f"/patients/{patient}").text

    token = csrf_of(nina, f"/patients/{patient}")
    refused = nina.post(
        f"{base}/resolve", data={"csrf_token": token, "outcome": "benign", "false_alarm": "yes"}
    )
    assert refused.status_code == 403
    assert "only a clinician may resolve it" in refused.text
    assert "may acknowledge it and add a note" in refused.text


def test_the_rule_the_pages_use_is_the_services_rule() -> None:
    assert role_may_resolve("clinician", "growth_rate")
    assert not role_may_resolve("navigator", "growth_rate")
    assert not role_may_resolve("admin", "recist")
    assert role_may_resolve("navigator", "ssa_overdue")
    assert not role_may_resolve(None, "growth_rate")
