"""The clinic as a whole (issue 20): the reports' own page (``/reports``, the one "Reports" link
of the header), the worklist as it was (``/worklist?as_of=``) and the capacity forecast
(``/reports/capacity``, its CSV)."""

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from surveil.config import Settings
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.reports.as_of import AsOf, parse_moment, worklist_as_of
from surveil.services.reports.capacity import MAX_MONTHS, Capacity, CapacityQuery, capacity_forecast
from surveil.services.reports.capacity_export import capacity_csv
from surveil.services.reports.letters import letters_in_one_pdf, letters_pdf, patient_letters
from surveil.services.worklist.sections import COUNT_CAP, WorklistQuery
from surveil.web.contexts import Frame, SectionView
from surveil.web.deps import (
    EngineDep,
    ReaderActorDep,
    ReaderDep,
    SettingsDep,
    clinic_today,
    frame,
    render,
    utc_now,
)
from surveil.web.report_charts import BarChart, MonthCounts, bar_chart
from surveil.web.security import CSP

router = APIRouter()
Param = Annotated[str, Query(max_length=100)]


@dataclass(frozen=True)
class ReportLink:
    url: str
    title: str
    about: str


@dataclass(frozen=True)
class ReportsPage:
    frame: Frame
    reports: tuple[ReportLink, ...]


@router.get("/reports", name="reports.index")
def reports_index(request: Request, settings: SettingsDep, user: ReaderDep) -> Response:
    """Every report in one place: the header has one "Reports" link, not one per report (nine
    links did not fit a phone's width)."""
    yesterday = (clinic_today(settings) - dt.timedelta(days=1)).isoformat()
    reports = [
        ReportLink(
            "/reports/quality",
            "Quality of surveillance",
            "On time, late, overdue and lost to follow-up, with 24 months of trend.",
        ),
        ReportLink(
            "/reports/capacity",
            "Capacity forecast",
            "Scans, tests, injections and tumour boards the plans need, month by month.",
        ),
        ReportLink(
            "/reports/reasons",
            "Reasons by rule",
            "Why items were declined, snoozed, overridden or reopened.",
        ),
        ReportLink(
            f"/worklist?as_of={yesterday}T09:00",
            "The worklist as it was",
            "Any past moment's worklist, rebuilt from history, for incident review.",
        ),
    ]
    if user.role == m.Role.NAVIGATOR:  # the quality page is for clinicians and administrators
        reports = reports[1:]
    page = ReportsPage(
        frame=frame(request, user, section="reports", settings=settings), reports=tuple(reports)
    )
    return render(request, "web/reports/index.html", page)


@dataclass(frozen=True)
class AsOfPage:
    frame: Frame
    then: AsOf
    sections: tuple[SectionView, ...]
    as_of: str  # the moment as typed, for the form
    live_url: str  # the same filters, today


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
    then = worklist_as_of(
        engine, actor=actor, query=query, moment=moment, settings=settings, count_cap=COUNT_CAP
    )
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


# --------------------------------------------------------------------------- capacity


@dataclass(frozen=True)
class CapacityPage:
    frame: Frame
    result: Capacity
    charts: tuple[BarChart, ...]
    months: str
    by: str
    profile: str
    csv_url: str
    max_months: int = MAX_MONTHS


@router.get("/reports/capacity", name="reports.capacity")
def capacity_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: ReaderDep,
    actor: ReaderActorDep,
    months: Param = "12",
    by: Param = "resource,month",
    profile: Param = "",
    clinic: Param = "",
) -> Response:
    query = _capacity_query(months, by, profile, clinic)
    today = clinic_today(settings)
    result = capacity_forecast(engine, actor=actor, query=query, settings=settings, today=today)
    by_month = capacity_forecast(
        engine,
        actor=actor,
        query=CapacityQuery(query.months, "resource,month", query.clinic, query.profile),
        settings=settings,
        today=today,
    )
    page = CapacityPage(
        frame=frame(request, user, section="reports", settings=settings),
        result=result,
        charts=_charts(by_month),
        months=str(query.months),
        by=query.by,
        profile=profile,
        csv_url="/reports/capacity.csv?"
        + urlencode({"months": query.months, "by": query.by, "profile": profile, "clinic": clinic}),
    )
    return render(request, "web/reports/capacity.html", page)


