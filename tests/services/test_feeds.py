"""Feed tokens and feed bodies on a real registry (SQLite and PostgreSQL)."""

import base64
import datetime as dt
from pathlib import Path

import icalendar
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings, WebSettings
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.feeds import tokens as feeds
from surveil.services.feeds.body import FeedRenderer, feed_items
from surveil.services.registry import patients as registry
from tests.web.seed import TODAY, make_item, make_patient

NAV = Actor(username="nina", role="navigator", clinic="north", ip="10.0.0.7")
BASE = "https://follow-up.example.org/surveil"
DAY = dt.timedelta(days=1)


def token_of(issued: feeds.IssuedFeed) -> str:
    return issued.urls.https.rsplit("/", 1)[1].removesuffix(".ics")


def issue(session: Session, patient: m.Patient, label: str = "") -> tuple[str, feeds.IssuedFeed]:
    assert patient.id is not None
    issued = feeds.issue_feed(session, patient_id=patient.id, label=label, actor=NAV, base_url=BASE)
    return token_of(issued), issued


def test_token_has_256_bits_and_only_its_hash_is_stored(session: Session, db_url: str) -> None:
    patient = make_patient(session, "P1")
    token, issued = issue(session, patient, "Ada's phone")
    session.commit()
    assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 random bits
    row = session.exec(select(m.FeedToken)).one()
    assert row.token_hash == feeds.hash_token(token) and len(row.token_hash) == 64
    assert issued.urls.https == f"{BASE}/feeds/{token}.ics"
    assert issued.urls.webcal == f"webcal://follow-up.example.org/surveil/feeds/{token}.ics"
    # Nowhere in the database: every text column of every table, and the SQLite file itself.
    with session.connection() as connection:
        for table in m.SQLModel.metadata.sorted_tables:
            for record in connection.execute(sa.select(table)):
                assert token not in repr(tuple(record)), table.name
    if db_url.startswith("sqlite"):
        session.close()
        raw = b"".join(p.read_bytes() for p in Path(db_url[10:]).parent.glob("surveil.db*"))
        assert raw and token.encode() not in raw
    assert token not in repr(issued.feed)


def test_several_feeds_per_patient_listed_without_tokens(session: Session) -> None:
    patient = make_patient(session, "P1")
    other = make_patient(session, "P2")
    tokens = [issue(session, patient, label)[0] for label in ("iPhone", "Google", "")]
    issue(session, other, "not hers")
    listed = feeds.list_feeds(session, patient_id=patient.id or 0)
    assert sorted(f.label for f in listed) == ["", "Google", "iPhone"]
    assert all(f.active and f.fetch_count == 0 and f.created_by == "nina" for f in listed)
    assert all(t not in repr(listed) for t in tokens)
    assert len({feeds.hash_token(t) for t in tokens}) == 3


def test_lookup_revoke_and_rotate(session: Session) -> None:
    patient = make_patient(session, "P1")
    token, issued = issue(session, patient, "iPad")
    assert (found := feeds.lookup(session, token)) is not None
    assert found.public_id == issued.feed.public_id
    assert feeds.lookup(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert feeds.lookup(session, "") is None

    new = feeds.rotate_feed(
        session,
        public_id=issued.feed.public_id,
        actor=NAV,
        base_url=BASE,
        now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    new_token = token_of(new)
    assert feeds.lookup(session, token) is None  # the old URL is dead at once
    assert (row := feeds.lookup(session, new_token)) is not None and row.label == "iPad"
    with pytest.raises(Conflict):
        feeds.rotate_feed(session, public_id=issued.feed.public_id, actor=NAV, base_url=BASE)

    other = make_patient(session, "P2")
    with pytest.raises(NotFound):  # a form on P2's page cannot revoke P1's feed
        feeds.revoke_feed(session, public_id=new.feed.public_id, patient_id=other.id, actor=NAV)
    first = feeds.revoke_feed(
        session, public_id=new.feed.public_id, patient_id=patient.id, actor=NAV
    )
    again = feeds.revoke_feed(session, public_id=new.feed.public_id, actor=NAV)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at
    assert feeds.lookup(session, new_token) is None
    with pytest.raises(NotFound):
        feeds.revoke_feed(session, public_id="nope", actor=NAV)

    trail = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id)).all()
    actions = [a.action for a in trail if a.action.startswith("feed.")]
    assert actions == ["feed.issued", "feed.issued", "feed.rotated", "feed.revoked"]
    assert all(
        a.patient_id == patient.id and a.ip == "10.0.0.7"
        for a in trail
        if a.action.startswith("feed.")
    )
    assert not any(t in a.detail for a in trail for t in (token, new_token))


