"""Every registered transport keeps the same contract, against its real peer."""

import logging
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer

from surveil.transports import (
    TRANSPORTS,
    DeliveryResult,
    LogTransport,
    OutgoingMessage,
    Transport,
)
from tests.transports.peers import SmtpServer

MESSAGE = OutgoingMessage(
    idempotency_key="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    to="ann@example.org",
    subject="Reminder from St Elsewhere Hospital",
    text="Dear Ann,\nWhat: Blood test\n",
    html="<p>Dear Ann,</p>",
    sms="St Elsewhere Hospital: blood test due.",
)


def make_smtp(smtpd: SmtpServer, _httpserver: HTTPServer) -> Transport:
    return TRANSPORTS["smtp"](
        host="127.0.0.1",
        port=smtpd.port,
        sender="no-reply@stelsewhere.example",
        security="none",
        helo_domain="surveil.test",
    )


def make_sms(_smtpd: SmtpServer, httpserver: HTTPServer) -> Transport:
    httpserver.expect_request("/sms").respond_with_json({"id": "SM1"}, status=201)
    return TRANSPORTS["sms"](url=httpserver.url_for("/sms"))


def make_log(_smtpd: SmtpServer, _httpserver: HTTPServer) -> Transport:
    return TRANSPORTS["log"]()


Factory = Callable[[SmtpServer, HTTPServer], Transport]


def test_the_registry_names_every_transport() -> None:
    assert sorted(TRANSPORTS) == ["log", "sms", "smtp"]


@pytest.mark.parametrize("factory", [make_smtp, make_sms, make_log], ids=["smtp", "sms", "log"])
def test_send_returns_a_receipt_and_close_is_idempotent(
    factory: Factory, smtpd: SmtpServer, httpserver: HTTPServer
) -> None:
    transport = factory(smtpd, httpserver)
    first = transport.send(MESSAGE)
    second = transport.send(MESSAGE)  # a resend is the caller's decision, not refused here
    assert isinstance(first, DeliveryResult) and first.provider_id
    assert first == second or first.provider_id == second.provider_id
    transport.close()
    transport.close()


def test_log_transport_keeps_what_it_would_send_and_logs_no_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = LogTransport()
    with caplog.at_level(logging.DEBUG):
        result = transport.send(MESSAGE)
    assert list(transport.sent) == [MESSAGE]
    assert result.provider_id == f"dry-run:{MESSAGE.idempotency_key}"
    assert MESSAGE.idempotency_key in caplog.text
    for secret in ("ann@example.org", "Blood test", "Dear Ann"):
        assert secret not in caplog.text


def test_log_transport_memory_is_bounded() -> None:
    transport = LogTransport(keep=3)
    for _ in range(10):
        transport.send(MESSAGE)
    assert len(transport.sent) == 3
