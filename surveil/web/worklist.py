"""The worklist page (``/worklist``) and its CSV export (``/worklist.csv``)."""

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from surveil.core.vocab import ItemKind, Site
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.labels import kind_label
from surveil.services.reminders.unmatched_replies import unmatched_section
from surveil.services.validate import Checker
from surveil.services.worklist.export import worklist_csv
from surveil.services.worklist.hl7_waiting import hl7_section
from surveil.services.worklist.sections import (
    COUNT_CAP,
    OVERVIEW_ROWS,
    Worklist,
    WorklistQuery,
    build_worklist,
    filter_choices,
    filter_problems,
)
from surveil.services.worklist.views import export_worklist
from surveil.web import reports
from surveil.web.contexts import Option, SectionView, WorklistPage
from surveil.web.deps import (
    ActorDep,
    EngineDep,
    ReadDbDep,
    ReaderActorDep,
    ReaderDep,
    SettingsDep,
    UserDep,
    clinic_today,
    frame,
    render,
)

router = APIRouter()

Param = Annotated[str, Query(max_length=100)]
EVERYONE = "all"  # the navigator filter's value for "every navigator's patients"


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/worklist", status_code=303)


@router.get("/worklist", name="worklist.index")
def worklist_page(
    request: Request,
    db: ReadDbDep,  # a read-only snapshot: the page never waits behind the daemon's writes
    settings: SettingsDep,
    user: ReaderDep,
    actor: ReaderActorDep,
    engine: EngineDep,  # for the audited as-of view, which writes its audit event
    date: Param = "",
    navigator: Param = "",
    site: Param = "",
    kind: Param = "",
    clinic: Param = "",
    q: Param = "",
    section: Param = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    as_of: Param = "",
) -> Response:
    today = clinic_today(settings)
    params = _params(date, navigator, site, kind, clinic, q, section, page)
    query = _query(params, today=today, user=user)
    if as_of:  # the worklist as it was at a past moment (issue 20): read-only, audited
        return reports.as_of_page(
            request,
            engine=engine,
            settings=settings,
            user=user,
            actor=actor,
            query=query,
            params=params,
            as_of=as_of,
        )
    result = build_worklist(db, query=query, actor=actor, settings=settings, count_cap=COUNT_CAP)
    navigators, clinics = filter_choices(db, actor=actor)
    limit = settings.worklist.snooze_max_days
    ctx = WorklistPage(
        frame=frame(request, user, section="worklist", settings=settings),
        worklist=result,
        sections=tuple(_section_views(result, params)),
        today=query.today,
        is_today=query.today == today,
        navigators=_navigator_options(navigator, user, navigators),
        mine=query.navigator == user.username,
        scope_url=_scope_url(params, user),
        sites=_options(params["site"], [(s.value, s.value.replace("_", " ")) for s in Site]),
        kinds=_options(params["kind"], [(k.value, kind_label(k)) for k in ItemKind]),
        clinics=_options(params["clinic"], [(c, c) for c in clinics]) if clinics else (),
        search=q,
        csv_url=_url("/worklist.csv", params),
        overview_url=_url("/worklist", {**params, "section": "", "page": ""}),
        snooze_max=today + dt.timedelta(days=limit),
        snooze_default=today + dt.timedelta(days=min(7, limit)),
        # The overview's last section: the hospital's messages no rule could apply.
        hl7=None
        if query.section
        else hl7_section(
            db, actor=actor, rows=OVERVIEW_ROWS, authority=settings.hl7.identifier_authority
        ),
        unknown_senders=None if query.section else unmatched_section(db, rows=OVERVIEW_ROWS),
    )
    return render(request, "web/worklist/index.html", ctx)


@router.get("/worklist.csv", name="worklist.csv")
def worklist_export(
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    date: Param = "",
    navigator: Param = "",
    site: Param = "",
    kind: Param = "",
    clinic: Param = "",
    q: Param = "",
    section: Param = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Exactly the rows the page shows for the same address, as CSV. Exports are audited."""
    params = _params(date, navigator, site, kind, clinic, q, section, page)
    query = _query(params, today=clinic_today(settings), user=user)
    result = export_worklist(engine, actor=actor, query=query, settings=settings)
    name = f"worklist-{query.today.isoformat()}.csv"
    return Response(
        worklist_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _params(
    date: str,
    navigator: str,
    site: str,
    kind: str,
    clinic: str,
    q: str,
    section: str,
    page: int,
) -> dict[str, str]:
    return {
        "date": date,
        "navigator": navigator,
        "site": site,
        "kind": kind,
        "clinic": clinic,
        "q": q,
        "section": section,
        "page": str(page) if page > 1 else "",
    }


def _navigator_options(
    chosen: str, user: m.User, navigators: list[tuple[str, str]]
) -> tuple[Option, ...]:
    """A navigator's page shows their own patients unless they ask for everyone's; anyone
    else's shows everyone unless they ask for one navigator's."""
    others = tuple(Option(u, n, chosen == u) for u, n in navigators if u != user.username)
    if user.role == m.Role.NAVIGATOR:
        mine = Option("", "My patients", chosen in ("", "me"))
        return mine, Option(EVERYONE, "Whole clinic", chosen == EVERYONE), *others
    return Option("", "Everyone", not chosen), Option("me", "My patients", chosen == "me"), *others


def _scope_url(params: dict[str, str], user: m.User) -> str:
    """The same page for the other scope: the whole clinic from "my patients", and back."""
    chosen = params["navigator"]
    if user.role == m.Role.NAVIGATOR:
        other = "" if chosen == EVERYONE else EVERYONE
    else:
        other = "" if chosen == "me" else "me"
    return _url("/worklist", {**params, "navigator": other, "page": ""})


def _navigator(chosen: str, user: m.User) -> str | None:
    """The navigator whose patients the page shows (None: everyone's)."""
    if chosen == "me" or (not chosen and user.role == m.Role.NAVIGATOR):
        return user.username
    return None if chosen in ("", EVERYONE) else chosen


def _query(params: dict[str, str], *, today: dt.date, user: m.User) -> WorklistQuery:
    # Any day the validator accepts (1900-2200), past or future: "what was due on ...".
    check = Checker(today=today, what="worklist filter")
    day = check.date("date", params["date"], required=False, not_future=False) or today
    if check.problems:
        problems = check.problems + filter_problems(
            site=params["site"], kind=params["kind"], section=params["section"]
        )
        raise InvalidInput(problems, what="worklist filter")
    return WorklistQuery(
        today=day,
        clinic=params["clinic"] or None,
        navigator=_navigator(params["navigator"], user),
        site=params["site"] or None,
        kind=params["kind"] or None,
        search=params["q"] or None,
        section=params["section"] or None,
        page=int(params["page"] or 1),
    )


def _section_views(result: Worklist, params: dict[str, str]) -> list[SectionView]:
    views = []
    for s in result.sections:
        here = {**params, "section": s.key}
        prev_url = _url("/worklist", {**here, "page": str(s.page - 1)}) if s.page > 1 else None
        next_url = (
            _url("/worklist", {**here, "page": str(s.page + 1)}) if s.page < s.pages else None
        )
        focus = _url("/worklist", {**here, "page": ""})
        views.append(SectionView(s, focus, prev_url, next_url))
    return views


def _options(current: str, values: list[tuple[str, str]]) -> tuple[Option, ...]:
    return (
        Option("", "All", not current),
        *(Option(v, label, v == current) for v, label in values),
    )


def _url(path: str, params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v and not (k == "page" and v == "1")}
    return f"{path}?{urlencode(kept)}" if kept else path