def test_bad_label_and_unknown_patient_change_nothing(session: Session) -> None:
    with pytest.raises(InvalidInput, match="label"):
        feeds.issue_feed(session, patient_id=1, label="x" * 65, base_url=BASE)
    with pytest.raises(NotFound):
        feeds.issue_feed(session, patient_id=999, label="ok", base_url=BASE)
    assert session.exec(select(m.FeedToken)).all() == []


def test_open_feed_gives_the_endpoint_the_feed_and_its_items_in_one_query(
    session: Session,
) -> None:
    patient = make_patient(session, "P1", timezone="America/New_York")
    empty = make_patient(session, "P2")
    make_item(session, patient, earliest=TODAY, latest=TODAY + 30 * DAY)
    old = make_item(session, patient, kind="cga", state="done", earliest=TODAY - 400 * DAY,
                    latest=TODAY - 370 * DAY)  # fmt: skip
    old.updated_at = dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC)  # closed a year before TODAY
    session.add(old)
    token, issued = issue(session, patient)
    empty_token, _ = issue(session, empty)
    session.commit()

    def open_(token: str) -> feeds.OpenFeed | None:
        return feeds.open_feed(session.connection(), feeds.hash_token(token), today=TODAY,
                               retention=30 * DAY)  # fmt: skip

    opened = open_(token)
    assert opened is not None and opened.public_id == issued.feed.public_id
    assert (opened.patient_id, opened.timezone) == (patient.id, "America/New_York")
    assert opened.created_at.tzinfo is not None
    assert [item.kind for item in opened.items] == ["mri"]  # done a year ago: not shown
    assert list(opened.items) == feed_items(session, patient_id=patient.id, today=TODAY,  # type: ignore[arg-type]
                                            retention=30 * DAY)  # fmt: skip
    nothing = open_(empty_token)  # a feed with nothing to show still opens
    assert nothing is not None and nothing.items == () and nothing.patient_id == empty.id
    feeds.revoke_feed(session, public_id=issued.feed.public_id, actor=NAV)
    session.commit()
    assert open_(token) is None
    assert open_("D" * 43) is None


# --------------------------------------------------------------------------- the body


def _settings(settings: Settings) -> Settings:
    return Settings(database=settings.database, web=WebSettings(base_url=BASE))


