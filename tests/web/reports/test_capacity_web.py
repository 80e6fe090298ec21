"""``/reports/capacity`` and its CSV: the numbers, refusals, and the SVG charts in a real
Chromium on a phone and a desktop (axe)."""

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.test_browser import log_in


def test_the_page_counts_the_north_clinics_open_items(nina: TestClient, world: World) -> None:  # noqa: ARG001
    page = nina.get("/reports/capacity", params={"months": "3", "by": "resource"})
    assert page.status_code == 200
    # North's open items: an overdue MRI, a due CgA, Petrov's due MRI (south's MRI is not hers).
    assert "<td>MRI</td><td>2</td>" in page.text
    assert "<td>Blood tests</td><td>1</td>" in page.text
    assert 'id="chart-mri"' in page.text and "<svg" in page.text
    csv = nina.get("/reports/capacity.csv", params={"months": "3", "by": "resource"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == [
        "resource,target,earliest,latest,possible",
        "MRI,2,2,2,2",
        "Blood tests,1,1,1,1",
    ]


def test_bad_choices_are_refused_naming_each_field(nina: TestClient) -> None:
    refused = nina.get("/reports/capacity", params={"months": "many", "by": "colour"})
    assert refused.status_code == 422
    assert "months" in refused.text and "colour" in refused.text


@pytest.mark.e2e
@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1400, "height": 900}]
)
def test_the_charts_in_chromium(
    page: Page,
    live_server: str,
    world: World,  # noqa: ARG001 (seeds the registry)
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    log_in(page, live_server)
    page.goto(f"{live_server}/reports/capacity?months=12")
    chart = page.locator("#chart-mri svg")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.locator("#chart-mri rect.bar").count() == 12
    wide = page.evaluate(
        "(w) => [...document.querySelectorAll('main *')]"
        ".filter(e => e.getBoundingClientRect().right > w)"
        ".map(e => e.tagName + '.' + e.className).slice(0, 8)",
        viewport["width"],
    )
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"], wide
    screenshot(page, f"20-capacity-{viewport['width']}")
    assert axe_violations(page) == []