@router.get("/reports/capacity.csv", name="reports.capacity_csv")
def capacity_export(
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    months: Param = "12",
    by: Param = "resource,month",
    profile: Param = "",
    clinic: Param = "",
) -> Response:
    query = _capacity_query(months, by, profile, clinic)
    today = clinic_today(settings)
    result = capacity_forecast(engine, actor=actor, query=query, settings=settings, today=today)
    name = f"capacity-{today.isoformat()}.csv"
    return Response(
        capacity_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _capacity_query(months: str, by: str, profile: str, clinic: str) -> CapacityQuery:
    try:
        count = int(months)
    except ValueError:
        count = 0  # refused by the service, which names the field with every other problem
    return CapacityQuery(
        months=count, by=by or "resource,month", clinic=clinic or None, profile=profile or None
    )


def _charts(result: Capacity) -> tuple[BarChart, ...]:
    """One chart per resource, a bar for every month of the horizon (empty months too)."""
    f = result.forecast
    per: dict[str, dict[str, MonthCounts]] = {}
    for (resource, month), c in f.rows:
        per.setdefault(resource, {})[month] = MonthCounts(
            month, c.target, c.earliest, c.latest, c.possible
        )
    labels = [m.strftime("%Y-%m") for m in f.months]
    return tuple(
        bar_chart(resource, [months.get(m, MonthCounts(m, 0, 0, 0, 0)) for m in labels])
        for resource, months in per.items()
    )


# --------------------------------------------------------------------------- letters


@router.get("/reports/letters/{patient_id:int}", name="reports.letter")
def letter_page(
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    patient_id: int,
    months: Annotated[int, Query()] = 12,
    handover: Annotated[bool, Query()] = False,
) -> Response:
    """The letter as a page to print (its own print stylesheet; no site chrome)."""
    (letter,) = patient_letters(
        engine,
        actor=actor,
        patient_ids=[patient_id],
        months=months,
        handover=handover,
        settings=settings,
        today=clinic_today(settings),
    )
    return Response(
        letter.html,
        media_type="text/html; charset=utf-8",
        headers={"content-security-policy": _letter_csp(letter.html)},
    )


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _letter_csp(html: str) -> str:
    """The site's policy, letting this page's own inline print stylesheet (and no other) apply:
    the letter is one self-contained document (WeasyPrint reads the same HTML), and without its
    hash the browser drops the stylesheet, so the printed page lost its layout."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
        for css in _STYLE.findall(html)
    ]
    return CSP.replace("style-src 'self'", " ".join(["style-src 'self'", *hashes]))


@router.get("/reports/letters/{patient_id}.pdf", name="reports.letter_pdf")
def letter_pdf(
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    patient_id: int,
    months: Annotated[int, Query()] = 12,
    handover: Annotated[bool, Query()] = False,
) -> Response:
    letters = patient_letters(
        engine,
        actor=actor,
        patient_ids=[patient_id],
        months=months,
        handover=handover,
        settings=settings,
        today=clinic_today(settings),
    )
    return Response(
        letters_pdf(letters)[0],
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="plan-{patient_id}.pdf"'},
    )


@router.get("/reports/letters.pdf", name="reports.letters_pdf")
def letters_bulk_pdf(
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    mrn: Annotated[list[str], Query(max_length=32)],
    months: Annotated[int, Query()] = 12,
    handover: Annotated[bool, Query()] = False,
) -> Response:
    """Many patients' letters in one PDF, one letter per page run: ``?mrn=100&mrn=101``."""
    letters = patient_letters(
        engine,
        actor=actor,
        mrns=mrn,
        months=months,
        handover=handover,
        settings=settings,
        today=clinic_today(settings),
    )
    return Response(
        letters_in_one_pdf(letters),
        media_type="application/pdf",
        headers={"content-disposition": 'attachment; filename="plans.pdf"'},
    )
