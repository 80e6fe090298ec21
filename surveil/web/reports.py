"""The clinic as a whole (issue 20): the worklist as it was (``/worklist?as_of=``)."""

from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response

from surveil.config import Settings
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.reports.as_of import NOT_RECONSTRUCTED, AsOf, parse_moment, worklist_as_of
from surveil.services.worklist.sections import WorklistQuery
from surveil.web.contexts import Frame, SectionView
from surveil.web.deps import frame, render, utc_now


@dataclass(frozen=True)
class AsOfPage:
    frame: Frame
    then: AsOf
    sections: tuple[SectionView, ...]
    as_of: str  # the moment as typed, for the form
    live_url: str  # the same filters, today
    not_reconstructed: tuple[str, ...] = NOT_RECONSTRUCTED


def as_of_page(
    request: Request,
    *,
    engine: sa.Engine,
    settings: Settings,
    user: m.User,
    actor: Actor,
    query: WorklistQuery,
    params: dict[str, str],
    as_of: str,
) -> Response:
    """The worklist at a past moment, read-only: no action forms, every row as it stood then."""
    moment = parse_moment(as_of, settings.clinic.timezone, now=utc_now())
    then = worklist_as_of(engine, actor=actor, query=query, moment=moment, settings=settings)
    here = {**params, "date": "", "as_of": as_of}
    views = []
    for s in then.worklist.sections:
        focus = {**here, "section": s.key, "page": ""}
        prev_url = _url({**focus, "page": str(s.page - 1)}) if s.page > 1 else None
        next_url = _url({**focus, "page": str(s.page + 1)}) if s.page < s.pages else None
        views.append(SectionView(s, _url(focus), prev_url, next_url))
    page = AsOfPage(
        frame=frame(request, user, section="worklist", settings=settings),
        then=then,
        sections=tuple(views),
        # The form's datetime-local input takes minutes only.
        as_of=moment.astimezone(ZoneInfo(settings.clinic.timezone)).strftime("%Y-%m-%dT%H:%M"),
        live_url=_url({**params, "date": "", "page": ""}),
    )
    return render(request, "web/reports/worklist_as_of.html", page)


def _url(params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v and not (k == "page" and v == "1")}
    return f"/worklist?{urlencode(kept)}" if kept else "/worklist"
