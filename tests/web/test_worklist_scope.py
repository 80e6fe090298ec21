"""Whose worklist: a navigator sees their own patients by default and the whole clinic on
asking; patients with no navigator are on everyone's page, in their own section."""

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.web.conftest import login
from tests.web.seed import make_item, make_patient, make_user

DAY = dt.timedelta(days=1)


def section(html: str, key: str) -> str:
    start = html.index(f'id="sec-{key}"')
    return html[start : html.index("</section>", start)]


def seed_colleague_and_orphan(engine: sa.Engine) -> None:
    today = dt.datetime.now(dt.UTC).date()
    with Session(engine, expire_on_commit=False) as session:
        make_user(session, "noor", clinic="north")
        theirs = make_patient(session, "N-300", family="Quill", given="Rosa", navigator="noor")
        make_item(session, theirs, earliest=today - 40 * DAY, latest=today - 3 * DAY)
        orphan = make_patient(session, "N-400", family="Wren", given="Kit")
        make_item(session, orphan, earliest=today - 40 * DAY, latest=today - 4 * DAY)
        session.commit()


def test_a_navigator_sees_her_own_patients_then_the_whole_clinic(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    seed_colleague_and_orphan(web_engine)
    mine = nina.get("/worklist").text
    assert "<strong>my patients</strong>" in mine
    assert "OKAFOR, Ada" in section(mine, "overdue")
    assert "QUILL" not in mine and "WREN" not in section(mine, "overdue")
    assert "WREN, Kit" in section(mine, "no_owner")  # nobody's patient is on everyone's page
    assert 'id="scope" href="/worklist?navigator=all">Show the whole clinic' in mine
    everyone = nina.get("/worklist?navigator=all").text
    overdue = section(everyone, "overdue")
    assert all(name in overdue for name in ("OKAFOR, Ada", "QUILL, Rosa", "WREN, Kit"))
    assert "LINDQVIST" not in everyone  # still her clinic only
    assert "Show my patients" in everyone
    assert "QUILL, Rosa" in section(nina.get("/worklist?navigator=noor").text, "overdue")


def test_the_export_follows_the_same_default(nina: TestClient, web_engine: sa.Engine) -> None:
    seed_colleague_and_orphan(web_engine)
    assert "N-300" not in nina.get("/worklist.csv").text
    assert "N-300" in nina.get("/worklist.csv?navigator=all").text


@pytest.mark.usefixtures("world")
def test_an_admin_sees_everyone_by_default(client: TestClient, web_engine: sa.Engine) -> None:
    seed_colleague_and_orphan(web_engine)
    login(client, "ada")
    html = client.get("/worklist").text
    assert "QUILL, Rosa" in section(html, "overdue") and "OKAFOR, Ada" in section(html, "overdue")
    assert "Show my patients" in html
