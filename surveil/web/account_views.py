"""The second factor's set-up page, shared by the account page and the login's set-up step."""

from collections.abc import Sequence

import segno
import sqlalchemy as sa
from fastapi import Request
from markupsafe import Markup

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import Problem
from surveil.services.actor import Actor
from surveil.services.users import totp
from surveil.web.account_pages import SecondFactorPage
from surveil.web.deps import frame


def second_factor_page(
    request: Request,
    engine: sa.Engine,
    settings: Settings,
    *,
    actor: Actor,
    user: m.User | None,
    action: str,
    problems: Sequence[Problem] = (),
) -> SecondFactorPage:
    """The page for ``actor``: their status, and the QR code of a set-up under way."""
    state = totp.status(engine, username=actor.username, settings=settings.security)
    pending = totp.pending_enrolment(engine, actor=actor, issuer=settings.security.totp_issuer)
    section = "account" if user is not None else "login"
    return SecondFactorPage(
        frame=frame(request, user, section=section, settings=settings),
        action=action,
        enrolled=state.enrolled,
        required=state.required,
        recovery_codes_left=state.recovery_codes_left,
        secret=_grouped(pending.secret) if pending else "",
        qr_svg=_qr(pending.uri) if pending else None,
        problems=tuple(str(p) for p in problems),
    )


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _qr(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG (no scripts or inline styles: the CSP allows it)."""
    code = segno.make(uri, error="m")
    svg = code.svg_inline(scale=4, title="QR code for your authenticator app", svgclass="totp-qr")
    return Markup(svg)  # segno's own markup; the only text in it is our fixed title
