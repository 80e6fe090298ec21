"""The unmatched queue (service and CLI) and the one-way-in cases of the HL7 entry points:
each leaves its audit rows on the hl7 or cli channel; a refused change leaves nothing."""

import datetime as dt
import getpass

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.hl7.sender import ack_code, messages_in
from surveil.services.actor import Actor
from surveil.services.hl7 import queue, refresh, store
from tests.cli.acting import CLINIC, add_account, fresh_invoke
from tests.daemon.seed import add_item
from tests.hl7.conftest import SAMPLES, World, hl7_settings
from tests.hl7.processes import listener_process

COVERED: frozenset[str] = frozenset(
    f"surveil.services.hl7.{name}"
    for name in (
        "store.receive",
        "store.apply_message",
        "store.receive_and_apply",
        "refresh.refresh_due",
        "store.purge_raw",
        "queue.list_queue",
        "queue.dismiss",
        "queue.apply_queued",
    )
)
SHELL_COVERED: frozenset[str] = frozenset(
    {"hl7 listen", "hl7 send", "hl7 queue", "hl7 apply", "hl7 dismiss"}
)
NOT_AUDITED: dict[str, str] = {}

FEED = Actor.system(Channel.HL7, clinic=CLINIC)
NINA = Actor(username="nina", role="navigator", clinic=CLINIC, channel=Channel.CLI, os_user="o")
TODAY = dt.datetime.now(dt.UTC).date()


def _audit(engine: sa.Engine, since: int = 0) -> list[tuple[str, str, str, int | None]]:
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.id > since).order_by(m.AuditEvent.id)
        return [(e.action, e.actor, e.channel, e.patient_id) for e in session.exec(query)]


def _last(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(m.AuditEvent.id))).scalar() or 0


