"""Email over SMTP with the standard library, verified TLS and an explicit timeout.

Two things smtplib does not do by itself: it waits forever without ``timeout=``, and on
Python 3.11 ``starttls()``/``SMTP_SSL`` without ``context=`` do not verify the server's
certificate. Both are always passed here.

One connection is kept open across sends (that is what makes hundreds of messages a second
possible). It is checked with NOOP after it has been idle, renewed after
``max_per_connection`` messages, and dropped after any error that leaves its state unknown.

Errors: once the whole message (up to the final dot of DATA) has been written, anything but a
clear 2xx, 4xx or 5xx answer (a reply timeout, a dropped connection, a TLS error, an
unreadable reply) is an *unknown* outcome: the server may have the message
(``TransportError.outcome_unknown``), and the resend is marked as a possible duplicate.

A 5xx answer to RCPT or DATA is about this message (550 bad mailbox, 553 bad address,
554 refused content) and is permanent. Everything else is transient and will be retried: 4xx
answers, refused or dropped connections, timeouts, and anything about our own configuration:
failures while connecting, in TLS or in AUTH, "authentication/TLS required" (530, 534, 535,
538) and a refused sender address. Those must not mark every reminder as failed for good
while somebody fixes a password; the daemon's retry limit brings them to a human.
"""

import contextlib
import datetime as dt
import logging
import re
import secrets
import smtplib
import ssl
import time
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr
from typing import Literal

from surveil.errors import TransportError
from surveil.transports.base import DeliveryResult, OutgoingMessage

logger = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]
SECURITY_MODES: tuple[Security, ...] = ("none", "starttls", "ssl")


class _WirePolicy(Compat32):
    """compat32 with CRLF (SMTP wants it; smtplib leaves bytes alone), and a header that is
    short and printable ASCII written as it is. Folding it through ``email.header.Header``
    gives the very same bytes (tests/transports/test_smtp_wire.py) at many times the cost:
    it was a fifth of building a message."""

    def fold_binary(self, name: str, value: str) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()  # no CR, LF, tab, or form feed (a line end to the stdlib)
            and len(name) + len(value) + 2 <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


