"""The SMTP transport's two shortcuts in building a message give what the stdlib would: short
ASCII headers written as they are, and a boundary that cannot occur in the parts."""

import email
import email.policy

from hypothesis import given, settings
from hypothesis import strategies as st

from surveil.transports import OutgoingMessage, SmtpTransport
from surveil.transports.smtp import WIRE_POLICY

STDLIB = email.policy.compat32.clone(linesep="\r\n")
NAMES = ["Subject", "To", "From", "Message-ID", "Date", "Content-Type", "X-A-Long-Header-Name"]
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t"
TRANSPORT = SmtpTransport(
    host="127.0.0.1", port=25, sender='"St Elsewhere" <no-reply@example.org>', security="none"
)


@settings(max_examples=2000)
@given(st.sampled_from(NAMES), st.text(PRINTABLE_ASCII, max_size=100))
def test_headers_are_the_bytes_the_stdlib_folds_them_into(name: str, value: str) -> None:
    assert WIRE_POLICY.fold_binary(name, value) == STDLIB.fold_binary(name, value)


@settings(max_examples=300)
@given(st.sampled_from(NAMES), st.text(max_size=120))
def test_any_other_header_is_left_to_the_stdlib(name: str, value: str) -> None:
    assert WIRE_POLICY.fold_binary(name, value) == STDLIB.fold_binary(name, value)


# Lines that look like boundaries, QP escapes and soft breaks, among any text.
TRICKY = st.sampled_from(["--=_", "=_", "--", "=\n", "=3D", "\r\n", "\n--=_0123abcd--\n", "é"])
BODY = st.lists(st.one_of(TRICKY, st.text(max_size=40)), max_size=12).map("".join)


@settings(max_examples=300)
@given(BODY, BODY)
def test_both_parts_come_back_whole_whatever_they_contain(text: str, html: str) -> None:
    message = OutgoingMessage(
        idempotency_key="k-1", to="ann@example.org", subject="Reminder", text=text, html=html
    )
    wire = TRANSPORT.build(message).as_bytes(policy=WIRE_POLICY)
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    sent = [p.get_content() for p in parts]
    # Line ends are the wire's business: compare the text line by line.
    assert [s.splitlines() for s in sent] == [text.splitlines(), html.splitlines()]
