import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from surveil.errors import TransportError
from surveil.transports import OutgoingMessage, SmtpTransport
from tests.transports.peers import (
    Certificate,
    Mailbox,
    SmtpServer,
    free_port,
    start_server,
)

KEY = "3f2a9c0d4b8e41f7a6c2d9e0b1f4a7c3"
SENDER = '"St Elsewhere Hospital" <no-reply@stelsewhere.example>'


def message(to: str = "ann@example.org", key: str = KEY) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        to=to,
        subject="Reminder from St Elsewhere Hospital",
        text="Dear Zoë,\n\nWhat: Blood test\n",
        html="<p>Dear Zoë,</p><p><strong>What:</strong> Blood test</p>",
        sms="St Elsewhere Hospital: blood test due.",
    )


def transport(port: int, **options: Any) -> SmtpTransport:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "security": "none",
        "helo_domain": "surveil.test",
        "timeout": 5.0,
    }
    return SmtpTransport(**(settings | options))


@pytest.fixture
def smtp(smtpd: SmtpServer) -> Iterator[SmtpTransport]:
    sender = transport(smtpd.port)
    yield sender
    sender.close()


def test_delivered_message_has_the_key_as_message_id_and_both_parts(
    smtpd: SmtpServer, smtp: SmtpTransport
) -> None:
    result = smtp.send(message())
    [received] = smtpd.mailbox.received
    email = received.message
    assert received.mail_from == "no-reply@stelsewhere.example"
    assert received.rcpt_tos == ["ann@example.org"]
    assert email["Message-ID"] == f"<{KEY}@stelsewhere.example>"
    assert result.provider_id == email["Message-ID"]
    assert result.response == "250 2.0.0 Ok: queued as TEST"
    assert email["To"] == "ann@example.org"
    assert email["Date"].datetime.tzinfo is not None
    assert email["Auto-Submitted"] == "auto-generated"
    assert email.get_content_type() == "multipart/alternative"
    plain, html = email.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().replace("\r\n", "\n") == "Dear Zoë,\n\nWhat: Blood test\n"
    assert html.get_content_type() == "text/html"
    assert "<strong>What:</strong> Blood test" in html.get_content()


def test_message_id_domain_can_be_set(smtpd: SmtpServer) -> None:
    sender = transport(smtpd.port, message_id_domain="reminders.stelsewhere.example")
    sender.send(message())
    sender.close()
    assert smtpd.mailbox.received[0].message["Message-ID"] == (
        f"<{KEY}@reminders.stelsewhere.example>"
    )


def test_text_only_message(smtpd: SmtpServer, smtp: SmtpTransport) -> None:
    plain = OutgoingMessage(KEY, "ann@example.org", "Reminder", "Bonjour Zoë\n")
    smtp.send(plain)
    email = smtpd.mailbox.received[0].message
    assert email.get_content_type() == "text/plain"
    assert email.get_content().replace("\r\n", "\n") == "Bonjour Zoë\n"
    assert email["Message-ID"] == f"<{KEY}@stelsewhere.example>"


def test_non_ascii_subject_and_sender_name_are_encoded(smtpd: SmtpServer) -> None:
    sender = transport(smtpd.port, sender='"Hôpital Saint-Louis" <rappels@hopital.example>')
    sender.send(OutgoingMessage(KEY, "ann@example.org", "Rappel de l'Hôpital Saint-Louis", "x"))
    sender.close()
    email = smtpd.mailbox.received[0].message
    assert email["Subject"] == "Rappel de l'Hôpital Saint-Louis"
    assert email["From"].addresses[0].display_name == "Hôpital Saint-Louis"
    assert smtpd.mailbox.received[0].mail_from == "rappels@hopital.example"


@pytest.mark.parametrize(
    "to",
    [
        "Ann <ann@example.org>",
        "ann@example.org, bob@example.org",
        "not-an-address",
        "zoë@example.org",
    ],
)
def test_anything_but_one_plain_address_is_refused(
    smtpd: SmtpServer, smtp: SmtpTransport, to: str
) -> None:
    with pytest.raises(TransportError) as caught:
        smtp.send(message(to=to))
    assert caught.value.permanent
    assert smtpd.mailbox.received == []


def test_one_connection_is_reused_across_sends(smtpd: SmtpServer, smtp: SmtpTransport) -> None:
    for n in range(5):
        smtp.send(message(key=f"key{n}"))
    assert len({r.peer for r in smtpd.mailbox.received}) == 1


def test_connection_is_renewed_after_max_per_connection(smtpd: SmtpServer) -> None:
    sender = transport(smtpd.port, max_per_connection=2)
    for n in range(5):
        sender.send(message(key=f"key{n}"))
    sender.close()
    assert len({r.peer for r in smtpd.mailbox.received}) == 3


def test_one_connection_per_message_when_asked(smtpd: SmtpServer) -> None:
    sender = transport(smtpd.port, reuse_connection=False)
    for n in range(3):
        sender.send(message(key=f"key{n}"))
    assert len({r.peer for r in smtpd.mailbox.received}) == 3


