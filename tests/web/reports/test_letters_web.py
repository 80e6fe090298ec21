"""``/reports/letters/{id}`` (a page to print) and ``.pdf``: the plan without diagnosis words by
default, named tests when printed for handing over; another clinic's patient is not found; each
letter in the patient's language, and a Spanish one in real Chromium."""

import io

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from pypdf import PdfReader
from sqlmodel import Session

from surveil.db import models as m
from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.test_browser import log_in


def test_the_letter_page_and_its_pdf(nina: TestClient, world: World) -> None:
    page = nina.get(f"/reports/letters/{world.north_patient}")
    assert page.status_code == 200 and "Your follow-up plan" in page.text
    assert "Follow-up scan" in page.text and "MRI" not in page.text and "Okafor" not in page.text
    assert "@media print" in page.text
    pdf = nina.get(f"/reports/letters/{world.north_patient}.pdf", params={"handover": "true"})
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Dear Ada Okafor" in text and "MRI scan" in text
    assert nina.get(f"/reports/letters/{world.south_patient}").status_code == 404
    six = nina.get(f"/reports/letters/{world.north_patient}", params={"months": 6})
    assert six.status_code == 422 and "months" in six.text


def test_bulk_letters_in_one_pdf(nina: TestClient, world: World) -> None:  # noqa: ARG001
    pdf = nina.get("/reports/letters.pdf", params=[("mrn", "N-100"), ("mrn", "N-101")])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages]
    starts = [n for n, text in enumerate(pages) if "Your follow-up plan" in text]
    assert len(starts) == 2 and starts[0] == 0  # each letter starts a page of its own
    assert "MRI" not in "".join(pages)
    assert nina.get("/reports/letters.pdf", params={"mrn": "S-200"}).status_code == 404


def _speaks(engine: sa.Engine, patient_id: int, language: str) -> None:
    with Session(engine) as session:
        patient = session.get(m.Patient, patient_id)
        assert patient is not None
        patient.language = language
        session.add(patient)
        session.commit()


def test_the_letter_page_and_pdfs_in_the_patient_language(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    _speaks(web_engine, world.north_patient, "fr-CA")
    page = nina.get(f"/reports/letters/{world.north_patient}")
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert "Votre plan de suivi" in page.text and "Madame, Monsieur," in page.text
    assert "Your follow-up plan" not in page.text and "IRM" not in page.text
    csp = page.headers["content-security-policy"]  # the site's, plus this stylesheet's hash
    assert "style-src 'self' 'sha256-" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    pdf = nina.get(f"/reports/letters/{world.north_patient}.pdf", params={"handover": "true"})
    text = " ".join(
        "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split()
    )
    assert "Bonjour Ada Okafor," in text and "IRM" in text
    both = nina.get("/reports/letters.pdf", params=[("mrn", "N-100"), ("mrn", "N-101")])
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(both.content)).pages]
    assert any("Votre plan de suivi" in t for t in pages)
    assert any("Your follow-up plan" in t for t in pages)


@pytest.mark.e2e
def test_a_spanish_letter_in_chromium(
    page: Page, live_server: str, world: World, web_engine: sa.Engine
) -> None:
    """The page a navigator prints, in real Chromium: Spanish words and dates, ``lang="es"``, the
    print stylesheet, and no blocking accessibility fault."""
    _speaks(web_engine, world.north_patient, "es")
    log_in(page, live_server)
    page.goto(f"{live_server}/reports/letters/{world.north_patient}")
    assert page.evaluate("() => document.documentElement.lang") == "es"
    assert page.title() == "Su plan de seguimiento"
    assert page.locator("h1").inner_text() == "Su plan de seguimiento"
    assert page.get_by_text("Estimado/a paciente:").is_visible()
    first = page.locator("ol.plan li .when").first.inner_text()
    assert " de 20" in first and "Pendiente" in first  # a Spanish date and a Spanish name
    assert "Your" not in page.locator("body").inner_text()
    # The inline print stylesheet applies (the page's policy names its hash).
    assert (
        page.locator("ol.plan li .when").first.evaluate("e => getComputedStyle(e).fontWeight")
        == "700"
    )
    page.emulate_media(media="print")
    assert page.evaluate("() => getComputedStyle(document.body).maxWidth") == "none"
    pdf = page.pdf(format="A4")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Su plan de seguimiento" in text
    page.emulate_media(media="screen")
    screenshot(page, "20-letter-es")
    assert axe_violations(page) == []
