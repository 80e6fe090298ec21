"""The web app's defences: the session cookie, CSRF tokens, the Origin check and response headers.

- Sessions are Starlette's signed cookie (itsdangerous). ``max_age`` is re-signed on every
  response, so it acts as the *inactivity* timeout (``web.session_minutes``); ``auth_at`` in the
  session adds an absolute lifetime (NIST 800-63B AAL2: 12 h). Every request re-reads the account,
  so deactivating a user ends their sessions at once (ASVS 7.4.2).
- The cookie is HttpOnly, SameSite=Strict, and Secure with the ``__Host-`` prefix behind HTTPS.
- Every unsafe request must carry the session's synchronizer token in a ``csrf_token`` field and,
  when the browser sends an Origin, come from our own origin (ASVS 3.5.1).
- Every response gets a CSP without inline scripts or styles, no-store on pages (PHI), and the
  usual hardening headers (ASVS 3.4.x, 14.3.2).
"""

import datetime as dt
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from surveil.config import WebSettings
from surveil.errors import PermissionDenied

ABSOLUTE_LIFETIME = dt.timedelta(hours=12)
CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)


class CsrfRejected(PermissionDenied):
    """A state-changing request without our token, or from another origin."""


def cookie_name(settings: WebSettings) -> str:
    # __Host- forbids Domain and requires Secure and Path=/: the cookie cannot be planted by a
    # sibling subdomain (ASVS 3.3.1). Browsers refuse it over plain HTTP, hence the condition.
    return "__Host-surveil" if settings.https_only else "surveil_session"


def install(app: FastAPI, settings: WebSettings) -> None:
    """Add the session and header middleware (outermost last: headers wrap everything)."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=cookie_name(settings),
        max_age=settings.session_minutes * 60,
        same_site="strict",
        https_only=settings.https_only,
    )
    app.add_middleware(SecurityHeaders, hsts=settings.https_only)


def csrf_token(request: Request) -> str:
    """The session's synchronizer token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: every unsafe method needs our origin and our token. Routers added
    later (e.g. calendar feeds) are covered without having to remember it."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request):
        raise CsrfRejected("This form did not come from this site.")
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not (isinstance(sent, str) and isinstance(expected, str)):
        raise CsrfRejected("This form has expired. Reload the page and try again.")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected("This form has expired. Reload the page and try again.")


def own_origin(request: Request) -> str:
    url = urlsplit(str(request.url))
    return f"{url.scheme}://{url.netloc}"


def start_session(request: Request, *, user_id: int, now: dt.datetime) -> None:
    """A fresh session at login: nothing from before survives, including the CSRF token
    (ASVS 7.2.4: a new session at authentication)."""
    request.session.clear()
    request.session.update({"uid": user_id, "auth_at": now.timestamp()})
    csrf_token(request)


def session_user_id(request: Request, *, now: dt.datetime) -> int | None:
    """The logged-in user's id, or None when absent or past the absolute lifetime."""
    uid, auth_at = request.session.get("uid"), request.session.get("auth_at")
    if not isinstance(uid, int) or not isinstance(auth_at, int | float):
        return None
    if now - dt.datetime.fromtimestamp(auth_at, dt.UTC) > ABSOLUTE_LIFETIME:
        request.session.clear()
        return None
    return uid


def safe_next(target: str | None, default: str = "/worklist") -> str:
    """Only same-site paths: an open redirect would turn our login page into a phishing aid."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering) adding headers to every response."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in self._headers(static):
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, static: bool) -> list[tuple[str, str]]:
        headers = [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            # same-origin, not no-referrer: with no-referrer Chrome sends "Origin: null" on our
            # own form posts, and the Origin check could not tell them from a forgery.
            ("referrer-policy", "same-origin"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
            ("cache-control", "public, max-age=3600" if static else "no-store"),
        ]
        if self.hsts:
            headers.append(("strict-transport-security", "max-age=31536000; includeSubDomains"))
        return headers
