"""``GET /feeds/<token>.ics`` through the real app (TestClient), on SQLite and PostgreSQL."""

import datetime as dt
import email.utils
import hashlib
import logging
import re
import statistics
import time
from dataclasses import replace
from pathlib import Path

import httpx
import icalendar
import pytest
import sqlalchemy as sa
import vobject
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import Settings, WebSettings
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.feeds import tokens as feeds
from surveil.services.planning import plans
from surveil.services.records import actions
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.web import feeds as feed_web
from surveil.web.app import create_app
from tests.test_feedtext import diagnosis_words
from tests.web.live_server import surveil_serve
from tests.web.seed import NO_TOTP, SECRET_KEY, TODAY, make_item, make_patient

BASE = "https://follow-up.example.org"
DAY = dt.timedelta(days=1)


def app_settings(settings: Settings, per_minute: int = 30) -> Settings:
    return replace(
        settings,
        security=NO_TOTP,
        web=WebSettings(
            base_url=BASE,
            https_only=True,
            feed_requests_per_minute=per_minute,
            secret_key=SECRET_KEY,
        ),
    )


def client_for(settings: Settings, engine: sa.Engine, host: str = "203.0.113.9") -> TestClient:
    app = create_app(settings, engine=engine)
    return TestClient(app, base_url=BASE, client=(host, 50000))


def issue(engine: sa.Engine, *, with_items: bool = True, mrn: str = "P1") -> tuple[str, str]:
    """A patient with a few items and a feed: (token, public_id)."""
    with session_scope(engine) as session:
        patient = make_patient(session, mrn)
        if with_items:
            make_item(session, patient, earliest=TODAY + DAY, latest=TODAY + 60 * DAY)
            make_item(session, patient, kind="cga", earliest=TODAY, latest=TODAY + 30 * DAY)
            make_item(
                session,
                patient,
                kind="ct",
                state="booked",
                earliest=TODAY,
                latest=TODAY + 30 * DAY,
                booked_at=dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC),
            )
        assert patient.id is not None
        issued = feeds.issue_feed(session, patient_id=patient.id, label="phone", base_url=BASE)
    token = issued.urls.https.rsplit("/", 1)[1].removesuffix(".ics")
    return token, issued.feed.public_id


def revoked_token(engine: sa.Engine) -> str:
    token, public_id = issue(engine, with_items=False, mrn="R1")
    with session_scope(engine) as session:
        feeds.revoke_feed(session, public_id=public_id)
    return token


def test_feed_headers_body_and_validators(settings: Settings, engine: sa.Engine) -> None:
    token, _ = issue(engine)
    client = client_for(app_settings(settings), engine)
    response = client.get(f"/feeds/{token}.ics")
    assert response.status_code == 200
    body = response.content
    headers = response.headers
    assert headers["content-type"] == "text/calendar; charset=utf-8"
    assert headers["etag"] == '"' + hashlib.sha256(body).hexdigest() + '"'
    assert email.utils.parsedate_to_datetime(headers["last-modified"]).tzinfo is not None
    assert headers["cache-control"] == "private, no-cache"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in headers and "content-encoding" not in headers
    assert not any(name.startswith("access-control-") for name in headers)
    assert token not in str(headers) and token.encode() not in body
    cal = icalendar.Calendar.from_ical(body)
    assert len(list(cal.walk("VEVENT"))) == 3 and not any(c.errors for c in cal.walk())

    again = client.get(f"/feeds/{token}.ics")
    assert again.content == body and again.headers["etag"] == headers["etag"]  # byte-identical

    head = client.head(f"/feeds/{token}.ics")
    assert (
        head.status_code == 200 and head.content == b"" and head.headers["etag"] == headers["etag"]
    )