@pytest.mark.parametrize(
    ("to", "code"),
    [("bad@example.org", "550"), ("spam@example.org", "554")],
)
def test_5xx_is_permanent_and_the_connection_stays_usable(
    smtpd: SmtpServer, smtp: SmtpTransport, to: str, code: str
) -> None:
    with pytest.raises(TransportError) as caught:
        smtp.send(message(to=to))
    assert caught.value.permanent
    assert code in str(caught.value)
    smtp.send(message())
    assert [r.rcpt_tos for r in smtpd.mailbox.received] == [["ann@example.org"]]


@pytest.mark.parametrize("to", ["busy@example.org", "slow@example.org"])
def test_4xx_is_transient(smtpd: SmtpServer, smtp: SmtpTransport, to: str) -> None:
    with pytest.raises(TransportError) as caught:
        smtp.send(message(to=to))
    assert not caught.value.permanent
    assert "451" in str(caught.value)
    assert smtpd.mailbox.received == []


def test_a_refused_sender_is_a_configuration_problem_not_the_message(smtpd: SmtpServer) -> None:
    sender = transport(smtpd.port, sender="blocked@stelsewhere.example")
    with pytest.raises(TransportError) as caught:
        sender.send(message())
    sender.close()
    assert not caught.value.permanent
    assert "553" in str(caught.value) and "[smtp]" in str(caught.value)


def test_server_down_is_transient() -> None:
    sender = transport(free_port())  # nothing listens there
    with pytest.raises(TransportError) as caught:
        sender.send(message())
    assert not caught.value.permanent
    assert "ConnectionRefusedError" in str(caught.value)


def test_a_server_that_never_answers_times_out_as_transient() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the TCP connection, never sends a greeting
        sender = transport(silent.getsockname()[1], timeout=0.3)
        with pytest.raises(TransportError) as caught:
            sender.send(message())
    assert not caught.value.permanent
    assert "timed out" in str(caught.value)


def restart(server: SmtpServer) -> SmtpServer:
    """Stop a server and start a new one on the same port: open connections to it die."""
    server.controller.stop()
    return start_server(server.port)


def test_a_restarted_server_is_reconnected_to() -> None:
    server = start_server()
    sender = transport(server.port, idle_check_after=0.0)
    try:
        sender.send(message(key="before"))
        server = restart(server)
        sender.send(message(key="after"))  # the old connection is dead; NOOP notices
        assert [r.message["Message-ID"] for r in server.mailbox.received] == [
            "<after@stelsewhere.example>"
        ]
    finally:
        sender.close()
        server.controller.stop()


def test_a_dropped_connection_fails_once_as_transient_then_recovers() -> None:
    server = start_server()
    sender = transport(server.port)  # no NOOP within idle_check_after of the last send
    try:
        sender.send(message(key="before"))
        server = restart(server)
        with pytest.raises(TransportError) as caught:
            sender.send(message(key="lost"))
        assert not caught.value.permanent
        sender.send(message(key="retried"))
        assert [r.message["Message-ID"] for r in server.mailbox.received] == [
            "<retried@stelsewhere.example>"
        ]
    finally:
        sender.close()
        server.controller.stop()


@pytest.mark.parametrize(
    "to", ["ann@example.org\r\nBcc: everyone@example.org", "ann@example.org\nBcc: x@y.org"]
)
def test_header_injection_is_refused_before_sending(
    smtpd: SmtpServer, smtp: SmtpTransport, to: str
) -> None:
    with pytest.raises(TransportError) as caught:
        smtp.send(message(to=to))
    assert caught.value.permanent
    assert smtpd.mailbox.received == []


def test_an_unsafe_key_is_refused(smtp: SmtpTransport) -> None:
    with pytest.raises(TransportError, match="Message-ID"):
        smtp.send(message(key="a>b@evil"))


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="security"):
        SmtpTransport(host="h", port=25, sender=SENDER, security="tls")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sender"):
        SmtpTransport(host="h", port=25, sender="St Elsewhere")


def test_repr_hides_the_password() -> None:
    sender = SmtpTransport(host="h", port=587, sender=SENDER, username="u", password="hunter2")
    assert "hunter2" not in repr(sender)


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture
def tls_smtpd(self_signed: Certificate) -> Iterator[SmtpServer]:
    server = start_server(
        tls_context=self_signed.server_context(),
        require_starttls=True,
        authenticator=accept_reminders_user,
        auth_required=True,
    )
    yield server
    server.controller.stop()