def _dump(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    tables = ("hl7_message", "markerresult", "followup_item", "patient", "audit_event")
    with engine.connect() as connection:
        return {
            t: sorted(map(tuple, connection.execute(sa.text(f"SELECT * FROM {t}"))), key=str)
            for t in tables
        }


def _store(engine: sa.Engine, db_url: str, name: str) -> store.Receipt:
    receipt = store.receive(engine, actor=FEED, raw=messages_in(SAMPLES / name)[0])
    return store.apply_message(
        engine,
        actor=FEED,
        message_id=receipt.message_id,
        settings=hl7_settings(db_url),
        today=TODAY,
    )


@pytest.mark.usefixtures("world")
def test_the_feed_entry_points_leave_their_audit_rows(engine: sa.Engine, db_url: str) -> None:
    receipt = _store(engine, db_url, "oru_cga.hl7")
    assert receipt.state == "applied" and receipt.ack_code == "AA"
    actions = [a for a, *_ in _audit(engine)]
    assert actions[0] == "hl7.received" and actions[-1] == "hl7.applied"
    assert {"marker.recorded", "item.done"} <= set(actions)
    assert {(c, who) for _, who, c, _ in _audit(engine)} == {("hl7", "system")}
    with Session(engine) as session:
        session.execute(
            sa.update(Hl7Message).values(received_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
        session.commit()
    since = _last(engine)
    cleared = store.purge_raw(engine, actor=FEED, days=90, now=dt.datetime.now(dt.UTC))
    assert cleared == 1
    assert _audit(engine, since) == [("hl7.purged", "system", "hl7", None)]
    with Session(engine) as session:
        row = session.exec(select(Hl7Message)).one()
        assert row.raw is None and row.sha256 and row.state == "applied"


@pytest.mark.usefixtures("world")
def test_the_listeners_one_transaction_and_its_coalesced_refresh_leave_their_audit_rows(
    engine: sa.Engine, db_url: str
) -> None:
    settings = hl7_settings(db_url)
    raw = messages_in(SAMPLES / "oru_cga.hl7")[0]
    receipt = store.receive_and_apply(
        engine, actor=FEED, raw=raw, settings=settings, today=TODAY, defer_refresh=True
    )
    assert (receipt.state, receipt.ack_code, receipt.duplicate) == ("applied", "AA", False)
    assert [a for a, *_ in _audit(engine)] == ["marker.recorded", "item.done", "hl7.applied"]
    since = _last(engine)
    again = store.receive_and_apply(
        engine, actor=FEED, raw=raw, settings=settings, today=TODAY, defer_refresh=True
    )
    assert (again.state, again.duplicate, again.message_id) == ("applied", True, receipt.message_id)
    assert _audit(engine, since) == []  # a resend writes nothing
    unknown = store.receive_and_apply(
        engine,
        actor=FEED,
        raw=messages_in(SAMPLES / "oru_unknown_patient.hl7")[0],
        settings=settings,
        today=TODAY,
    )
    assert (unknown.state, unknown.ack_code) == ("queued", "AE")
    assert _audit(engine, since) == [("hl7.queued", "system", "hl7", None)]
    since = _last(engine)
    assert refresh.refresh_due(engine, actor=FEED, settings=settings, today=TODAY) == 1
    assert _audit(engine, since) == [("hl7.refreshed", "system", "hl7", None)]
    assert refresh.refresh_due(engine, actor=FEED, settings=settings, today=TODAY) == 0
    with Session(engine) as session:
        assert [r.refresh_due for r in session.exec(select(Hl7Message))] == [False, False]


def test_a_queued_message_is_listed_in_words_then_applied_to_the_chosen_patient(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    queued = _store(engine, db_url, "oru_unknown_patient.hl7")
    assert queued.state == "queued" and "no patient with MRN 999999" in queued.reason
    [entry] = queue.list_queue(engine, actor=NINA)
    assert entry.meaning == (
        "lab result (ORU^R01) for Nora NOBODY, MRN 9434765919: Chromogranin A 99 ug/L"
    )
    since = _last(engine)
    words = queue.apply_queued(
        engine,
        actor=NINA,
        message_id=entry.id,
        patient_id=world.ann,
        settings=hl7_settings(db_url),
        today=TODAY,
    )
    assert "cga 99 ug/L on 2026-11-20" in words
    rows = _audit(engine, since)
    assert rows[-1] == ("hl7.applied", "nina", "cli", world.ann)
    assert ("marker.recorded", "nina", "cli", world.ann) in rows
    assert queue.list_queue(engine, actor=NINA) == []
    before = _dump(engine)
    with pytest.raises(Conflict):
        queue.apply_queued(
            engine,
            actor=NINA,
            message_id=entry.id,
            patient_id=None,
            settings=hl7_settings(db_url),
            today=TODAY,
        )
    with pytest.raises(Conflict):
        queue.dismiss(engine, actor=NINA, message_id=entry.id, reason="done twice")
    assert _dump(engine) == before


def test_refused_apply_and_dismissal_write_nothing_then_a_dismissal_keeps_the_message(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    entry = _store(engine, db_url, "oru_unknown_code.hl7")
    before = _dump(engine)
    with pytest.raises(InvalidInput, match="2951-2"):  # still not a marker surveil knows
        queue.apply_queued(
            engine,
            actor=NINA,
            message_id=entry.message_id,
            patient_id=None,
            settings=hl7_settings(db_url),
            today=TODAY,
        )
    with pytest.raises(InvalidInput, match="reason"):
        queue.dismiss(engine, actor=NINA, message_id=entry.message_id, reason=" ")
    assert _dump(engine) == before
    since = _last(engine)
    queue.dismiss(engine, actor=NINA, message_id=entry.message_id, reason="sodium, not ours")
    assert _audit(engine, since) == [("hl7.dismissed", "nina", "cli", world.ann)]
    with Session(engine) as session:
        row = session.get(Hl7Message, entry.message_id)
        assert row and row.state == "dismissed" and row.resolved_by == "nina"
        assert row.reason.startswith("sodium, not ours (was: OBX-3 code 2951-2")


def test_the_cli_listens_sends_lists_applies_and_dismisses(
    engine: sa.Engine, db_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke = fresh_invoke(db_url, monkeypatch)
    for key, value in (("IDENTIFIER_AUTHORITY", "HOSP"), ("APPOINTMENT_TYPES", "MRI=mri")):
        monkeypatch.setenv(f"SURVEIL_HL7_{key}", value)
    add_account(engine, "nina", role="navigator", clinic=CLINIC)
    with listener_process(db_url) as (_, port):  # `surveil hl7 listen` itself
        sent = invoke(
            "hl7",
            "send",
            str(SAMPLES / "siu_s12_booked.hl7"),
            str(SAMPLES / "adt_a28_unknown.hl7"),
            str(SAMPLES / "oru_unknown_code.hl7"),
            "--port",
            str(port),
        )
    assert sent.exit_code == 0, sent.output
    lines = sent.output.splitlines()
    assert [line.split(": ")[1][:2] for line in lines] == ["AA", "AE", "AE"], lines
    with Session(engine) as session:
        item = session.get(m.FollowUpItem, world.mri_item)
        assert item and item.state == "booked" and item.booked_at
        assert item.booked_at.astimezone(dt.UTC) == dt.datetime(2027, 1, 10, 14, 30, tzinfo=dt.UTC)
        ids = [r.id for r in session.exec(select(Hl7Message).order_by(Hl7Message.id))]
    listed = invoke("--as", "nina", "hl7", "queue")
    assert (
        "patient details (ADT^A28) for Neil NEWMAN, MRN 555555" in listed.output
    )  # the HOSP identifier
    since = _last(engine)
    applied = invoke("--as", "nina", "hl7", "apply", str(ids[1]), "--patient", str(world.bob))
    assert applied.exit_code == 0, applied.output
    dismissed = invoke("--as", "nina", "hl7", "dismiss", str(ids[2]), "--reason", "not a marker")
    assert dismissed.exit_code == 0, dismissed.output
    me = getpass.getuser()
    rows = _audit(engine, since)
    assert rows[-1] == ("hl7.dismissed", "nina", "cli", world.ann)
    assert ("hl7.applied", "nina", "cli", world.bob) in rows
    assert ("patient.updated", "nina", "cli", world.bob) in rows
    with Session(engine) as session:
        bob = session.get(m.Patient, world.bob)
        assert bob and bob.family_name == "Newman"  # the navigator matched it to Bob
        os_users = {
            e.os_user for e in session.exec(select(m.AuditEvent).where(m.AuditEvent.id > since))
        }
    assert os_users == {me}
    assert ack_code("MSH|x\rMSA|AA|1") == "AA"


def test_another_clinic_neither_sees_nor_touches_a_patients_message(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    sam = Actor(username="sam", role="navigator", clinic="south", channel=Channel.CLI)
    about_ann = _store(engine, db_url, "oru_unknown_code.hl7")  # matched to Ann, then queued
    unmatched = _store(engine, db_url, "oru_unknown_patient.hl7")
    assert [e.id for e in queue.list_queue(engine, actor=NINA)] == [
        about_ann.message_id,
        unmatched.message_id,
    ]
    assert [e.id for e in queue.list_queue(engine, actor=sam)] == [unmatched.message_id]
    before = _dump(engine)
    with pytest.raises(NotFound):
        queue.dismiss(engine, actor=sam, message_id=about_ann.message_id, reason="not mine")
    with pytest.raises(NotFound):  # nor may she send a message to Ann's record
        queue.apply_queued(
            engine,
            actor=sam,
            message_id=unmatched.message_id,
            patient_id=world.ann,
            settings=hl7_settings(db_url),
            today=TODAY,
        )
    assert _dump(engine) == before  # refused: neither data nor audit


def test_a_booking_that_could_mean_two_items_waits_until_one_is_chosen(
    engine: sa.Engine, db_url: str, world: World
) -> None:
    with Session(engine) as session:
        ann = session.get(m.Patient, world.ann)
        assert ann is not None
        second = add_item(session, ann, TODAY + dt.timedelta(days=200), kind="mri")
        session.commit()
        assert second.id
    receipt = _store(engine, db_url, "siu_s12_booked.hl7")
    assert receipt.state == "queued" and "2 open items of kind mri" in receipt.reason
    with pytest.raises(InvalidInput, match="not an item of this patient"):
        queue.apply_queued(
            engine,
            actor=NINA,
            message_id=receipt.message_id,
            patient_id=None,
            item_id=999_999,
            settings=hl7_settings(db_url),
            today=TODAY,
        )
    queue.apply_queued(
        engine,
        actor=NINA,
        message_id=receipt.message_id,
        patient_id=None,
        item_id=second.id,
        settings=hl7_settings(db_url),
        today=TODAY,
    )
    with Session(engine) as session:
        booked = session.get(m.FollowUpItem, second.id)
        first = session.get(m.FollowUpItem, world.mri_item)
        assert booked and booked.state == "booked" and first and first.state == "planned"


def test_the_words_call_the_configured_authoritys_identifier_the_mrn(
    engine: sa.Engine, db_url: str
) -> None:
    raw = messages_in(SAMPLES / "oru_unknown_patient.hl7")[0]
    store.receive_and_apply(engine, actor=FEED, raw=raw, settings=hl7_settings(db_url), today=TODAY)
    with Session(engine) as session:
        row = session.exec(select(Hl7Message)).one()
    # PID-3 carries the NHS number first, then the hospital's MRN (authority HOSP).
    assert ", MRN 9434765919" in queue.meaning(row)
    assert ", MRN 999999" in queue.meaning(row, "HOSP")
    [entry] = queue.list_queue(engine, actor=NINA, authority="HOSP")
    assert ", MRN 999999" in entry.meaning