def _events(body: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    assert not any(c.errors for c in cal.walk())
    return {str(ev["UID"]): ev for ev in cal.walk("VEVENT")}


def test_every_registry_state_maps_onto_the_feed(session: Session, settings: Settings) -> None:
    patient = make_patient(session, "P1", timezone="America/New_York")
    window = {"earliest": TODAY + 10 * DAY, "latest": TODAY + 40 * DAY}
    at = dt.datetime(2026, 7, 1, 13, 30, tzinfo=dt.UTC)
    states = {
        "planned": make_item(session, patient, **window),
        "ordered": make_item(session, patient, kind="cga", state="ordered", **window),
        "booked": make_item(session, patient, kind="ct", state="booked", booked_at=at, **window),
        "booked-no-time": make_item(session, patient, kind="ct", state="booked", **window),
        "done": make_item(session, patient, state="done", **window),
        "declined": make_item(session, patient, state="declined", **window),
        "not_needed": make_item(session, patient, state="not_needed", **window),
        "cancelled": make_item(session, patient, state="cancelled", **window),
        "superseded": make_item(session, patient, state="superseded", **window),
    }
    token, _ = issue(session, patient)
    row = feeds.lookup(session, token)
    assert row is not None
    body = feeds.build_patient_feed(session, row, _settings(settings), TODAY)
    events = _events(body)
    by_state = {
        name: events[f"fu-{item.id}@follow-up.example.org"] for name, item in states.items()
    }
    status = {name: str(ev["STATUS"]) for name, ev in by_state.items()}
    assert status == {
        "planned": "CONFIRMED", "ordered": "CONFIRMED", "booked": "CONFIRMED",
        "booked-no-time": "CONFIRMED", "done": "CANCELLED", "declined": "CANCELLED",
        "not_needed": "CANCELLED", "cancelled": "CANCELLED", "superseded": "CANCELLED",
    }  # fmt: skip
    summaries = {name: str(ev["SUMMARY"]) for name, ev in by_state.items()}
    assert summaries["planned"] == "Follow-up scan due"
    assert summaries["ordered"] == "Blood test due"
    assert summaries["done"].startswith("Done: ")
    assert summaries["declined"].startswith("Cancelled: ")
    assert summaries["superseded"].startswith("Changed: ")
    booked = by_state["booked"]
    assert booked.start == at and b"DTSTART:20260701T133000Z" in body
    assert "09:30 (America/New_York time)" in str(booked["DESCRIPTION"])  # the patient's zone
    assert by_state["booked-no-time"].start == states["booked-no-time"].target  # a due marker
    assert feeds.build_patient_feed(session, row, _settings(settings), TODAY) == body
    assert token.encode() not in body and b"Okafor" not in body and b"P1" not in body


def test_closed_items_leave_after_retention(session: Session, settings: Settings) -> None:
    patient = make_patient(session, "P1")
    old = make_item(
        session, patient, state="cancelled", earliest=TODAY - 90 * DAY, latest=TODAY - 60 * DAY
    )
    old.updated_at = dt.datetime.combine(TODAY - 45 * DAY, dt.time(9), tzinfo=dt.UTC)
    recent = make_item(
        session, patient, state="cancelled", earliest=TODAY - 90 * DAY, latest=TODAY - 60 * DAY
    )  # updated now: cancelled today, so it stays 30 days from today
    overdue = make_item(session, patient, earliest=TODAY - 90 * DAY, latest=TODAY - 60 * DAY)
    session.add(old)
    token, _ = issue(session, patient)
    session.commit()
    row = feeds.lookup(session, token)
    assert row is not None
    uids = set(_events(feeds.build_patient_feed(session, row, _settings(settings), TODAY)))
    host = "follow-up.example.org"
    assert uids == {f"fu-{recent.id}@{host}", f"fu-{overdue.id}@{host}"}


def test_empty_feed_is_still_a_valid_calendar(session: Session, settings: Settings) -> None:
    patient = make_patient(session, "P1")
    token, _ = issue(session, patient)
    row = feeds.lookup(session, token)
    assert row is not None
    body = feeds.build_patient_feed(session, row, _settings(settings), TODAY)
    cal = icalendar.Calendar.from_ical(body)
    cal.validate()
    assert _events(body) == {} and b"X-WR-CALNAME:Hospital follow-up" in body


def test_renderer_reuses_a_body_only_while_the_data_is_unchanged(
    session: Session, settings: Settings
) -> None:
    patient = make_patient(session, "P1")
    item = make_item(session, patient, earliest=TODAY + DAY, latest=TODAY + 30 * DAY)
    token, _ = issue(session, patient)
    row = feeds.lookup(session, token)
    assert row is not None
    renderer = FeedRenderer(_settings(settings))
    first = renderer.render(session, row, today=TODAY)
    assert renderer.render(session, row, today=TODAY) is first  # no re-rendering
    item.target += DAY
    item.sequence += 1
    item.updated_at = row.created_at + dt.timedelta(hours=1)  # later than the feed itself
    session.add(item)
    session.flush()
    second = renderer.render(session, row, today=TODAY)
    assert second.etag != first.etag and second.last_modified == item.updated_at
    assert second.body == feeds.build_patient_feed(session, row, _settings(settings), TODAY)


# --------------------------------------------------------------------------- retirement


def test_feeds_are_retired_once_their_patient_has_gone_for_the_retention_period(
    session: Session,
) -> None:
    retention = 30 * DAY
    died_long_ago, died_lately, discharged, back, followed = (
        make_patient(session, mrn) for mrn in ("P1", "P2", "P3", "P4", "P5")
    )
    died_long_ago.deceased_on = TODAY - 31 * DAY
    died_lately.deceased_on = TODAY - 30 * DAY  # apps are still picking up the cancellations
    session.add_all([died_long_ago, died_lately])
    late_news = make_patient(session, "P6")  # died long ago, but recorded only last week
    late_news.deceased_on = TODAY - 90 * DAY
    session.add(late_news)
    cancelled = make_item(session, late_news, state="cancelled", earliest=TODAY - 50 * DAY,
                          latest=TODAY - 20 * DAY)  # fmt: skip
    cancelled.updated_at = dt.datetime.combine(TODAY - 7 * DAY, dt.time(9), tzinfo=dt.UTC)
    session.add(cancelled)
    for patient, since in ((discharged, 31), (back, 60)):
        registry.set_state(session, patient=patient, kind="discharged",
                           since=(TODAY - since * DAY).isoformat(), today=TODAY)  # fmt: skip
    registry.set_state(session, patient=back, kind="active_surveillance",  # re-referred
                       since=(TODAY - 10 * DAY).isoformat(), today=TODAY)  # fmt: skip
    everyone = (died_long_ago, died_lately, discharged, back, followed, late_news)
    tokens = {p.mrn: issue(session, p, "phone")[0] for p in everyone}
    second, _ = issue(session, died_long_ago, "tablet")
    already = issue(session, discharged, "old")[1].feed.public_id
    feeds.revoke_feed(session, public_id=already, actor=NAV)
    session.commit()

    retired = feeds.retire_feeds(session, today=TODAY, retention=retention)
    session.commit()
    assert sorted((r.patient_id, r.label) for r in retired) == sorted(
        [(died_long_ago.id, "phone"), (died_long_ago.id, "tablet"), (discharged.id, "phone")]
    )
    assert all(not r.active for r in retired)
    for mrn, token in tokens.items():
        assert (feeds.lookup(session, token) is None) == (mrn in ("P1", "P3")), mrn
    assert feeds.lookup(session, second) is None
    trail = session.exec(select(m.AuditEvent).where(m.AuditEvent.action == "feed.retired")).all()
    assert len(trail) == 3 and {t.actor for t in trail} == {"system"}
    assert any("died" in t.detail for t in trail) and any("discharged" in t.detail for t in trail)
    assert all(token not in t.detail for t in trail for token in tokens.values())
    # Nothing left to do: a second run changes nothing (the daemon runs it every plan round).
    assert feeds.retire_feeds(session, today=TODAY, retention=retention) == []


def test_the_daemons_job_uses_the_clinics_date_and_retention(
    session: Session, settings: Settings
) -> None:
    patient = make_patient(session, "P1")
    patient.deceased_on = dt.date(2026, 5, 1)
    session.add(patient)
    token, _ = issue(session, patient)
    session.commit()
    noon = dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC)  # 30 days on: not yet (retention 30)
    assert feeds.retire_due_feeds(session, settings, noon) == 0
    assert feeds.retire_due_feeds(session, settings, noon + DAY) == 1
    session.commit()
    assert feeds.lookup(session, token) is None