def test_if_none_match_gives_304_with_the_validators(settings: Settings, engine: sa.Engine) -> None:
    token, _ = issue(engine)
    client = client_for(app_settings(settings), engine)
    first = client.get(f"/feeds/{token}.ics")
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = client.get(f"/feeds/{token}.ics", headers={"If-None-Match": header})
        assert cached.status_code == 304 and cached.content == b"", header
        for name in ("etag", "last-modified", "cache-control", "referrer-policy"):
            assert cached.headers[name] == first.headers[name]
    stale = client.get(f"/feeds/{token}.ics", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.content == first.content
    # A date alone never gives a 304 (ICAL.md C3): it cannot see an event that dropped out.
    future = email.utils.format_datetime(dt.datetime(2099, 1, 1, tzinfo=dt.UTC), usegmt=True)
    dated = client.get(f"/feeds/{token}.ics", headers={"If-Modified-Since": future})
    assert dated.status_code == 200


def test_a_change_changes_the_etag(settings: Settings, engine: sa.Engine) -> None:
    token, _ = issue(engine)
    client = client_for(app_settings(settings), engine)
    etag = client.get(f"/feeds/{token}.ics").headers["etag"]
    with session_scope(engine) as session:
        item = session.exec(select(m.FollowUpItem)).first()
        assert item is not None
        item.state, item.sequence = "cancelled", item.sequence + 1
        item.updated_at = dt.datetime.now(dt.UTC)
        session.add(item)
    changed = client.get(f"/feeds/{token}.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert b"STATUS:CANCELLED" in changed.content


def test_unknown_and_revoked_tokens_get_the_same_404(settings: Settings, engine: sa.Engine) -> None:
    token, _ = issue(engine)
    dead = revoked_token(engine)
    client = client_for(app_settings(settings), engine)
    assert client.get(f"/feeds/{token}.ics").status_code == 200
    unknown = client.get(f"/feeds/{'A' * 43}.ics")
    revoked = client.get(f"/feeds/{dead}.ics")
    assert unknown.status_code == revoked.status_code == 404
    assert unknown.content == revoked.content
    assert dict(unknown.headers) == dict(revoked.headers)
    assert "set-cookie" not in revoked.headers and dead not in revoked.text
    # Other shapes of the path fall through to the app's own 404, which never shows the path.
    odd = client.get(f"/feeds/{token}")
    assert odd.status_code == 404 and token not in odd.text


def test_unknown_and_revoked_take_the_same_time(settings: Settings, engine: sa.Engine) -> None:
    """Medians of 200 interleaved requests each, within a factor of 1.5.

    Both take the same code path and the same indexed query (revoked rows are filtered in the
    database), so any difference is noise; the factor is generous because other processes share
    the machine. Rate limiting is off here: 400 misses from one address would be throttled.
    """
    issue(engine)
    dead = revoked_token(engine)
    client = client_for(app_settings(settings, per_minute=0), engine)
    timings: dict[str, list[float]] = {"unknown": [], "revoked": []}
    paths = {"unknown": "/feeds/" + "B" * 43 + ".ics", "revoked": f"/feeds/{dead}.ics"}
    for _ in range(20):  # warm up
        client.get(paths["unknown"])
        client.get(paths["revoked"])
    for _ in range(200):
        for name, path in paths.items():
            started = time.perf_counter()
            assert client.get(path).status_code == 404
            timings[name].append(time.perf_counter() - started)
    unknown, revoked = (statistics.median(timings[k]) for k in ("unknown", "revoked"))
    print(f"median 404: unknown {unknown * 1e3:.2f} ms, revoked {revoked * 1e3:.2f} ms")
    assert max(unknown, revoked) / min(unknown, revoked) < 1.5, (unknown, revoked)


def test_rate_limits(settings: Settings, engine: sa.Engine) -> None:
    token, _ = issue(engine)
    other, _ = issue(engine, mrn="P2")
    client = client_for(app_settings(settings, per_minute=3), engine)
    assert [client.get(f"/feeds/{token}.ics").status_code for _ in range(4)] == [200] * 3 + [429]
    limited = client.get(f"/feeds/{token}.ics")
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert client.get(f"/feeds/{other}.ics").status_code == 200  # per feed

    # Guessing: after 3 misses an address gets 429 for everything, valid token or not, so it
    # cannot go on learning which tokens exist. Another address is unaffected.
    guesser = TestClient(client.app, base_url=BASE, client=("198.51.100.7", 1))
    misses = [guesser.get(f"/feeds/{'C' * 42}{i}.ics").status_code for i in range(4)]
    assert misses == [404, 404, 404, 429]
    assert guesser.get(f"/feeds/{other}.ics").status_code == 429
    assert client.get(f"/feeds/{other}.ics").status_code == 200


def test_the_window_slides(settings: Settings, engine: sa.Engine) -> None:
    token, _ = issue(engine)
    client = client_for(app_settings(settings, per_minute=2), engine)
    clock = [1000.0]
    rt = feed_web.FeedRuntime(
        settings=client.app.state.settings,  # type: ignore[attr-defined]
        engine=engine,
        renderer=feeds.FeedRenderer(client.app.state.settings),  # type: ignore[attr-defined]
        limits=feed_web.FeedLimits.from_settings(client.app.state.settings),  # type: ignore[attr-defined]
        monotonic=lambda: clock[0],
    )
    client.app.state.feed_runtime = rt  # type: ignore[attr-defined]
    assert [client.get(f"/feeds/{token}.ics").status_code for _ in range(3)] == [200, 200, 429]
    clock[0] += 59.0
    assert client.get(f"/feeds/{token}.ics").status_code == 429
    clock[0] += 1.5
    assert client.get(f"/feeds/{token}.ics").status_code == 200


def test_the_apps_lifespan_writes_the_counts_at_shutdown(
    settings: Settings, engine: sa.Engine
) -> None:
    token, public_id = issue(engine)
    with client_for(app_settings(settings), engine) as client:  # runs the lifespan
        assert client.get(f"/feeds/{token}.ics").status_code == 200
    with Session(engine) as session:
        assert feeds.get_feed(session, public_id=public_id).fetch_count == 1


def test_fetches_are_counted_per_token(settings: Settings, engine: sa.Engine) -> None:
    token, public_id = issue(engine)
    client = client_for(app_settings(settings), engine)
    etag = client.get(f"/feeds/{token}.ics").headers["etag"]
    client.get(f"/feeds/{token}.ics", headers={"If-None-Match": etag})
    client.get(f"/feeds/{'D' * 43}.ics")
    with Session(engine) as session:  # counted in memory: nothing written per request
        assert feeds.get_feed(session, public_id=public_id).fetch_count == 0
    client.app.state.feed_runtime.fetches.flush()  # type: ignore[attr-defined]
    with Session(engine) as session:
        row = feeds.get_feed(session, public_id=public_id)
        assert row.fetch_count == 2 and row.last_seen_at is not None
        assert dt.datetime.now(dt.UTC) - row.last_seen_at < dt.timedelta(minutes=1)


# --------------------------------------------------------------------------- privacy

GIVEN = ["Araminta", "Bartholomew", "Cressida", "Dashiell", "Eulalie", "Fitzgerald", "Griselda"]
FAMILY = ["Quennell", "Ravensworth", "Stalbridge", "Tremaine", "Underhill", "Vavasour", "Wyndham"]
SITES = ["pancreas", "small_bowel", "rectum", "appendix", "stomach", "duodenum", "colon", "lung"]
KI67 = ["1", "2", "5", "12", "25", "60"]  # G1, G1, G2, G2, G3, G3 (or NEC when poorly diff.)
STATES = ["active_surveillance", "resected", "advanced", "active_surveillance"]


def demo_registry(engine: sa.Engine, settings: Settings, count: int = 50) -> list[m.Patient]:
    """``count`` patients across sites, grades and states, planned by the real planner; some
    items then booked, some declined, as the navigators would."""
    nav = Actor(username="nina", role="admin", clinic="north")
    with session_scope(engine) as session:
        patients = []
        for i in range(count):
            patients.append(
                registry.enrol_patient(
                    session,
                    clinic="north",
                    data=PatientInput(
                        mrn=f"MRN{4700 + i}",
                        given_name=GIVEN[i % len(GIVEN)],
                        family_name=FAMILY[i % len(FAMILY)] + ("" if i < 7 else f"-{i}"),
                        birth_date="1958-04-30",
                        email=f"patient{i}@example.org",
                        timezone=["Europe/London", "Europe/Paris", "America/New_York"][i % 3],
                    ),
                    tumour=TumourInput(
                        site=SITES[i % len(SITES)],
                        differentiation="poor" if i % 11 == 10 else "well",
                        ki67=KI67[i % len(KI67)],
                        size_mm="14",
                        diagnosed_on="2024-03-31",
                    ),
                    state_kind=STATES[i % len(STATES)],
                    since="2024-03-31",
                    resection="R0" if STATES[i % len(STATES)] == "resected" else None,
                    today=TODAY,
                )
            )
        plans.replan_patients(session, patients=patients, settings=settings, today=TODAY)
        items = session.exec(select(m.FollowUpItem).order_by(m.FollowUpItem.id)).all()
    # The navigators' actions are entry points: each one its own transaction.
    for n, item in enumerate(items):
        if item.state != "planned" or item.id is None:
            continue
        if n % 5 == 0:
            day = max(item.target, TODAY + DAY)
            actions.mark_booked(
                engine,
                item_id=item.id,
                actor=nav,
                date=str(day),
                time="09:30",
                today=TODAY,
                reason_code="no_slot",  # some fall after their window: the reason is asked
            )
        elif n % 7 == 0:
            actions.mark_declined(engine, item_id=item.id, actor=nav, reason="on holiday")
    return patients


def test_no_feed_names_the_diagnosis_the_patient_or_the_record(
    settings: Settings, engine: sa.Engine
) -> None:
    patients = demo_registry(engine, settings)
    client = client_for(app_settings(settings, per_minute=0), engine)
    seen: list[str] = []
    for patient in patients:
        with session_scope(engine) as session:
            assert patient.id is not None
            issued = feeds.issue_feed(session, patient_id=patient.id, base_url=BASE)
        token = issued.urls.https.rsplit("/", 1)[1].removesuffix(".ics")
        response = client.get(f"/feeds/{token}.ics")
        assert response.status_code == 200
        body = response.content
        text = body.replace(b"\r\n ", b"").decode("utf-8")  # unfolded
        assert diagnosis_words(text) == [], patient.mrn
        for secret in (
            patient.given_name, patient.family_name, patient.mrn, patient.email or "", token,
            "1958-04-30", "19580430",
        ):  # fmt: skip
            assert secret not in text, (patient.mrn, secret)
        # Independent readers agree on what is there.
        cal = icalendar.Calendar.from_ical(body)
        cal.validate()  # type: ignore[no-untyped-call]
        assert not any(c.errors for c in cal.walk())
        by_icalendar = sorted((str(e["UID"]), str(e["STATUS"])) for e in cal.events)
        vcal = vobject.readOne(body.decode("utf-8"), validate=True)
        vcal.validate(raiseException=True)
        by_vobject = sorted((e.uid.value, e.status.value) for e in vcal.contents.get("vevent", []))
        assert by_icalendar == by_vobject
        seen += [status for _, status in by_icalendar]
        seen += ["timed"] * len(re.findall(r"^DTSTART:\d{8}T\d{6}Z", text, re.MULTILINE))
    # The check ran on real plans (not empty feeds), with bookings and cancellations in them.
    assert len(seen) > len(patients) and {"CONFIRMED", "CANCELLED", "timed"} <= set(seen)


# --------------------------------------------------------------------------- logs


def test_a_real_server_never_logs_a_token(sqlite_url: str, tmp_path: Path) -> None:
    """``surveil serve`` in a subprocess (real uvicorn, its real access log), then feed
    requests of every outcome; the token must not appear anywhere in what the server printed."""
    engine = make_engine(sqlite_url)
    token, _ = issue(engine)
    dead = revoked_token(engine)
    engine.dispose()
    log_file = tmp_path / "server.log"
    settings = {
        "SURVEIL_DATABASE_URL": sqlite_url,
        "SURVEIL_WEB_BASE_URL": BASE,
        "SURVEIL_WEB_SECRET_KEY": SECRET_KEY,
    }
    with surveil_serve(settings, log_file, cwd=tmp_path) as live:
        base = live.base
        ok = httpx.get(f"{base}/feeds/{token}.ics")
        assert ok.status_code == 200
        etag = ok.headers["etag"]
        statuses = [
            httpx.get(f"{base}/feeds/{token}.ics", headers={"If-None-Match": etag}).status_code,
            httpx.head(f"{base}/feeds/{token}.ics").status_code,
            httpx.get(f"{base}/feeds/{dead}.ics").status_code,
            httpx.get(f"{base}/feeds/{token}.ics?x=1").status_code,
            httpx.get(f"{base}/feeds/{token}").status_code,
            httpx.post(f"{base}/feeds/{token}.ics").status_code,
        ]
        assert statuses[:4] == [304, 200, 404, 200]
    printed = log_file.read_text()
    assert printed.count('"GET /feeds/<redacted>.ics') >= 4, printed  # the access log ran
    for secret in (token, dead, token[:12], dead[:12]):
        assert secret not in printed


def test_a_failure_is_a_plain_500_that_names_no_token(
    settings: Settings, engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that cannot answer (here: one with no tables). The app's own error pages
    would log and show the request path, so the feed route answers for itself."""
    token, _ = issue(engine)
    client = client_for(app_settings(settings), engine)
    broken = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    state = client.app.state  # type: ignore[attr-defined]
    state.feed_runtime = feed_web.FeedRuntime(
        settings=state.settings,
        engine=broken,
        renderer=feeds.FeedRenderer(state.settings),
        limits=feed_web.FeedLimits.from_settings(state.settings),
    )
    with caplog.at_level("DEBUG"):
        failed = client.get(f"/feeds/{token}.ics")
    broken.dispose()
    assert failed.status_code == 500 and token not in failed.text
    assert failed.headers["cache-control"] == "no-store" and "set-cookie" not in failed.headers
    server_side = "\n".join(  # the httpx logger is the test client's, not the server's
        logging.Formatter().format(r) for r in caplog.records if r.name != "httpx"
    )
    assert "calendar feed request failed" in server_side and token not in server_side
