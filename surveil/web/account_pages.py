"""Page contexts of the account pages and the login's extra steps (second factor, enrolment,
new password). Kept beside, not in, ``web/contexts.py`` so this area stays in its own files."""

from dataclasses import dataclass

from markupsafe import Markup

from surveil.web.contexts import Frame


@dataclass(frozen=True)
class PasswordPage:
    """``/account/password`` (own change) and ``/login/new-password`` (forced change)."""

    frame: Frame
    action: str
    ask_current: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecondFactorPage:
    """Set-up of the authenticator app: the QR code and secret of the pending enrolment, or the
    button that starts one; ``action`` is the form's base path (/account or /login)."""

    frame: Frame
    action: str
    enrolled: bool
    required: bool
    recovery_codes_left: int = 0
    secret: str = ""  # grouped in fours for typing
    qr_svg: Markup | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecoveryCodesPage:
    frame: Frame
    codes: tuple[str, ...]
    continue_url: str
    continue_label: str
    continue_with_post: bool = False


@dataclass(frozen=True)
class CodePage:
    """``/login/second-factor``: the code from the app, or a recovery code."""

    frame: Frame
    error: str = ""
