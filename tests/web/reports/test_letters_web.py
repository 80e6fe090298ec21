"""``/reports/letters/{id}`` (a page to print) and ``.pdf``: the plan without diagnosis words by
default, named tests when printed for handing over; another clinic's patient is not found."""

import io

from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.web.conftest import World


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
