"""``/reports/quality`` (HTML, ``.csv``, ``.json``): on time, late, overdue, lost, time to the
tumour board, reminder delivery, declines and overrides for a period (issue 20, point 1)."""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from surveil.config import Settings
from surveil.core.quality import DEFINITIONS
from surveil.errors import InvalidInput
from surveil.services.reports.quality import Quality, QualityQuery, quality_report
from surveil.services.reports.quality_export import quality_csv, quality_json
from surveil.services.validate import Checker
from surveil.web.contexts import Frame
from surveil.web.deps import (
    EngineDep,
    ReaderActorDep,
    ReaderDep,
    SettingsDep,
    clinic_today,
    frame,
    render,
)
from surveil.web.report_charts import BarChart, trend_chart

router = APIRouter()
Param = Annotated[str, Query(max_length=100)]


@dataclass(frozen=True)
class QualityPage:
    frame: Frame
    result: Quality
    charts: tuple[BarChart, ...]
    definitions: tuple[tuple[str, str], ...]
    form: dict[str, str]
    csv_url: str
    json_url: str


@router.get("/reports/quality", name="reports.quality")
def quality_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: ReaderDep,
    actor: ReaderActorDep,
    start: Param = "",
    end: Param = "",
    clinic: Param = "",
    navigator: Param = "",
    site: Param = "",
    rule: Param = "",
) -> Response:
    form = {
        "start": start,
        "end": end,
        "clinic": clinic,
        "navigator": navigator,
        "site": site,
        "rule": rule,
    }
    query = _query(form, settings)
    result = quality_report(engine, actor=actor, query=query, settings=settings)
    shown = {**form, "start": query.start.isoformat(), "end": query.end.isoformat()}
    kept = urlencode({k: v for k, v in shown.items() if v})
    page = QualityPage(
        frame=frame(request, user, section="reports", settings=settings),
        result=result,
        charts=(
            trend_chart("Done on time", [(m, f.on_time_pct) for m, f in result.trend], unit="%"),
            trend_chart("Tests done", [(m, float(f.done)) for m, f in result.trend], unit=""),
        ),
        definitions=DEFINITIONS,
        form=shown,
        csv_url=f"/reports/quality.csv?{kept}",
        json_url=f"/reports/quality.json?{kept}",
    )
    return render(request, "web/reports/quality.html", page)


@router.get("/reports/quality.csv", name="reports.quality_csv")
def quality_export_csv(
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    start: Param = "",
    end: Param = "",
    clinic: Param = "",
    navigator: Param = "",
    site: Param = "",
    rule: Param = "",
) -> Response:
    form = {
        "start": start,
        "end": end,
        "clinic": clinic,
        "navigator": navigator,
        "site": site,
        "rule": rule,
    }
    query = _query(form, settings)
    result = quality_report(engine, actor=actor, query=query, settings=settings)
    name = f"quality-{query.start}-{query.end}.csv"
    return Response(
        quality_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/reports/quality.json", name="reports.quality_json")
def quality_export_json(
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    start: Param = "",
    end: Param = "",
    clinic: Param = "",
    navigator: Param = "",
    site: Param = "",
    rule: Param = "",
) -> Response:
    form = {
        "start": start,
        "end": end,
        "clinic": clinic,
        "navigator": navigator,
        "site": site,
        "rule": rule,
    }
    result = quality_report(engine, actor=actor, query=_query(form, settings), settings=settings)
    return JSONResponse(quality_json(result))


def _query(form: dict[str, str], settings: Settings) -> QualityQuery:
    """The period (default: the last twelve whole months up to today) and the filters."""
    today = clinic_today(settings)
    check = Checker(today=today, what="quality period")
    end = check.date("end", form["end"], required=False, not_future=False) or today
    default_start = end.replace(day=1) - relativedelta(months=11)
    start = check.date("start", form["start"], required=False, not_future=False) or default_start
    if check.problems:
        raise InvalidInput(check.problems, what="quality period")
    return QualityQuery(
        start=start,
        end=end,
        clinic=form["clinic"] or None,
        navigator=form["navigator"] or None,
        site=form["site"] or None,
        rule=form["rule"] or None,
    )
