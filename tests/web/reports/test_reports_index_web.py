"""``/reports``: the reports in one place behind the header's one "Reports" link (the header had
nine links, too many for a phone), by role; axe-clean and no wider than a phone in Chromium."""

import re

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from tests.web.axe import axe_violations
from tests.web.conftest import World, login, screenshot
from tests.web.test_browser import log_in


def nav_links(html: str) -> list[str]:
    found = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', html, re.S)
    assert found, "no main navigation"
    return re.findall(r'href="([^"]+)"', found.group(1))


def test_one_reports_link_leads_to_every_report_a_navigator_may_open(nina: TestClient) -> None:
    home = nina.get("/worklist")
    links = nav_links(home.text)
    assert links.count("/reports") == 1
    assert not [link for link in links if link.startswith("/reports/")]
    page = nina.get("/reports")
    assert page.status_code == 200
    assert 'aria-current="page">Reports</a>' in page.text
    for url in ("/reports/capacity", "/reports/reasons", "/worklist?as_of="):
        assert f'href="{url}' in page.text
    assert "/reports/quality" not in page.text  # clinicians and administrators only
    assert nina.get("/reports/capacity").text.count('aria-current="page">Reports</a>') == 1


def test_an_administrator_also_finds_the_quality_page(client: TestClient, world: World) -> None:  # noqa: ARG001
    login(client, "ada")
    page = client.get("/reports")
    assert page.status_code == 200 and 'href="/reports/quality"' in page.text
    assert client.get("/reports/quality").status_code == 200


@pytest.mark.e2e
@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1400, "height": 900}]
)
def test_the_reports_page_in_chromium(
    page: Page,
    live_server: str,
    world: World,  # noqa: ARG001 (seeds the registry)
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    log_in(page, live_server)
    page.goto(f"{live_server}/reports")
    assert page.get_by_role("link", name="Capacity forecast").is_visible()
    assert axe_violations(page) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    nav = page.locator("nav.mainnav").bounding_box()
    assert nav is not None and nav["x"] + nav["width"] <= viewport["width"]
    screenshot(page, f"20-reports-{viewport['width']}")
    page.get_by_role("link", name="The worklist as it was").click()
    assert "as_of=" in page.url and page.get_by_role("heading", level=1).is_visible()
