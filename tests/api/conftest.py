"""API fixtures on SQLite and PostgreSQL: two clinics, their records, and bearer tokens of every
kind (write, read-only, another clinic's, revoked, expired)."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.users import api_tokens
from surveil.web.app import create_app
from surveil.web.deps import clinic_today
from tests.web.seed import SECRET_KEY, make_item, make_patient, make_trigger, make_user

ADA = Actor(username="ada", role="admin", clinic="north")


@dataclass(frozen=True)
class ApiWorld:
    today: dt.date
    items: dict[str, int]  # north items by purpose, and "south"
    trigger: int  # north's open trigger
    south_trigger: int
    tokens: dict[str, str]  # write, read, south, revoked, expired


@pytest.fixture
def api_settings(db_url: str) -> Settings:
    return Settings(database=DatabaseSettings(url=db_url), web=WebSettings(secret_key=SECRET_KEY))


@pytest.fixture
def api_world(engine: sa.Engine, api_settings: Settings) -> ApiWorld:
    today = clinic_today(api_settings)
    day = dt.timedelta(days=1)
    items: dict[str, int] = {}
    with Session(engine, expire_on_commit=False) as session:
        make_user(session, "ada", role="admin", clinic="north")
        make_user(session, "nina", role="navigator", clinic="north")
        make_user(session, "dora", role="clinician", clinic="north")
        make_user(session, "sam", role="navigator", clinic="south")
        north = make_patient(session, "N-100", clinic="north", navigator="nina")
        south = make_patient(
            session, "S-200", clinic="south", family="Lindqvist", given="Bo", navigator="sam"
        )
        for purpose in ("ordered", "booked", "done", "declined", "not_needed", "snooze"):
            item = make_item(session, north, earliest=today - 30 * day, latest=today + 30 * day)
            items[purpose] = item.id  # type: ignore[assignment]
        items["south"] = make_item(
            session, south, earliest=today - 5 * day, latest=today + 20 * day
        ).id  # type: ignore[assignment]
        trigger = make_trigger(session, north, detected_on=today - 2 * day)
        south_trigger = make_trigger(session, south, detected_on=today - 2 * day)
        session.commit()
        ids = (trigger.id, south_trigger.id)
    now = dt.datetime.now(dt.UTC)

    def issue(user: str, scope: str, when: dt.datetime = now, days: int = 30) -> str:
        issued = api_tokens.issue_api_token(
            engine, actor=ADA, username=user, scope=scope, now=when, expires_days=days
        )
        return issued.token

    tokens = {
        "write": issue("nina", "write"),
        "clinician": issue("dora", "write"),  # clinical decisions are a clinician's
        "read": issue("nina", "read"),
        "south": issue("sam", "write"),
        "revoked": issue("nina", "write"),
        "expired": issue("nina", "write", now - 3 * day, 1),
    }
    with Session(engine) as session:
        revoked = session.exec(
            select(m.ApiToken).where(
                m.ApiToken.token_hash == api_tokens.hash_token(tokens["revoked"])
            )
        ).one()
    api_tokens.revoke_api_token(engine, actor=ADA, public_id=revoked.public_id, now=now)
    assert all(ids)
    return ApiWorld(today, items, ids[0], ids[1], tokens)  # type: ignore[arg-type]


@pytest.fixture
def api(api_settings: Settings, engine: sa.Engine) -> Iterator[TestClient]:
    app = create_app(api_settings, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_rows(engine: sa.Engine) -> list[tuple[str, str, str, int | None]]:
    """(action, actor, channel, patient) of every audit event, oldest first."""
    with Session(engine) as session:
        rows: Any = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id))  # type: ignore[arg-type]
        return [(r.action, r.actor, r.channel, r.patient_id) for r in rows]
