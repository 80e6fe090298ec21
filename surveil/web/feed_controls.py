"""Calendar-feed controls on the patient page: list, issue, rotate, revoke.

The patient page shows ``page.feeds`` (a ``FeedPanel``) through
``templates/web/patients/_feeds.html``. Issuing or rotating answers with a page of its own that
shows the new URLs and a QR code once, rather than redirecting: the token must not travel in a
redirect URL (browser history, logs) or sit in the signed-but-readable session cookie. Every
change goes through an entry point of ``services.feeds.manage``, which checks the patient is
the user's to see and audits the change in its own transaction.
"""

from dataclasses import dataclass
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput
from surveil.services.feeds import manage
from surveil.services.feeds import tokens as feeds
from surveil.services.feeds.manage import FeedIssued, FeedPatient
from surveil.services.feeds.tokens import FeedSummary, FeedUrls
from surveil.services.reading import ReadSession
from surveil.web.contexts import Frame
from surveil.web.deps import (
    ActorDep,
    EngineDep,
    SettingsDep,
    UserDep,
    flash,
    frame,
    render,
    utc_now,
)

router = APIRouter()

Label = Annotated[str, Form(max_length=200)]


@dataclass(frozen=True)
class FeedPanel:
    """``page.feeds`` on the patient page."""

    patient_id: int
    feeds: tuple[FeedSummary, ...]
    https_ok: bool  # False: the deployment's base URL is plain http, and the page says so

    @property
    def active(self) -> int:
        return sum(1 for f in self.feeds if f.active)


@dataclass(frozen=True)
class IssuedPage:
    """The one page that ever shows a feed's URLs."""

    frame: Frame
    patient: FeedPatient
    feed: FeedSummary
    urls: FeedUrls
    qr_svg: Markup
    https_ok: bool
    replaced: str | None = None  # the public id of the feed this one replaced (rotation)


def feed_panel(session: ReadSession, *, patient_id: int, settings: Settings) -> FeedPanel:
    """The patient page's feed section: every feed of the patient, never a token."""
    return FeedPanel(
        patient_id=patient_id,
        feeds=tuple(feeds.list_feeds(session, patient_id=patient_id)),
        https_ok=_https(settings),
    )


def qr_svg(url: str) -> Markup:
    """The URL as an inline SVG QR code (no scripts, no inline styles: the CSP allows it)."""
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=4, title="QR code of the calendar link", svgclass="feed-qr")
    return Markup(svg)  # segno's own markup; the only text in it is our fixed title


@router.post("/patients/{patient_id}/feeds", name="feeds.issue")
def issue(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    label: Label = "",
) -> Response:
    try:
        issued = manage.issue_patient_feed(
            engine,
            actor=actor,
            patient_id=patient_id,
            label=label,
            base_url=settings.web.public_url,
        )
    except InvalidInput as error:
        flash(
            request, "No feed was issued.", kind="error", problems=[str(p) for p in error.problems]
        )
        return _back(patient_id)
    return _issued_page(request, settings, user, issued)


@router.post("/patients/{patient_id}/feeds/{public_id}/rotate", name="feeds.rotate")
def rotate(
    request: Request,
    patient_id: int,
    public_id: str,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
) -> Response:
    try:
        issued = manage.rotate_patient_feed(
            engine,
            actor=actor,
            public_id=public_id,
            patient_id=patient_id,
            base_url=settings.web.public_url,
            now=utc_now(),
        )
    except Conflict as error:
        flash(request, f"Nothing was changed: {error}", kind="error")
        return _back(patient_id)
    return _issued_page(request, settings, user, issued, replaced=public_id)


@router.post("/patients/{patient_id}/feeds/{public_id}/revoke", name="feeds.revoke")
def revoke(
    request: Request, patient_id: int, public_id: str, engine: EngineDep, actor: ActorDep
) -> Response:
    revoked = manage.revoke_patient_feed(
        engine, actor=actor, public_id=public_id, patient_id=patient_id, now=utc_now()
    )
    row = revoked.feed
    name = f"“{row.label}”" if row.label else row.public_id
    flash(
        request,
        f"Calendar feed {name} revoked: its link no longer works. A calendar app that had it "
        "keeps its last copy until the patient removes the subscription.",
    )
    return _back(patient_id)


def _issued_page(
    request: Request,
    settings: Settings,
    user: m.User,
    issued: FeedIssued,
    *,
    replaced: str | None = None,
) -> Response:
    page = IssuedPage(
        frame=frame(request, user, section="patients", settings=settings),
        patient=issued.patient,
        feed=issued.feed,
        urls=issued.urls,
        qr_svg=qr_svg(issued.urls.webcal),
        https_ok=_https(settings),
        replaced=replaced,
    )
    # The app sends "Cache-Control: no-store" on every page, so the URLs are not kept by the
    # browser's cache either.
    return render(request, "web/patients/feed_issued.html", page)


def _back(patient_id: int) -> Response:
    return RedirectResponse(f"/patients/{patient_id}#feeds", status_code=303)


def _https(settings: Settings) -> bool:
    return settings.web.public_url.startswith("https://")
