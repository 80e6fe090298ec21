"""Feed controls on the patient page, through the real app with a logged-in navigator."""

import re
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.services.feeds import tokens as feeds
from surveil.web.app import create_app
from tests.web.conftest import BASE, World, csrf_of, login

URL = re.compile(r'value="((?:webcal|https?)://[^"]+/feeds/([A-Za-z0-9_-]{43})\.ics)"')


@pytest.fixture
def nina_feeds(
    web_settings: Settings,
    web_engine: sa.Engine,
    world: World,  # noqa: ARG001 (seeds nina's account; a fixture cannot use usefixtures)
) -> Iterator[TestClient]:
    app = create_app(web_settings, engine=web_engine)
    with TestClient(app, base_url=BASE) as client:
        login(client, "nina")
        yield client


def post(client: TestClient, path: str, page: str, **data: str) -> httpx.Response:
    token = csrf_of(client, page)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_issue_shows_the_links_once_with_a_qr_code(
    nina_feeds: TestClient, world: World, web_engine: sa.Engine
) -> None:
    page = f"/patients/{world.north_patient}"
    before = nina_feeds.get(page).text
    assert "Calendar feeds" in before and "No calendar feed yet" in before
    assert "not https" in before  # the test deployment is plain http, and the page says so

    issued = post(nina_feeds, f"{page}/feeds", page, label="iPhone")
    assert issued.status_code == 200
    html = issued.text
    found = URL.findall(html)
    assert {url.split("://")[0] for url, _ in found} == {"webcal", "http"}
    tokens = {token for _, token in found}
    assert len(tokens) == 1
    token = tokens.pop()
    assert '<svg width="' in html and 'class="feed-qr"' in html and "one-time import" in html
    assert issued.headers["cache-control"] == "no-store"

    after = nina_feeds.get(page).text
    assert "iPhone" in after and "never" in after and token not in after
    assert nina_feeds.get(f"/feeds/{token}.ics").status_code == 200
    nina_feeds.app.state.feed_fetches.flush()  # type: ignore[attr-defined]  # (every 30 s)
    assert "Revoke" in nina_feeds.get(page).text

    with Session(web_engine) as session:
        row = session.exec(select(m.FeedToken)).one()
        assert row.token_hash == feeds.hash_token(token) and row.fetch_count == 1
        trail = session.exec(select(m.AuditEvent).where(m.AuditEvent.action == "feed.issued")).one()
        assert (trail.actor, trail.patient_id) == ("nina", world.north_patient)
        assert token not in trail.detail


def test_rotate_and_revoke(nina_feeds: TestClient, world: World, web_engine: sa.Engine) -> None:
    page = f"/patients/{world.north_patient}"
    first = URL.findall(post(nina_feeds, f"{page}/feeds", page, label="Google").text)[0][1]
    with Session(web_engine) as session:
        public_id = session.exec(select(m.FeedToken.public_id)).one()

    rotated = post(nina_feeds, f"{page}/feeds/{public_id}/rotate", page)
    assert rotated.status_code == 200 and "has stopped working" in rotated.text
    second = URL.findall(rotated.text)[0][1]
    assert nina_feeds.get(f"/feeds/{first}.ics").status_code == 404
    assert nina_feeds.get(f"/feeds/{second}.ics").status_code == 200

    with Session(web_engine) as session:
        new_id = feeds.lookup(session, second).public_id  # type: ignore[union-attr]
    revoked = post(nina_feeds, f"{page}/feeds/{new_id}/revoke", page)
    assert revoked.status_code == 303
    shown = nina_feeds.get(page).text
    assert "revoked: its link no longer works" in shown and shown.count("revoked 20") == 2
    assert nina_feeds.get(f"/feeds/{second}.ics").status_code == 404


def test_refusals_change_nothing(
    nina_feeds: TestClient, world: World, web_engine: sa.Engine
) -> None:
    page = f"/patients/{world.north_patient}"
    no_csrf = nina_feeds.post(f"{page}/feeds", data={"label": "x"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    other_clinic = post(nina_feeds, f"/patients/{world.south_patient}/feeds", page, label="x")
    assert other_clinic.status_code == 404
    too_long = post(nina_feeds, f"{page}/feeds", page, label="x" * 65)
    assert too_long.status_code == 303
    assert "No feed was issued" in nina_feeds.get(page).text
    with Session(web_engine) as session:
        assert session.exec(select(m.FeedToken)).all() == []
        patient = session.get(m.Patient, world.south_patient)
        assert patient is not None and patient.id is not None
        south = feeds.issue_feed(session, patient_id=patient.id, base_url=BASE)
        session.commit()
    # A north page's form cannot reach a south feed, even knowing its id.
    sneaky = post(nina_feeds, f"{page}/feeds/{south.feed.public_id}/revoke", page)
    assert sneaky.status_code == 404
    with Session(web_engine) as session:
        assert feeds.get_feed(session, public_id=south.feed.public_id).revoked_at is None