def accept_reminders_user(
    _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"reminders",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def test_starttls_verifies_the_certificate_by_default(tls_smtpd: SmtpServer) -> None:
    sender = transport(tls_smtpd.port, security="starttls", username="reminders", password="s3cret")
    with pytest.raises(TransportError) as caught:
        sender.send(message())
    assert "could not be verified" in str(caught.value)
    assert not caught.value.permanent  # our configuration, not the message: retry later
    assert tls_smtpd.mailbox.received == []


def test_starttls_with_a_trusted_certificate_delivers(
    tls_smtpd: SmtpServer, self_signed: Certificate
) -> None:
    trusting = ssl.create_default_context(cafile=str(self_signed.cert))
    sender = transport(
        tls_smtpd.port,
        security="starttls",
        username="reminders",
        password="s3cret",
        ssl_context=trusting,
    )
    sender.send(message())
    sender.close()
    assert len(tls_smtpd.mailbox.received) == 1


def test_a_wrong_password_is_transient_and_names_the_setting(
    tls_smtpd: SmtpServer, self_signed: Certificate
) -> None:
    trusting = ssl.create_default_context(cafile=str(self_signed.cert))
    sender = transport(
        tls_smtpd.port,
        security="starttls",
        username="reminders",
        password="wrong",
        ssl_context=trusting,
    )
    with pytest.raises(TransportError) as caught:
        sender.send(message())
    assert not caught.value.permanent
    assert "[smtp]" in str(caught.value) and "wrong" not in str(caught.value)


def test_without_starttls_a_server_that_requires_it_refuses(tls_smtpd: SmtpServer) -> None:
    sender = transport(tls_smtpd.port, security="none")
    with pytest.raises(TransportError) as caught:
        sender.send(message())
    sender.close()
    assert tls_smtpd.mailbox.received == []
    assert "530" in str(caught.value)
    assert not caught.value.permanent  # fix the configuration and the same message goes


def test_implicit_tls_verifies_and_delivers(self_signed: Certificate) -> None:
    server = start_server(ssl_context=self_signed.server_context())
    try:
        with pytest.raises(TransportError, match="could not be verified"):
            transport(server.port, security="ssl").send(message())
        trusting = ssl.create_default_context(cafile=str(self_signed.cert))
        sender = transport(server.port, security="ssl", ssl_context=trusting)
        sender.send(message())
        sender.close()
        assert len(server.mailbox.received) == 1
    finally:
        server.controller.stop()


def test_sends_from_two_threads_each_with_its_own_transport(smtpd: SmtpServer) -> None:
    def work(prefix: str) -> None:
        sender = transport(smtpd.port)
        for n in range(20):
            sender.send(message(key=f"{prefix}{n}"))
        sender.close()

    threads = [threading.Thread(target=work, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(smtpd.mailbox.received) == 40


# ------------------------------------------------- answers lost after the message was handed over


class LateMailbox(Mailbox):
    """Takes every message, then answers DATA ``late`` seconds later; RCPT likewise when
    ``late_at_rcpt``."""

    def __init__(self, late: float, *, late_at_rcpt: bool = False) -> None:
        super().__init__()
        self.late, self.late_at_rcpt = late, late_at_rcpt

    async def handle_RCPT(self, *args: Any) -> str:
        if self.late_at_rcpt:
            await asyncio.sleep(self.late)
        return await super().handle_RCPT(*args)

    async def handle_DATA(self, *args: Any) -> str:
        reply = await super().handle_DATA(*args)  # the message is kept: the server has it
        if not self.late_at_rcpt:
            await asyncio.sleep(self.late)
        return reply


def late_server(mailbox: LateMailbox) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


def test_an_answer_to_data_after_the_timeout_is_an_unknown_outcome() -> None:
    mailbox = LateMailbox(late=1.5)
    controller = late_server(mailbox)
    sender = transport(controller.port, timeout=0.5)
    try:
        with pytest.raises(TransportError) as caught:
            sender.send(message())
        assert caught.value.outcome_unknown and not caught.value.permanent
        assert "outcome unknown" in str(caught.value)
        assert len(mailbox.received) == 1  # delivered, though the client could not know it
    finally:
        sender.close()
        controller.stop()


def test_a_timeout_before_the_message_was_handed_over_is_a_plain_retry() -> None:
    mailbox = LateMailbox(late=1.5, late_at_rcpt=True)
    controller = late_server(mailbox)
    sender = transport(controller.port, timeout=0.5)
    try:
        with pytest.raises(TransportError) as caught:
            sender.send(message())
        assert not caught.value.outcome_unknown and not caught.value.permanent
        assert mailbox.received == []
    finally:
        sender.close()
        controller.stop()


def test_a_connection_closed_after_the_final_dot_is_an_unknown_outcome() -> None:
    """A hand-written server: greets, accepts MAIL, RCPT and DATA, reads up to the final dot,
    then hangs up without answering."""
    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen()
        got: list[bytes] = []

        def serve() -> None:
            connection, _ = rude.accept()
            with connection, connection.makefile("rb") as lines:
                connection.sendall(b"220 rude.test ESMTP\r\n")
                for line in lines:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO", b"MAIL", b"RCPT"):
                        connection.sendall(b"250 OK\r\n")
                    elif verb == b"DATA":
                        connection.sendall(b"354 go ahead\r\n")
                        for body in lines:
                            if body == b".\r\n":
                                got.append(b"whole message")
                                return  # hang up instead of answering

        peer = threading.Thread(target=serve)
        peer.start()
        sender = transport(rude.getsockname()[1], timeout=2.0)
        try:
            with pytest.raises(TransportError) as caught:
                sender.send(message())
        finally:
            sender.close()
            peer.join()
    assert got == [b"whole message"]
    assert caught.value.outcome_unknown and not caught.value.permanent
