"""Links given to a patient (calendar feed URLs and their QR code) use the configured public
address, never the host and port that served the page."""

import dataclasses
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from surveil.config import Settings
from surveil.web.app import create_app
from surveil.web.feed_controls import qr_svg
from tests.web.conftest import World, csrf_of, login

LINK = re.compile(r'value="((?:webcal|https?)://[^"]+\.ics)"')


def issued_links(settings: Settings, engine: sa.Engine, world: World, served_at: str) -> str:
    app = create_app(settings, engine=engine)
    with TestClient(app, base_url=served_at) as client:
        login(client, "nina")
        page = f"/patients/{world.north_patient}"
        token = csrf_of(client, page)
        response = client.post(f"{page}/feeds", data={"csrf_token": token, "label": "phone"})
        assert response.status_code == 200
        return response.text


@pytest.mark.parametrize(
    ("web", "public"),
    [
        ({"base_url": "https://follow-up.example.org"}, "follow-up.example.org"),
        ({"port": 8123}, "127.0.0.1:8123"),  # no base_url: the address surveil serves on
    ],
)
def test_feed_links_and_qr_code_use_the_public_address(
    web_settings: Settings,
    web_engine: sa.Engine,
    world: World,
    web: dict[str, object],
    public: str,
) -> None:
    settings = dataclasses.replace(web_settings, web=dataclasses.replace(web_settings.web, **web))
    html = issued_links(settings, web_engine, world, served_at="http://10.0.0.9:8000")
    links = LINK.findall(html)
    assert len(links) == 2 and all(f"://{public}/feeds/" in link for link in links), links
    assert "10.0.0.9" not in html and ":8000" not in html
    webcal = next(link for link in links if link.startswith("webcal://"))
    assert qr_svg(webcal) in html  # the QR code is of the same public link
