"""Issue 18 point 3: patients' replies (a text through the provider's webhook, a click on a link in
a reminder e-mail), each applied once with its audit row, on SQLite and PostgreSQL."""

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings, WebSettings
from surveil.core.replies import Purpose, Reply, link_key, make_token
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.reminders import links
from surveil.services.reminders.history import message_history
from surveil.services.reminders.links import act_on_link, links_for, open_link
from surveil.services.reminders.planning import effective_policy
from surveil.services.reminders.replies import mark_reply_handled, receive_sms
from surveil.services.reminders.sending import environment, load, prepare
from surveil.services.worklist.sections import WorklistQuery, build_worklist
from tests.daemon.seed import CLINIC, add_item, add_patient, settings_for
from tests.web.seed import SECRET_KEY

COVERED = frozenset(
    {
        "surveil.services.reminders.replies.receive_sms",
        "surveil.services.reminders.replies.mark_reply_handled",
        "surveil.services.reminders.links.act_on_link",
    }
)
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
PHONE = "+447700900123"
NURSE = Actor(username="nina", role="navigator", clinic=CLINIC)
STRANGER = Actor(username="olga", role="navigator", clinic="Another Hospital")


def reply_settings(db_url: str) -> Settings:
    base = settings_for(db_url, reminders={"channels": ["email", "sms"]})
    return dataclasses.replace(
        base,
        web=WebSettings(secret_key=SECRET_KEY, base_url="https://followup.example.org"),
        sms=dataclasses.replace(base.sms, url="https://sms.example.org/send"),
    )


def seed(
    engine: sa.Engine, *, channel: str = "sms", state: str = "sent", now: dt.datetime = NOW
) -> tuple[int, int, int]:
    """A patient with a phone and an e-mail address, one MRI, and one reminder about it (sent
    by ``channel`` at ``now``); their ids."""
    with Session(engine) as session:
        patient = add_patient(session, "R1", phone=PHONE, preferred_channel=channel)
        item = add_item(session, patient, now.date() - dt.timedelta(days=1))
        reminder = m.Reminder(
            idempotency_key=f"k-{channel}", patient_id=patient.id, item_id=item.id,
            stage="window_open", channel=channel, template="window-open", state=state,
            send_after=now - dt.timedelta(hours=1),
            sent_at=now - dt.timedelta(minutes=30) if state == "sent" else None,
        )  # fmt: skip
        session.add(reminder)
        session.commit()
        return patient.id or 0, item.id or 0, reminder.id or 0


def audit_of(engine: sa.Engine) -> list[tuple[str, str, str, int | None]]:
    with Session(engine) as session:
        events = session.exec(select(m.AuditEvent).order_by(col(m.AuditEvent.id))).all()
        return [(e.action, e.actor, e.channel, e.patient_id) for e in events]


def replies(engine: sa.Engine) -> list[m.InboundReply]:
    with Session(engine) as session:
        return list(session.exec(select(m.InboundReply).order_by(col(m.InboundReply.id))))


def opt_outs(engine: sa.Engine) -> set[tuple[int, str]]:
    with Session(engine) as session:
        return {(o.patient_id, o.channel) for o in session.exec(select(m.ChannelOptOut))}


def worklist_replies(engine: sa.Engine, settings: Settings) -> list[str]:
    with Session(engine) as session:
        found = build_worklist(
            session, query=WorklistQuery(today=NOW.date(), section="replies"),
            actor=NURSE, settings=settings,
        )  # fmt: skip
        return [r.what for s in found.sections for r in s.rows]


def test_stop_by_text_stops_sms_at_once_and_tells_the_navigator(
    engine: sa.Engine, db_url: str
) -> None:
    settings = reply_settings(db_url)
    pid, item_id, rid = seed(engine)
    outcome = receive_sms(engine, message_id="SM1", sender="+44 7700 900123", text="Stop", now=NOW)
    assert (outcome.status, outcome.kind, outcome.patient_id) == ("applied", Reply.STOP, pid)
    assert opt_outs(engine) == {(pid, "sms")}
    (reply,) = replies(engine)
    assert (reply.reminder_id, reply.item_id, reply.kind, reply.needs_action) == (
        rid, item_id, "stop", True,
    )  # fmt: skip
    assert audit_of(engine) == [("reply.stopped", "system", Channel.SMS, pid)]
    assert worklist_replies(engine, settings) == ["stopped reminders (MRI)"]

    # The next SMS for this patient is suppressed at the send-time check; e-mail is not.
    with Session(engine) as session:
        pending = m.Reminder(
            idempotency_key="k-next", patient_id=pid, item_id=item_id, stage="before_target",
            channel="sms", template="due-soon", send_after=NOW,
        )  # fmt: skip
        session.add(pending)
        session.commit()
        loaded = load(session, pending.id or 0)
        assert loaded is not None and loaded.stopped
        checked = prepare(
            session, loaded, settings, effective_policy(settings), environment(None), NOW
        )
        assert checked == "opted out"

    # START opts back in, and is audited; it needs no navigator.
    receive_sms(engine, message_id="SM2", sender=PHONE, text="START", now=NOW)
    assert opt_outs(engine) == set()
    assert audit_of(engine)[-1] == ("reply.started", "system", Channel.SMS, pid)
    assert [r.needs_action for r in replies(engine)] == [True, False]


