"""The worklist's snoozed view in the app (both backends): an item snoozed from the worklist
leaves the day's sections and is listed under "Snoozed" with its coded reason, the words and the
end date; the overview links to the view."""

import datetime as dt

from fastapi.testclient import TestClient

from tests.web.conftest import World, csrf_of
from tests.web.test_trigger_decisions_web import web_settings

__all__ = ["web_settings"]  # both backends, as the decisions' tests


def test_a_snoozed_item_is_seen_with_its_reason_and_end(nina: TestClient, world: World) -> None:
    until = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)  # the world's today
    token = csrf_of(nina, "/worklist")
    response = nina.post(
        f"/items/{world.marker_item}/snooze",
        data={"csrf_token": token, "until": until.isoformat(), "reason_code": "patient_away",
              "reason": "on holiday", "next": "/worklist"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    overview = nina.get("/worklist").text
    assert f'data-item="{world.marker_item}"' not in overview
    assert 'href="/worklist?section=snoozed"' in overview

    view = nina.get("/worklist?section=snoozed")
    assert view.status_code == 200
    assert f'data-item="{world.marker_item}"' in view.text
    assert f"snoozed until {until}" in view.text
    assert "reason patient_away: on holiday" in view.text
    assert "Snoozed items →" in overview and "Snoozed items →" not in view.text