WIRE_POLICY = _WirePolicy(linesep="\r\n")
_CONFIGURATION_CODES = frozenset({530, 534, 535, 538})
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class SmtpTransport:
    """Sends through one SMTP server. Not thread-safe: give each worker thread its own."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 15.0,
        helo_domain: str | None = None,
        message_id_domain: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        reuse_connection: bool = True,
        max_per_connection: int = 100,
        idle_check_after: float = 5.0,
    ) -> None:
        """``sender`` is the From header, e.g. ``"St Elsewhere" <no-reply@stelsewhere.nhs.uk>``.

        ``ssl_context`` defaults to ``ssl.create_default_context()`` (system CAs, hostname
        checked); pass one only to trust a private CA, never to switch verification off.
        """
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {SECURITY_MODES}, not {security!r}")
        display_name, envelope_from = parseaddr(sender)
        if "@" not in envelope_from or not envelope_from.isascii():
            raise ValueError(f"sender {sender!r} has no (ASCII) email address")
        self._from_header = formataddr((display_name, envelope_from))  # encodes a non-ASCII name
        self.host, self.port, self.security = host, port, security
        self.sender, self.envelope_from = sender, envelope_from
        self.username, self._password = username, password
        self.timeout, self.helo_domain = timeout, helo_domain
        self.message_id_domain = message_id_domain or envelope_from.rpartition("@")[2]
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.reuse_connection = reuse_connection
        self.max_per_connection = max_per_connection
        self.idle_check_after = idle_check_after
        self._conn: smtplib.SMTP | None = None
        self._sent_on_conn = 0
        self._last_used = 0.0

    def __repr__(self) -> str:  # never shows the password
        return f"SmtpTransport({self.host}:{self.port}, security={self.security})"

    def build(self, message: OutgoingMessage, *, now: dt.datetime | None = None) -> Message:
        """The MIME message: text first, then HTML (clients show the last part they can).

        Built with the classic ``email.mime`` classes rather than ``EmailMessage``: measured
        here, 0.6 ms instead of 2.2 ms a message, which is most of what a send costs on a
        local relay. The header checks that ``EmailMessage`` would make are made explicitly.
        """
        _check_headers(message)
        utf8 = Charset("utf-8")
        utf8.header_encoding = utf8.body_encoding = QP  # 7-bit on the wire, readable in source
        email: Message = (
            MIMEMultipart("alternative", boundary=_boundary())
            if message.html is not None
            else Message()
        )
        email["From"] = self._from_header
        email["To"] = message.to
        email["Subject"] = _header(message.subject)  # type: ignore[assignment]  # Header is fine
        email["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
        email["Message-ID"] = self.message_id(message.idempotency_key)
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: holiday autoreplies stay quiet
        for name, value in message.headers:
            email[name] = value
        if message.html is None:
            email["MIME-Version"] = "1.0"
            email.set_payload(message.text, utf8)
            return email
        email.attach(MIMEText(message.text, "plain", utf8))  # type: ignore[arg-type]
        email.attach(MIMEText(message.html, "html", utf8))  # type: ignore[arg-type]
        return email

    def message_id(self, key: str) -> str:
        return f"<{key}@{self.message_id_domain}>"

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        payload = self.build(message).as_bytes(policy=WIRE_POLICY)
        conn = self._connection()
        try:
            reply = self._transact(conn, message.to, payload)
        except _UnknownOutcome as error:
            self._drop()
            raise TransportError(
                f"outcome unknown: the message was handed over, then {error}; the server may "
                "have it, so a resend may repeat it",
                permanent=False,
                outcome_unknown=True,
            ) from None
        except smtplib.SMTPServerDisconnected as error:
            self._drop()
            raise TransportError(
                f"server closed the connection: {error}", permanent=False
            ) from None
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as error:
            self._reset(conn)
            raise _refusal(error) from None
        except UnicodeEncodeError:
            self._reset(conn)
            raise TransportError(
                "address needs SMTPUTF8, which is not used", permanent=True
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            # Before the message was handed over (after it is _UnknownOutcome): nothing is lost.
            self._drop()
            raise TransportError(f"SMTP send failed: {_describe(error)}", permanent=False) from None
        self._sent_on_conn += 1
        self._last_used = time.monotonic()
        if not self.reuse_connection:
            self.close()
        logger.info("smtp: accepted %s", message.idempotency_key)
        return DeliveryResult(provider_id=self.message_id(message.idempotency_key), response=reply)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()

    def _transact(self, conn: smtplib.SMTP, to: str, payload: bytes) -> str:
        """MAIL, RCPT, DATA one by one (not ``sendmail``) to keep the server's final answer."""
        conn.ehlo_or_helo_if_needed()
        code, text = conn.mail(self.envelope_from)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, text, self.envelope_from)
        code, text = conn.rcpt(to)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({to: (code, text)})
        code, text = _data(conn, payload)
        return f"{code} {text.decode(errors='replace')}"

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None and self._sent_on_conn >= self.max_per_connection:
            self.close()
        idle = time.monotonic() - self._last_used > self.idle_check_after
        if self._conn is not None and idle and not self._still_alive(self._conn):
            self._drop()
        if self._conn is None:
            self._conn = self._open()
            self._sent_on_conn = 0
            self._last_used = time.monotonic()
        return self._conn

    def _open(self) -> smtplib.SMTP:
        where = f"{self.host}:{self.port}"
        conn: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    self.host, self.port, local_hostname=self.helo_domain,
                    timeout=self.timeout, context=self.ssl_context,
                )  # fmt: skip
            else:
                conn = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.helo_domain, timeout=self.timeout
                )
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self._password or "")
        except ssl.SSLCertVerificationError as error:
            _close_quietly(conn)
            raise TransportError(
                f"TLS certificate of {where} could not be verified: {error.verify_message}",
                permanent=False,
            ) from None
        except smtplib.SMTPAuthenticationError as error:
            _close_quietly(conn)
            raise TransportError(
                f"SMTP login to {where} as {self.username!r} was refused ({error.smtp_code}); "
                "check the username and password in [smtp]",
                permanent=False,
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            _close_quietly(conn)
            raise TransportError(
                f"cannot open SMTP at {where}: {_describe(error)}", permanent=False
            ) from None
        return conn

    def _still_alive(self, conn: smtplib.SMTP) -> bool:
        try:
            return conn.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def _reset(self, conn: smtplib.SMTP) -> None:
        """After a refusal the session is fine; RSET clears the half-made transaction."""
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        _close_quietly(conn)


class _UnknownOutcome(Exception):
    """The end of DATA was sent and no clear 2xx, 4xx or 5xx came back."""


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _data(conn: smtplib.SMTP, payload: bytes) -> tuple[int, bytes]:
    """``SMTP.data`` in two halves, so that a failure is known to come before the message was
    handed over (clear: nothing can have been delivered) or after (unknown: RFC 1047, the
    server may have taken it and its answer got lost). smtplib reports a reply timeout or a
    dropped connection after the final dot the same way as one before DATA."""
    conn.putcmd("data")
    code, text = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, text)
    body = _LEADING_DOT.sub(b"..", payload)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    conn.send(body + b".\r\n")  # a failure here means the final dot was not all written
    try:
        code, text = conn.getreply()
    except (OSError, smtplib.SMTPException) as error:  # timeout, closed connection, TLS error
        raise _UnknownOutcome(_describe(error)) from None
    if 200 <= code < 300:
        return code, text
    if 400 <= code < 600:
        raise smtplib.SMTPDataError(code, text)
    raise _UnknownOutcome(f"the server's answer could not be read ({code} {_text(text)})")


