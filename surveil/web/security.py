"""The web app's defences: the session cookie, CSRF tokens, the Origin check and response headers.

- Sessions live on the server (``services.users.web_sessions``): the cookie carries only a random
  id, and its data (who is signed in, the CSRF secret, flash messages) is a database row that
  every web worker shares. Logout, deactivation and "sign out everywhere" end the row, so a copied
  cookie stops working at once (ASVS 7.4.1, 7.4.2); idle (``web.session_minutes``) and absolute
  (12 h) expiry are checked on every request.
- The cookie is HttpOnly, SameSite=Strict, has no Max-Age (it goes when the browser closes), and is
  Secure with the ``__Host-`` prefix behind HTTPS.
- Every unsafe request must carry the session's synchronizer token in a ``csrf_token`` field and,
  when the browser sends an Origin, come from our own origin (ASVS 3.5.1).
- Every response gets a CSP without inline scripts or styles, no-store on pages (PHI), and the
  usual hardening headers (ASVS 3.4.x, 14.3.2).
"""

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from surveil.config import WebSettings
from surveil.errors import PermissionDenied
from surveil.web.server_sessions import ServerSessions, session_state

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
    app.add_middleware(ServerSessions, cookie=cookie_name(settings), settings=settings)
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


def start_session(request: Request, *, token: str, user_id: int) -> None:
    """Switch the request to the session opened at login (ASVS 7.2.4: a new session at
    authentication): nothing from before survives, including the CSRF token."""
    session_state(request.scope).adopt(token, user_id)
    csrf_token(request)


def end_session(request: Request) -> None:
    """Forget the session in this browser too (the service has ended it on the server)."""
    session_state(request.scope).forget()


def session_token(request: Request) -> str | None:
    """The id in this request's cookie, when it named a live session (for logout and login)."""
    return session_state(request.scope).token


def session_id(request: Request) -> int | None:
    """The stored session's own id (what the sessions page names; not the cookie's secret)."""
    return session_state(request.scope).row_id


def session_user_id(request: Request) -> int | None:
    """The signed-in user's id, or None (no live session, or one from before login)."""
    return session_state(request.scope).user_id


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