def test_a_message_id_is_applied_once(engine: sa.Engine) -> None:
    pid, _, _ = seed(engine)
    first = receive_sms(engine, message_id="SM9", sender=PHONE, text="I can't come", now=NOW)
    again = receive_sms(engine, message_id="SM9", sender=PHONE, text="I can't come", now=NOW)
    assert (first.status, again.status) == ("applied", "duplicate")
    assert len(replies(engine)) == 1
    assert audit_of(engine) == [("reply.unrecognised", "system", Channel.SMS, pid)]


def test_confirm_is_recorded_on_the_reminder_and_shown_in_the_history(
    engine: sa.Engine, db_url: str
) -> None:
    settings = reply_settings(db_url)
    pid, item_id, rid = seed(engine)
    receive_sms(engine, message_id="SM3", sender=PHONE, text="c", now=NOW)
    (reply,) = replies(engine)
    assert (reply.kind, reply.reminder_id, reply.item_id, reply.needs_action) == (
        "confirm", rid, item_id, False,
    )  # fmt: skip
    assert worklist_replies(engine, settings) == []  # nothing for a person to do
    (entry,) = message_history(engine, actor=NURSE, patient_id=pid)
    assert entry.reply == 'confirm by sms "c"'


def test_call_me_and_unrecognised_texts_wait_on_the_worklist_until_handled(
    engine: sa.Engine, db_url: str
) -> None:
    settings = reply_settings(db_url)
    pid, _, _ = seed(engine)
    receive_sms(engine, message_id="SM4", sender=PHONE, text="Tuesday is no good", now=NOW)
    assert worklist_replies(engine, settings) == ["replied; not understood (MRI)"]
    (reply,) = replies(engine)
    before = audit_of(engine)
    with pytest.raises(InvalidInput):
        mark_reply_handled(engine, actor=NURSE, reply_id=reply.id or 0, note="  ")
    with pytest.raises(NotFound):
        mark_reply_handled(engine, actor=STRANGER, reply_id=reply.id or 0, note="called")
    assert audit_of(engine) == before and replies(engine)[0].handled_at is None
    mark_reply_handled(engine, actor=NURSE, reply_id=reply.id or 0, note="called, rebooked")
    (done,) = replies(engine)
    assert (done.handled_by, done.handled_note) == ("nina", "called, rebooked")
    assert audit_of(engine)[-1] == ("reply.handled", "nina", Channel.WEB, pid)
    assert worklist_replies(engine, settings) == []
    with pytest.raises(InvalidInput):  # twice is refused, not recorded again
        mark_reply_handled(engine, actor=NURSE, reply_id=reply.id or 0, note="again")


def test_a_text_from_an_unknown_number_is_kept_but_acts_for_nobody(engine: sa.Engine) -> None:
    seed(engine)
    outcome = receive_sms(engine, message_id="SM5", sender="+15550100999", text="STOP", now=NOW)
    assert (outcome.status, outcome.patient_id) == ("unmatched", None)
    assert opt_outs(engine) == set()
    assert audit_of(engine) == [("reply.unmatched", "system", Channel.SMS, None)]


def test_a_bad_inbound_message_writes_nothing(engine: sa.Engine) -> None:
    seed(engine)
    with pytest.raises(InvalidInput) as refused:
        receive_sms(engine, message_id=" ", sender="not a phone", text="STOP", now=NOW)
    assert {p.field for p in refused.value.problems} == {"id", "from"}
    assert replies(engine) == [] and audit_of(engine) == []


# --------------------------------------------------------------------------- e-mail links


def _links(engine: sa.Engine, settings: Settings, rid: int) -> links.Links:
    with Session(engine) as session:
        row = session.get(m.Reminder, rid)
        assert row is not None
        found = links_for(settings, row)
    assert found is not None
    return found


