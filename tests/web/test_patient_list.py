"""The patient list (``/patients?q=``) and the search box in every page's header, through the real
app (TestClient, templates, sessions)."""

import datetime as dt
import re

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from surveil.db import models as m
from tests.web.conftest import World
from tests.web.seed import make_item, make_patient

DAY = dt.timedelta(days=1)


def audit_rows(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(m.AuditEvent)).one()


def test_every_page_has_the_patient_search_in_its_header(nina: TestClient, world: World) -> None:
    for path in ("/worklist", f"/patients/{world.north_patient}", "/patients"):
        html = nina.get(path).text
        assert re.search(r'<form method="get" action="/patients" class="find" role="search"', html)
        assert 'name="q"' in html, path


def test_a_patient_not_on_the_worklist_is_found_by_name_mrn_or_birth_date(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    with Session(web_engine) as session:
        quiet = make_patient(session, "N-900", family="Ångström", given="Märta", navigator="nina")
        make_item(session, quiet, earliest=today + 100 * DAY, latest=today + 160 * DAY)
        session.commit()
    assert "N-900" not in nina.get("/worklist").text  # nothing for today's list
    before = audit_rows(web_engine)
    for typed in ("angs", "ÅNGSTRÖM m", "marta", "N-900"):
        page = nina.get("/patients", params={"q": typed})
        assert page.status_code == 200
        assert "ÅNGSTRÖM, Märta" in page.text, typed
        assert "window opens in 100 days" in page.text
    by_birth = nina.get("/patients?q=1960-02-29").text
    assert "by birth date" in by_birth and "OKAFOR, Ada" in by_birth
    assert audit_rows(web_engine) == before  # a search is not audited; opening a patient is


def test_a_row_shows_grade_state_navigator_and_the_next_item(nina: TestClient) -> None:
    html = nina.get("/patients?q=okafor").text
    row = html[html.index('data-patient="') :]
    assert "OKAFOR, Ada" in row and "MRN N-100" in row
    assert ">G1<" in row and "active surveillance" in row
    assert "Nina" in row  # her navigator
    assert "MRI, target" in row and "overdue by 12 days" in row


def test_no_match_says_so_plainly(nina: TestClient) -> None:
    html = nina.get("/patients?q=zzzz").text
    assert "No patient matches “zzzz”" in html
    assert "good" not in html.split('id="no-match"')[1].split("</p>")[0]


def test_another_clinics_patient_is_never_found(nina: TestClient) -> None:
    for typed in ("lindqvist", "S-200", "1960-02-29"):
        assert "LINDQVIST" not in nina.get("/patients", params={"q": typed}).text


def test_an_impossible_birth_date_is_refused_naming_the_field(nina: TestClient) -> None:
    page = nina.get("/patients?q=1960-02-30")
    assert page.status_code == 422 and "q: " in page.text


def test_the_list_pages(nina: TestClient, web_engine: sa.Engine) -> None:
    with Session(web_engine) as session:
        for n in range(60):
            make_patient(session, f"P-{n:03d}", family=f"Zed{n:03d}", given="Al")
        session.commit()
    first = nina.get("/patients?q=zed").text
    assert "62" not in first and "60 found" in first and "Page 1 of 2" in first
    assert 'href="/patients?q=zed&amp;page=2" rel="next"' in first
    second = nina.get("/patients?q=zed&page=2").text
    assert second.count('data-patient="') == 10 and "ZED059, Al" in second
