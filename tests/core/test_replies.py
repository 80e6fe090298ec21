"""The pure half of patients' replies (issue 18 point 3): keywords, webhook signatures, link
tokens."""

import datetime as dt

import pytest

from surveil.core.replies import (
    BadSignature,
    BadToken,
    Purpose,
    Reply,
    classify,
    link_key,
    make_token,
    read_token,
    sign_webhook,
    token_hash,
    verify_webhook,
)

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
SECRET = b"provider-shared-secret"
WINDOW = dt.timedelta(minutes=5)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("STOP", Reply.STOP), ("stop", Reply.STOP), (" Stop! ", Reply.STOP),
        ("StopAll", Reply.STOP), ("unsubscribe", Reply.STOP), ("cancel", Reply.STOP),
        ("end", Reply.STOP), ("quit", Reply.STOP), ("Arrêt", Reply.STOP), ("ALTO", Reply.STOP),
        ("START", Reply.START), ("start", Reply.START), ("unstop", Reply.START),
        ("C", Reply.CONFIRM), ("c", Reply.CONFIRM), ("confirm", Reply.CONFIRM),
        ("Yes", Reply.CONFIRM), ("YES.", Reply.CONFIRM), ("sí", Reply.CONFIRM),
        ("oui", Reply.CONFIRM),
        ("please stop calling me at work", Reply.UNRECOGNISED),
        ("I can't come on Tuesday", Reply.UNRECOGNISED), ("", Reply.UNRECOGNISED),
        ("STOP STOP", Reply.UNRECOGNISED),
    ],
)  # fmt: skip
def test_keywords_are_whole_messages_in_any_case(text: str, kind: Reply) -> None:
    assert classify(text) is kind


def _signed(body: bytes, at: dt.datetime, secret: bytes = SECRET) -> tuple[str, str]:
    stamp = str(int(at.timestamp()))
    return stamp, "sha256=" + sign_webhook(secret, stamp, body)


def test_a_good_signature_passes() -> None:
    body = b'{"id": "m1", "from": "+447700900123", "text": "STOP"}'
    stamp, signature = _signed(body, NOW - dt.timedelta(seconds=30))
    verify_webhook(SECRET, timestamp=stamp, signature=signature, body=body, now=NOW, window=WINDOW)


@pytest.mark.parametrize(
    "damage",
    ["other secret", "body changed", "timestamp changed", "no signature", "expired", "future",
     "not a number", "no secret configured"],
)  # fmt: skip
def test_a_bad_forged_or_stale_signature_is_refused(damage: str) -> None:
    body = b'{"id": "m1", "from": "+447700900123", "text": "STOP"}'
    at = NOW - dt.timedelta(seconds=30)
    stamp, signature = _signed(body, at, b"not-the-secret" if damage == "other secret" else SECRET)
    secret = b"" if damage == "no secret configured" else SECRET
    if damage == "body changed":
        body = body.replace(b"STOP", b"C")
    if damage == "timestamp changed":
        stamp = str(int(stamp) + 1)
    if damage == "no signature":
        signature = ""
    if damage in ("expired", "future"):
        at = NOW + (WINDOW + dt.timedelta(seconds=1)) * (-1 if damage == "expired" else 1)
        stamp, signature = _signed(body, at)
    if damage == "not a number":
        stamp = "yesterday"
    with pytest.raises(BadSignature):
        verify_webhook(
            secret, timestamp=stamp, signature=signature, body=body, now=NOW, window=WINDOW
        )


KEY = link_key("a-web-secret-key-of-enough-length-0123456789")


def test_a_token_names_only_its_reminder_and_purpose_and_is_the_same_every_time() -> None:
    expires = NOW + dt.timedelta(days=30)
    token = make_token(KEY, 42, expires, Purpose.REPLY)
    assert token == make_token(KEY, 42, expires, Purpose.REPLY)  # a resend has the same link
    assert token != make_token(KEY, 42, expires, Purpose.UNSUBSCRIBE)
    read = read_token(KEY, token, NOW)
    assert (read.reminder_id, read.purpose, read.expires) == (42, Purpose.REPLY, expires)
    assert len(token) < 50 and token.isascii() and "=" not in token
    assert len(token_hash(token)) == 64 and token not in token_hash(token)


@pytest.mark.parametrize("damage", ["expired", "forged", "other key", "truncated", "garbage"])
def test_expired_forged_or_damaged_tokens_are_refused(damage: str) -> None:
    token = make_token(KEY, 42, NOW + dt.timedelta(days=1), Purpose.REPLY)
    key, now = KEY, NOW
    if damage == "expired":
        now = NOW + dt.timedelta(days=1)
    if damage == "forged":  # another reminder's id with this token's signature
        other = make_token(KEY, 43, NOW + dt.timedelta(days=1), Purpose.REPLY)
        token = other[:22] + token[22:]
    if damage == "other key":
        key = link_key("another-web-secret-key-of-enough-length-98765")
    if damage == "truncated":
        token = token[:-3]
    if damage == "garbage":
        token = "../../etc/passwd"
    with pytest.raises(BadToken):
        read_token(key, token, now)
