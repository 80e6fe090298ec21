"""API tokens through their entry points, on SQLite and PostgreSQL: issued once and stored
hashed, listed with last use, revoked, expired, refused for a deactivated user, rate limited in
the database, and every refusal audited (channel api)."""

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import InvalidInput, NotFound, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.users import api_tokens
from surveil.services.users.api_tokens import RateLimited, TokenRefused
from tests.web.seed import make_user

COVERED = frozenset(
    f"surveil.services.users.api_tokens.{name}"
    for name in ("issue_api_token", "revoke_api_token", "authenticate_api_token")
)

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
ADA = Actor(username="ada", role="admin", clinic="north", channel=Channel.CLI, os_user="ops")
NINA = Actor(username="nina", role="navigator", clinic="north", channel=Channel.CLI)
SAM = Actor(username="sam", role="navigator", clinic="south", channel=Channel.CLI)


@pytest.fixture(autouse=True)
def people(engine: sa.Engine) -> None:
    with Session(engine) as session:
        for name, role, clinic in (("ada", "admin", "north"), ("nina", "navigator", "north"),
                                   ("sam", "navigator", "south")):  # fmt: skip
            make_user(session, name, role=role, clinic=clinic)
        session.commit()


def _audit(engine: sa.Engine) -> list[tuple[str, str, str, str | None, str]]:
    with Session(engine) as session:
        rows = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id)).all()  # type: ignore[arg-type]
        return [
            (r.action, r.actor, r.channel, r.subject, r.detail)
            for r in rows
            if r.action.startswith("api_token.")  # the seeded accounts' rows left out
        ]


def _issue(engine: sa.Engine, **overrides: object) -> api_tokens.IssuedToken:
    fields: dict[str, object] = {"actor": ADA, "username": "nina", "scope": "write", "now": NOW}
    fields.update(overrides)
    return api_tokens.issue_api_token(engine, **fields)  # type: ignore[arg-type]


def test_a_token_is_shown_once_stored_hashed_and_audited(engine: sa.Engine) -> None:
    issued = _issue(engine, label="EHR bridge")
    assert issued.token.startswith("sv_") and len(issued.token) > 40
    with Session(engine) as session:
        row = session.exec(select(m.ApiToken)).one()
    assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in repr(row.model_dump())
    assert row.expires_at == NOW + dt.timedelta(days=90)
    public = issued.summary.public_id
    assert _audit(engine) == [
        ("api_token.issued", "ada", "cli", f"api_token:{public}",
         f"API token {public} for nina (write)"),
    ]  # fmt: skip
    holder = api_tokens.authenticate_api_token(engine, token=issued.token, ip="10.1.1.1", now=NOW)
    assert holder.actor.username == "nina" and holder.actor.clinic == "north"
    assert holder.actor.channel == Channel.API and holder.may_write
    assert len(_audit(engine)) == 1  # an accepted token leaves no audit row, only its last use
    (listed,) = api_tokens.list_api_tokens(engine, actor=ADA)
    assert listed.last_used_at == NOW and listed.label == "EHR bridge"


def test_every_problem_is_named_at_once_and_nothing_is_written(engine: sa.Engine) -> None:
    with pytest.raises(InvalidInput) as raised:
        _issue(engine, username="", scope="admin", expires_days=0, label="x" * 65)
    assert {p.field for p in raised.value.problems} == {"user", "scope", "expires", "label"}
    with pytest.raises(InvalidInput, match="no active user"):
        _issue(engine, username="nobody")
    with pytest.raises(PermissionDenied):
        _issue(engine, actor=NINA, username="sam")
    assert _audit(engine) == []
    with Session(engine) as session:
        assert session.exec(select(m.ApiToken)).all() == []


def test_revoked_expired_unknown_and_deactivated_are_refused_and_audited(engine: sa.Engine) -> None:
    revoked = _issue(engine)
    expiring = _issue(engine, expires_days=1, scope="read")
    own = _issue(engine, actor=SAM, username="sam")
    with pytest.raises(NotFound):  # nina cannot revoke, or even see, sam's token
        api_tokens.revoke_api_token(engine, actor=NINA, public_id=own.summary.public_id, now=NOW)
    summary = api_tokens.revoke_api_token(
        engine, actor=NINA, public_id=revoked.summary.public_id, now=NOW
    )
    assert summary.revoked_at == NOW
    api_tokens.revoke_api_token(engine, actor=ADA, public_id=revoked.summary.public_id, now=NOW)
    later = NOW + dt.timedelta(days=2)
    for token, when, why in (
        (revoked.token, NOW, "revoked token"),
        (expiring.token, later, "expired token"),
        ("sv_" + "x" * 43, NOW, "unknown token"),
        ("Basic abc", NOW, "unknown token"),
    ):
        with pytest.raises(TokenRefused):
            api_tokens.authenticate_api_token(engine, token=token, ip="10.9.9.9", now=when)
        assert _audit(engine)[-1][0::4] == ("api_token.refused", why)
    with Session(engine) as session:
        sam = session.exec(select(m.User).where(m.User.username == "sam")).one()
        sam.active = False
        session.add(sam)
        session.commit()
    with pytest.raises(TokenRefused):
        api_tokens.authenticate_api_token(engine, token=own.token, ip="10.9.9.9", now=NOW)
    actions = [row[0] for row in _audit(engine)]
    assert actions.count("api_token.revoked") == 1  # revoking twice records it once
    assert _audit(engine)[-1][:3] == ("api_token.refused", "sam", "api")
    assert [t.public_id for t in api_tokens.list_api_tokens(engine, actor=NINA)] == [
        expiring.summary.public_id,
        revoked.summary.public_id,
    ]


def test_the_rate_limit_is_counted_in_the_database(engine: sa.Engine) -> None:
    issued = _issue(engine)
    for second in range(3):
        at = NOW + dt.timedelta(seconds=second)
        api_tokens.authenticate_api_token(
            engine, token=issued.token, ip="", now=at, requests_per_minute=3
        )
    with pytest.raises(RateLimited) as limited:
        api_tokens.authenticate_api_token(
            engine, token=issued.token, ip="", now=NOW + dt.timedelta(seconds=30),
            requests_per_minute=3,
        )  # fmt: skip
    assert 1 <= limited.value.retry_after <= 31
    api_tokens.authenticate_api_token(
        engine, token=issued.token, ip="", now=NOW + dt.timedelta(seconds=61),
        requests_per_minute=3,
    )  # fmt: skip
