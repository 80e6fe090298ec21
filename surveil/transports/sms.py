"""Text messages through an SMS provider's HTTP API (or any webhook that sends them).

The request body is the configured JSON shape with ``{to}``, ``{text}`` and ``{key}``
replaced in its strings, e.g. ``{"to": "{to}", "body": "{text}", "reference": "{key}"}``.
The idempotency key also goes in an ``Idempotency-Key`` header: providers that honour it
(the ones to prefer) drop a resend after a crash instead of texting the patient twice.

2xx is accepted. 408 and 429 (the provider is slow or rate-limiting us) and 5xx are
transient; other 4xx (bad number, refused content, bad credentials) are permanent. No answer
after the request was sent (a read timeout, the connection closed) is an *unknown* outcome: the
provider may have sent it, the retry carries the same key and is marked as a possible
duplicate. Failing to connect or to write the request is a plain transient failure.
"""

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from surveil.errors import TransportError
from surveil.transports.base import DeliveryResult, OutgoingMessage

logger = logging.getLogger(__name__)

DEFAULT_BODY: Mapping[str, Any] = {"to": "{to}", "text": "{text}", "reference": "{key}"}
_PLACEHOLDER = re.compile(r"\{(to|text|key)\}")
_RETRYABLE_4XX = frozenset({408, 429})
_ID_FIELDS = ("id", "sid", "message_id", "messageId", "reference")
# Raised while waiting for (or reading) the answer, once the request was written: the provider
# may have acted on it. Connect, write and pool errors come before that and lose nothing.
_AFTER_REQUEST = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)
_RESPONSE_KEPT = 500  # characters of the provider's answer kept for the ledger


class WebhookSmsTransport:
    def __init__(
        self,
        *,
        url: str,
        auth_header: str | None = None,
        body_template: Mapping[str, Any] = DEFAULT_BODY,
        timeout: float = 10.0,
    ) -> None:
        """``auth_header`` is one header line, e.g. ``"Authorization: Bearer <token>"``."""
        self.url = url
        self.body_template = body_template
        headers = {"Content-Type": "application/json"}
        if auth_header:
            name, sep, value = auth_header.partition(":")
            if not sep or not name.strip() or not value.strip():
                raise ValueError('auth_header must look like "Name: value"')
            headers[name.strip()] = value.strip()
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout))

    def __repr__(self) -> str:  # never shows the auth header
        return f"WebhookSmsTransport({self.url})"

    def body(self, message: OutgoingMessage) -> Any:
        values = {
            "to": message.to,
            "text": message.sms or message.text,
            "key": message.idempotency_key,
        }
        return _fill(self.body_template, values)

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        content = json.dumps(self.body(message), ensure_ascii=False).encode()
        headers = {"Idempotency-Key": message.idempotency_key}
        try:
            response = self._client.post(self.url, content=content, headers=headers)
        except _AFTER_REQUEST as error:
            raise TransportError(
                f"outcome unknown: the request was sent, then {type(error).__name__}; the "
                "provider may have sent the message, so a resend may repeat it",
                permanent=False,
                outcome_unknown=True,
            ) from None
        except httpx.HTTPError as error:
            raise TransportError(
                f"SMS provider unreachable: {type(error).__name__}: {error}", permanent=False
            ) from None
        answer = response.text[:_RESPONSE_KEPT]
        if response.is_success:
            logger.info("sms: accepted %s (%s)", message.idempotency_key, response.status_code)
            return DeliveryResult(
                provider_id=_provider_id(response), response=f"{response.status_code} {answer}"
            )
        status = response.status_code
        permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
        raise TransportError(f"SMS provider answered {status}: {answer}", permanent=permanent)

    def close(self) -> None:
        self._client.close()


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    """Substitute placeholders in every string of a JSON shape, in one pass (a ``{key}`` in
    the patient's text is never substituted again)."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, Mapping):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [_fill(v, values) for v in template]
    return template


def _provider_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, Mapping):
        for name in _ID_FIELDS:
            if isinstance(data.get(name), str | int):
                return str(data[name])
    return None