def _refusal(
    error: smtplib.SMTPRecipientsRefused | smtplib.SMTPResponseException,
) -> TransportError:
    """Permanent only when the server refuses this recipient or this message for good."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        code, text = answers[0] if answers else (0, b"")
        permanent = bool(answers) and all(_is_final(c) for c, _ in answers)
        return TransportError(f"recipient refused: {code} {_text(text)}", permanent=permanent)
    code, answer = error.smtp_code, _text(error.smtp_error)
    if isinstance(error, smtplib.SMTPSenderRefused):
        # Refusing our own sender address is a configuration problem, whatever the code.
        return TransportError(
            f"sender refused: {code} {answer}; check the sender in [smtp]", permanent=False
        )
    return TransportError(f"message refused: {code} {answer}", permanent=_is_final(code))


def _is_final(code: int) -> bool:
    # 530/534/535/538: authentication or TLS required. The server wants our configuration
    # changed, and the same message will go through once it is.
    return code >= 500 and code not in _CONFIGURATION_CODES


def _check_headers(message: OutgoingMessage) -> None:
    if not _SAFE_KEY.fullmatch(message.idempotency_key):
        raise TransportError("idempotency key is not usable in a Message-ID", permanent=True)
    values = (message.to, message.subject, *(v for pair in message.headers for v in pair))
    if any(c in value for value in values for c in "\r\n"):
        raise TransportError("a header contains a line break (header injection?)", permanent=True)
    address = parseaddr(message.to)[1]
    if "@" not in address or address != message.to.strip():
        raise TransportError("the recipient is not one email address", permanent=True)
    if not address.isascii():
        raise TransportError("the address needs SMTPUTF8, which is not used", permanent=True)


def _boundary() -> str:
    """A MIME boundary that cannot occur in the parts, chosen here: the stdlib's own choice
    compiles a new regular expression per message to check it, a tenth of the build. The
    parts are quoted-printable, where "=" is always followed by two hex digits or the line
    end, never by "_"."""
    return f"=_{secrets.token_hex(12)}"  # short enough to keep Content-Type on one line


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _close_quietly(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()
