import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from surveil.errors import TransportError
from surveil.transports import OutgoingMessage, WebhookSmsTransport

KEY = "5e0c3b7f9a2d4e61b8c07f1a2d3e4b5c"
TEXT = 'St Elsewhere Hospital: blood test due. Call 020 7946 0000. "{key}" stays as written'


def message(to: str = "+447700900123") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=KEY, to=to, subject="Reminder", text="long email text", sms=TEXT
    )


@pytest.fixture
def sms(httpserver: HTTPServer) -> Iterator[WebhookSmsTransport]:
    transport = WebhookSmsTransport(
        url=httpserver.url_for("/v1/messages"),
        auth_header="Authorization: Bearer test-token",
        body_template={"to": "{to}", "body": "{text}", "meta": {"ref": "{key}"}, "flash": False},
        timeout=1.0,
    )
    yield transport
    transport.close()


def test_accepted_with_idempotency_header_auth_and_templated_body(
    httpserver: HTTPServer, sms: WebhookSmsTransport
) -> None:
    httpserver.expect_oneshot_request(
        "/v1/messages",
        method="POST",
        headers={"Idempotency-Key": KEY, "Authorization": "Bearer test-token"},
    ).respond_with_json({"id": "SM123", "status": "queued"}, status=201)
    result = sms.send(message())
    httpserver.check_assertions()
    [(request, _)] = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.data) == {
        "to": "+447700900123",
        "body": TEXT,  # the "{key}" inside the patient's text is not substituted again
        "meta": {"ref": KEY},
        "flash": False,
    }
    assert result.provider_id == "SM123"
    assert result.response.startswith("201 ")


def test_the_email_text_is_sent_when_there_is_no_sms_text(
    httpserver: HTTPServer, sms: WebhookSmsTransport
) -> None:
    httpserver.expect_oneshot_request("/v1/messages").respond_with_data("ok", status=200)
    result = sms.send(OutgoingMessage(KEY, "+447700900123", "Reminder", "plain text"))
    assert json.loads(httpserver.log[0][0].data)["body"] == "plain text"
    assert result.provider_id is None  # a provider that gives no id


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, True), (401, True), (404, True), (422, True), (408, False), (429, False),
     (500, False), (502, False), (503, False)],
)  # fmt: skip
def test_status_codes_are_classified(
    httpserver: HTTPServer, sms: WebhookSmsTransport, status: int, permanent: bool
) -> None:
    httpserver.expect_oneshot_request("/v1/messages").respond_with_json(
        {"error": f"status {status}"}, status=status
    )
    with pytest.raises(TransportError) as caught:
        sms.send(message())
    assert caught.value.permanent is permanent
    assert str(status) in str(caught.value)


def test_a_timeout_after_the_request_was_sent_is_an_unknown_outcome(
    httpserver: HTTPServer, sms: WebhookSmsTransport
) -> None:
    taken: list[bytes] = []

    def slow(request: Request) -> Response:
        taken.append(request.get_data())  # the provider has the whole request ...
        time.sleep(1.5)  # ... and answers after the transport's 1 s timeout
        return Response("late", status=201)

    httpserver.expect_oneshot_request("/v1/messages").respond_with_handler(slow)
    with pytest.raises(TransportError) as caught:
        sms.send(message())
    assert not caught.value.permanent
    assert caught.value.outcome_unknown
    assert "ReadTimeout" in str(caught.value)
    assert len(taken) == 1 and KEY.encode() in taken[0]


def test_a_provider_that_closes_the_connection_without_answering_is_unknown() -> None:
    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen()

        def take_and_hang_up() -> None:
            connection, _ = rude.accept()
            with connection:
                connection.recv(65536)  # the request arrives
            # closed without a status line

        peer = threading.Thread(target=take_and_hang_up)
        peer.start()
        transport = WebhookSmsTransport(url=f"http://127.0.0.1:{rude.getsockname()[1]}/v1")
        try:
            with pytest.raises(TransportError) as caught:
                transport.send(message())
        finally:
            transport.close()
            peer.join()
    assert caught.value.outcome_unknown and not caught.value.permanent


def test_an_unreachable_provider_is_transient(httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/v1/messages")
    httpserver.stop()
    transport = WebhookSmsTransport(url=url, timeout=1.0)
    try:
        with pytest.raises(TransportError) as caught:
            transport.send(message())
        assert not caught.value.permanent
        assert not caught.value.outcome_unknown  # nothing was sent: nothing can be repeated
    finally:
        transport.close()
        httpserver.start()


def test_retry_sends_the_same_key(httpserver: HTTPServer, sms: WebhookSmsTransport) -> None:
    httpserver.expect_ordered_request("/v1/messages").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/v1/messages").respond_with_json({"sid": 42}, status=202)
    with pytest.raises(TransportError):
        sms.send(message())
    assert sms.send(message()).provider_id == "42"
    keys = [request.headers["Idempotency-Key"] for request, _ in httpserver.log]
    assert keys == [KEY, KEY]


def test_auth_header_must_be_name_and_value() -> None:
    with pytest.raises(ValueError, match="Name: value"):
        WebhookSmsTransport(url="http://127.0.0.1:9/", auth_header="Bearer token")


def test_repr_hides_the_auth_header() -> None:
    transport = WebhookSmsTransport(url="http://127.0.0.1:9/", auth_header="X-Api-Key: s3cret")
    assert "s3cret" not in repr(transport)
    transport.close()
