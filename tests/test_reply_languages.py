"""Issue 18 point 3 in every shipped language: the reply link of reminder e-mails, the "Reply C
to confirm, STOP to stop" of texts, and every state of the reply page, rendered through a
catalogue that fails on a missing msgid (``tests/test_reminder_languages.Strict``)."""

import dataclasses
import datetime as dt

import pytest

from surveil.core.replies import Purpose, Reply
from surveil.core.vocab import ItemKind
from surveil.render.messages import Clinic, patient_context, render_message
from surveil.render.templating import make_environment
from surveil.services.reminders.links import LINK_ACTIONS, LinkPage
from tests.test_reminder_languages import CLINIC, MESSAGES, SHIPPED, strict_env

LINK = "https://followup.example.org/r/AAAAAAAAAAEAAAAAak9VAHWe6-_tZ2siB3wyVgxG67KZ"


@pytest.mark.parametrize("language", ["en", *SHIPPED])
def test_every_message_carries_the_reply_words_in_every_language(language: str) -> None:
    # English is the templates' own text; the others fail on any msgid they lack.
    env, strict = strict_env(language) if language != "en" else (make_environment(None), None)
    clinic = Clinic(name=CLINIC.name, phone=CLINIC.phone)
    for name in MESSAGES:
        for kind in ItemKind:
            context = patient_context(
                clinic=clinic, kind=kind, earliest=dt.date(2026, 6, 1),
                target=dt.date(2026, 6, 15), latest=dt.date(2026, 7, 1), first_name="Zoë",
                language=language, reply_url=LINK, unsubscribe_url=LINK, sms_replies=True,
            )  # fmt: skip
            rendered = render_message(env, name, context)  # an SMS over 320 characters fails
            assert LINK in rendered.text and f'href="{LINK}"' in rendered.html
            assert " C " in rendered.sms and "STOP" in rendered.sms
    assert strict is None or strict.asked


STATES = [
    LinkPage("open", purpose=Purpose.REPLY, actions=LINK_ACTIONS[Purpose.REPLY], what="scan",
             kind="mri"),
    LinkPage("open", purpose=Purpose.UNSUBSCRIBE, actions=LINK_ACTIONS[Purpose.UNSUBSCRIBE]),
    LinkPage("open", purpose=Purpose.REPLY, actions=LINK_ACTIONS[Purpose.REPLY], what="scan",
             kind="mri", detailed=True),
    *(LinkPage("done", done=kind) for kind in (Reply.CONFIRM, Reply.CALL_ME, Reply.STOP)),
    LinkPage("used", done=Reply.CONFIRM),
    LinkPage("invalid"),
]  # fmt: skip


@pytest.mark.parametrize("language", SHIPPED)
def test_every_state_of_the_reply_page_is_translated(language: str) -> None:
    env, strict = strict_env(language)
    for state in STATES:
        page = dataclasses.replace(state, clinic_name=CLINIC.name, clinic_phone=CLINIC.phone)
        html = env.get_template("replies/page.html").render(
            **{**page.__dict__, "purpose": page.purpose.value}
        )
        assert f'<html lang="{language}">' in html and CLINIC.phone in html
        for english_only in ("I will be there", "This link cannot be used", "Thank you"):
            assert english_only not in html
    assert strict.asked
