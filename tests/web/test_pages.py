"""Worklist, patient page, actions, admin and export through the real app (TestClient)."""

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.resources import resource_dir
from tests.web.conftest import World, csrf_of, login
from tests.web.test_auth import actions_of


def test_worklist_shows_sections_with_counts_and_the_seeded_rows(nina: TestClient) -> None:
    html = nina.get("/worklist").text
    for title in (
        "Open triggers",
        "Overdue",
        "Due now",
        "Reminders that failed",
        "Lost to follow-up",
    ):
        assert title in html
    assert "OKAFOR, Ada" in html and "MRN N-100" in html
    assert "LINDQVIST" not in html  # the south clinic's patient
    assert 'id="h-overdue">Overdue <span class="count" data-count="1">' in html
    assert "12 days overdue" in html


def test_the_worklist_does_not_wait_behind_a_writer(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    """The daemon or a long `replan --all` may hold SQLite's write lock for a while; the
    worklist only reads, from a snapshot, so the nurse's page still opens at once."""
    writer = web_engine.connect()
    try:
        writer.exec_driver_sql("UPDATE user_account SET display_name = display_name")  # holds it
        started = time.perf_counter()
        page = nina.get("/worklist")
        waited = time.perf_counter() - started
    finally:
        writer.rollback()
        writer.close()
    assert page.status_code == 200 and "OKAFOR, Ada" in page.text
    assert waited < 5  # a writer's page would wait up to the 30 s busy timeout


def test_worklist_filters_and_bad_filters(nina: TestClient) -> None:
    assert "OKAFOR" not in nina.get("/worklist?q=zzz").text
    assert "OKAFOR" in nina.get("/worklist?q=oka").text
    bad = nina.get("/worklist?site=brain&date=2026-13-01")
    assert bad.status_code == 422 and "brain" in bad.text


def test_patient_page_is_audited_and_explains_the_plan(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    html = nina.get(f"/patients/{world.north_patient}").text
    assert "rule pnet-small-surveillance" in html and "anchor: diagnosis" in html
    assert "Growth rate" in html or "Growth_rate" in html or "growth rate" in html.lower()
    assert 'id="feeds"' in html
    with Session(web_engine) as session:
        views = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "patient.viewed")
        ).all()
    assert [(v.actor, v.patient_id) for v in views] == [("nina", world.north_patient)]


def test_another_clinics_patient_and_items_are_out_of_reach(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    page = nina.get(f"/patients/{world.south_patient}")
    assert page.status_code == 404 and "LINDQVIST" not in page.text
    token = csrf_of(nina, "/worklist")
    act = nina.post(f"/items/{world.due_item}/ordered", data={"csrf_token": token})
    assert act.status_code == 404
    with Session(web_engine) as session:
        assert session.get(m.FollowUpItem, world.due_item).state == "planned"  # type: ignore[union-attr]
    assert actions_of(web_engine, "access.") == [("nina", "access.denied")] * 2


def test_an_action_shows_its_effect_at_once_and_is_audited(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    token = csrf_of(nina, "/worklist")
    response = nina.post(
        f"/items/{world.overdue_item}/ordered",
        data={"csrf_token": token, "next": "/worklist"},
    )
    assert "MRI ordered." in response.text  # followed the redirect back to the worklist
    assert '<span class="badge badge-state">ordered</span>' in response.text
    assert actions_of(web_engine, "item.") == [("nina", "item.ordered")]


def test_a_refused_action_says_why_and_changes_nothing(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    token = csrf_of(nina, "/worklist")
    response = nina.post(
        f"/items/{world.overdue_item}/snooze",
        data={"csrf_token": token, "until": "2199-01-01", "reason": "", "next": "/worklist"},
    )
    assert "Nothing was changed." in response.text
    assert "the most a snooze may last" in response.text and "reason: is required" in response.text
    with Session(web_engine) as session:
        item = session.get(m.FollowUpItem, world.overdue_item)
        assert item is not None and item.snoozed_until is None and item.sequence == 0


def test_csv_export_is_what_the_page_shows_and_is_audited(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    response = nina.get("/worklist.csv?section=overdue")
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert len(lines) == 2 and lines[1].startswith('overdue,"OKAFOR, Ada",N-100,MRI')
    assert actions_of(web_engine, "worklist.") == [("nina", "worklist.exported")]


@pytest.mark.usefixtures("world")
def test_admin_pages_are_for_admins_who_manage_users(
    client: TestClient, web_engine: sa.Engine
) -> None:
    login(client, "nina")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    client.cookies.clear()
    login(client, "ada")
    token = csrf_of(client, "/admin/users")
    added = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "Tom", "role": "clinician", "clinic": "north",
              "password": "a long enough passphrase"},
    )  # fmt: skip
    assert "Added tom (clinician, north)." in added.text
    short = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "tim", "role": "navigator", "clinic": "north",
              "password": "short"},
    )  # fmt: skip
    assert "password: must be at least 12 characters" in short.text
    with Session(web_engine) as session:
        nina_id = session.exec(select(m.User.id).where(m.User.username == "nina")).one()
    client.post(f"/admin/users/{nina_id}/active", data={"csrf_token": token, "active": "no"})
    audit = client.get("/admin/audit?action=user.").text
    assert "user.deactivated" in audit and "user.added" in audit


@pytest.mark.usefixtures("app")
def test_deactivating_a_user_ends_their_session(nina: TestClient, web_engine: sa.Engine) -> None:
    assert nina.get("/worklist", follow_redirects=False).status_code == 200
    with Session(web_engine) as session:
        user = session.exec(select(m.User).where(m.User.username == "nina")).one()
        user.active = False
        session.add(user)
        session.commit()
    assert nina.get("/worklist", follow_redirects=False).status_code == 303


TEMPLATES = sorted(
    str(p.relative_to(resource_dir("templates")))
    for p in (resource_dir("templates") / "web").rglob("*.html")
)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_web_template_compiles_and_pages_extend_base(name: str) -> None:
    env = Environment(loader=FileSystemLoader(resource_dir("templates")), autoescape=True)
    env.get_template(name)
    is_partial = Path(name).name.startswith("_") or name == "web/base.html"
    if not is_partial:
        assert '{% extends "web/base.html" %}' in (resource_dir("templates") / name).read_text()
