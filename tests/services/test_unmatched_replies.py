"""Texts from numbers no patient has wait for a navigator, who matches or dismisses them (issue 18,
left over), on both backends: nothing a patient writes from a new phone is dropped."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.vocab import Channel
from surveil.errors import InvalidInput, NotFound
from surveil.services.reminders.replies import receive_sms
from surveil.services.reminders.unmatched_replies import (
    dismiss_reply,
    match_reply,
    unmatched_count,
    unmatched_replies,
)
from tests.services.test_replies import (
    NOW,
    NURSE,
    STRANGER,
    audit_of,
    opt_outs,
    replies,
    reply_settings,
    seed,
    worklist_replies,
)

COVERED = frozenset(
    {
        "surveil.services.reminders.unmatched_replies.match_reply",
        "surveil.services.reminders.unmatched_replies.dismiss_reply",
    }
)
NEW_PHONE = "+15550100999"
LATER = NOW + dt.timedelta(hours=2)


def waiting(engine: sa.Engine) -> list[tuple[int, str, str, str]]:
    with Session(engine) as session:
        found = unmatched_replies(session, limit=10)
        assert unmatched_count(session) == len(found)
        return [(r.reply_id, r.kind.value, r.sender, r.text) for r in found]


def test_a_text_from_a_new_number_waits_and_is_matched_to_its_patient(
    engine: sa.Engine, db_url: str
) -> None:
    settings = reply_settings(db_url)
    pid, item_id, rid = seed(engine)
    outcome = receive_sms(
        engine, message_id="SM7", sender="+1 555 0100 999", text="can't make it", now=NOW
    )
    assert (outcome.status, outcome.patient_id) == ("unmatched", None)
    [(reply_id, kind, sender, text)] = waiting(engine)
    assert (kind, sender, text) == ("unrecognised", NEW_PHONE, "can't make it")
    assert worklist_replies(engine, settings) == []  # nobody's yet

    assert match_reply(engine, actor=NURSE, reply_id=reply_id, mrn="R1", now=LATER) == pid
    assert waiting(engine) == []
    (reply,) = replies(engine)
    # It answers the last text sent to that patient, joins their replies, and forgets the number.
    assert (reply.patient_id, reply.reminder_id, reply.item_id) == (pid, rid, item_id)
    assert (reply.needs_action, reply.sender) == (True, None)
    assert worklist_replies(engine, settings) == ["replied; not understood (MRI)"]
    assert audit_of(engine)[-2:] == [
        ("reply.matched", "nina", Channel.WEB, pid),
        ("reply.unrecognised", "nina", Channel.WEB, pid),
    ]
    with pytest.raises(NotFound):  # matched once; it is no longer waiting
        match_reply(engine, actor=NURSE, reply_id=reply_id, mrn="R1", now=LATER)


def test_a_stop_from_a_new_number_stops_texts_once_matched(engine: sa.Engine) -> None:
    pid, _, _ = seed(engine)
    receive_sms(engine, message_id="SM8", sender=NEW_PHONE, text="STOP", now=NOW)
    assert opt_outs(engine) == set()  # whose texts would it stop?
    [(reply_id, *_)] = waiting(engine)
    match_reply(engine, actor=NURSE, reply_id=reply_id, mrn="R1", now=LATER)
    assert opt_outs(engine) == {(pid, "sms")}
    assert audit_of(engine)[-1] == ("reply.stopped", "nina", Channel.WEB, pid)


def test_a_confirmation_matched_needs_nobody_afterwards(engine: sa.Engine, db_url: str) -> None:
    seed(engine)
    receive_sms(engine, message_id="SM9", sender=NEW_PHONE, text="YES", now=NOW)
    [(reply_id, kind, *_)] = waiting(engine)
    assert kind == "confirm"
    match_reply(engine, actor=NURSE, reply_id=reply_id, mrn="R1", now=LATER)
    assert [r.needs_action for r in replies(engine)] == [False]
    assert worklist_replies(engine, reply_settings(db_url)) == []


def test_refusals_write_nothing(engine: sa.Engine) -> None:
    seed(engine)
    receive_sms(engine, message_id="SM10", sender=NEW_PHONE, text="who is this", now=NOW)
    [(reply_id, *_)] = waiting(engine)
    before = audit_of(engine)
    with pytest.raises(InvalidInput) as refused:
        match_reply(engine, actor=NURSE, reply_id=reply_id, mrn=" ", now=LATER)
    assert [p.field for p in refused.value.problems] == ["mrn"]
    with pytest.raises(NotFound):  # no such patient
        match_reply(engine, actor=NURSE, reply_id=reply_id, mrn="NOPE", now=LATER)
    with pytest.raises(NotFound):  # another clinic's patient is not found, not confirmed
        match_reply(engine, actor=STRANGER, reply_id=reply_id, mrn="R1", now=LATER)
    with pytest.raises(NotFound):
        match_reply(engine, actor=NURSE, reply_id=reply_id + 99, mrn="R1", now=LATER)
    with pytest.raises(InvalidInput) as no_reason:
        dismiss_reply(engine, actor=NURSE, reply_id=reply_id, note="  ", now=LATER)
    assert [p.field for p in no_reason.value.problems] == ["note"]
    assert audit_of(engine) == before and len(waiting(engine)) == 1


def test_a_wrong_number_is_dismissed_with_its_reason(engine: sa.Engine) -> None:
    seed(engine)
    receive_sms(engine, message_id="SM11", sender=NEW_PHONE, text="wrong number", now=NOW)
    [(reply_id, *_)] = waiting(engine)
    dismiss_reply(engine, actor=NURSE, reply_id=reply_id, note="wrong number, told them", now=LATER)
    assert waiting(engine) == []
    (reply,) = replies(engine)
    assert (reply.handled_by, reply.handled_note, reply.sender) == (
        "nina",
        "wrong number, told them",
        None,
    )
    assert audit_of(engine)[-1] == ("reply.dismissed", "nina", Channel.WEB, None)
    with pytest.raises(InvalidInput):  # dealt with already
        dismiss_reply(engine, actor=NURSE, reply_id=reply_id, note="again", now=LATER)
