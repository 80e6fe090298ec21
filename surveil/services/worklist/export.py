"""The worklist as a spreadsheet (CSV) and as JSON for scripts: the rows shown, nothing more."""

import csv
import datetime as dt
import io
from typing import Any

from surveil.services.worklist.sections import Worklist, WorkRow

CSV_COLUMNS = (
    "section",
    "patient",
    "mrn",
    "what",
    "state",
    "urgent",
    "timing",
    "earliest",
    "target",
    "latest",
    "detail",
)
# A cell starting with one of these is a formula to a spreadsheet (ASVS 1.2.10): prefix a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def worklist_csv(worklist: Worklist) -> str:
    """The rows shown, one line each, safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for section in worklist.sections:
        for row in section.rows:
            values = [_cell(getattr(row, name)) for name in CSV_COLUMNS]
            writer.writerow(values)
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def worklist_json(worklist: Worklist) -> dict[str, Any]:
    q = worklist.query
    return {
        "date": q.today.isoformat(),
        "filters": {
            "clinic": q.clinic,
            "navigator": q.navigator,
            "site": q.site,
            "kind": q.kind,
            "search": q.search,
        },
        "sections": [
            {
                "key": s.key,
                "title": s.title,
                "count": s.count,
                "page": s.page,
                "pages": s.pages,
                "rows": [
                    {name: _json_value(getattr(row, name)) for name in WorkRow.__annotations__}
                    for row in s.rows
                ],
            }
            for s in worklist.sections
        ],
    }


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value