def test_a_link_opens_a_page_that_changes_nothing_and_acts_once_on_post(
    engine: sa.Engine, db_url: str
) -> None:
    settings = reply_settings(db_url)
    pid, _, rid = seed(engine, channel="email")
    found = _links(engine, settings, rid)
    token = found.reply_url.rsplit("/", 1)[1]
    assert found.reply_url.startswith("https://followup.example.org/r/")
    page = open_link(engine, settings, token, NOW)
    assert (page.state, page.actions) == ("open", (Reply.CONFIRM, Reply.CALL_ME, Reply.STOP))
    assert (page.what, page.detailed) == ("scan", False)  # generic words: no opt-in
    assert replies(engine) == [] and audit_of(engine) == []  # a scanner's GET does nothing

    outcome = act_on_link(engine, settings, token=token, action="call_me", now=NOW)
    assert (outcome.status, outcome.kind) == ("applied", Reply.CALL_ME)
    again = act_on_link(engine, settings, token=token, action="stop", now=NOW)
    assert again.status == "duplicate"  # single use: the second click changes nothing
    assert opt_outs(engine) == set()
    assert audit_of(engine) == [("reply.call_me", "system", Channel.WEB, pid)]
    assert open_link(engine, settings, token, NOW).state == "used"
    (reply,) = replies(engine)
    assert reply.dedupe_key.startswith("link:") and token not in reply.dedupe_key
    assert worklist_replies(engine, settings) == ["asks to be called: can't make it (MRI)"]


def test_the_unsubscribe_link_stops_email_only(engine: sa.Engine, db_url: str) -> None:
    settings = reply_settings(db_url)
    pid, _, rid = seed(engine, channel="email")
    found = _links(engine, settings, rid)
    assert found.list_unsubscribe == f"<{found.unsubscribe_url}>"
    token = found.unsubscribe_url.rsplit("/", 1)[1]
    with pytest.raises(InvalidInput):  # an unsubscribe link only stops
        act_on_link(engine, settings, token=token, action="confirm", now=NOW)
    assert act_on_link(engine, settings, token=token, action="stop", now=NOW).status == "applied"
    assert opt_outs(engine) == {(pid, "email")}
    assert audit_of(engine) == [("reply.stopped", "system", Channel.WEB, pid)]


@pytest.mark.parametrize("damage", ["expired", "forged", "another key"])
def test_expired_or_forged_links_are_refused_and_write_nothing(
    engine: sa.Engine, db_url: str, damage: str
) -> None:
    settings = reply_settings(db_url)
    _, _, rid = seed(engine, channel="email")
    token = _links(engine, settings, rid).reply_url.rsplit("/", 1)[1]
    now = NOW
    if damage == "expired":
        now = NOW + dt.timedelta(days=settings.replies.link_days + 1)
    if damage == "forged":  # a valid-looking token for a reminder it was not made for
        token = make_token(link_key("x" * 40), rid, NOW + dt.timedelta(days=3), Purpose.REPLY)
    if damage == "another key":
        other = WebSettings(secret_key="another-" + SECRET_KEY, base_url=settings.web.base_url)
        settings = dataclasses.replace(settings, web=other)
    assert open_link(engine, settings, token, now).state == "invalid"
    with pytest.raises(InvalidInput):
        act_on_link(engine, settings, token=token, action="confirm", now=now)
    assert replies(engine) == [] and audit_of(engine) == []


def test_no_links_without_an_address_patients_can_reach(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    _, _, rid = seed(engine, channel="email")
    with Session(engine) as session:
        row = session.get(m.Reminder, rid)
        assert row is not None and links_for(settings, row) is None


def test_a_text_says_how_to_reply_only_where_replies_are_taken(
    engine: sa.Engine, db_url: str
) -> None:
    pid, item_id, _ = seed(engine)
    with Session(engine) as session:
        pending = m.Reminder(
            idempotency_key="k-hint", patient_id=pid, item_id=item_id, stage="window_open",
            channel="sms", template="window-open", send_after=NOW,
        )  # fmt: skip
        session.add(pending)
        session.commit()
        said = {}
        for secret in ("", "inbound-" + "s" * 32):
            base = reply_settings(db_url)
            settings = dataclasses.replace(
                base, sms=dataclasses.replace(base.sms, inbound_secret=secret)
            )
            loaded = load(session, pending.id or 0)
            assert loaded is not None
            checked = prepare(
                session, loaded, settings, effective_policy(settings), environment(None), NOW
            )
            assert isinstance(checked, tuple) and checked[0] == PHONE
            said[bool(secret)] = checked[1].sms
    assert "Reply C to confirm, STOP to stop." in said[True]
    assert "Reply" not in said[False]


def test_one_click_is_only_offered_over_https(engine: sa.Engine, db_url: str) -> None:
    _, _, rid = seed(engine, channel="email")
    base = reply_settings(db_url)
    plain = dataclasses.replace(
        base, web=dataclasses.replace(base.web, base_url="http://demo.example:8000")
    )
    assert _links(engine, plain, rid).list_unsubscribe == ""
    with_mail = dataclasses.replace(
        plain, replies=dataclasses.replace(base.replies, unsubscribe_mailto="out@h.example")
    )
    found = _links(engine, with_mail, rid)
    assert found.list_unsubscribe == "<mailto:out@h.example?subject=unsubscribe>"
    assert found.reply_url.startswith("http://demo.example:8000/r/")  # the page still works
