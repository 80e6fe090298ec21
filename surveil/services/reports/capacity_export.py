"""The capacity forecast as JSON (`surveil forecast --json`) and CSV (`/reports/capacity.csv`)."""

import csv
import io
from typing import Any

from surveil.services.reports.capacity import Capacity

MEASURES = ("target", "earliest", "latest", "possible")


def capacity_json(result: Capacity) -> dict[str, Any]:
    f = result.forecast
    return {
        "clinic": result.clinic,
        "profile": result.profile,
        "what_if": result.what_if,
        "months": [m.strftime("%Y-%m") for m in f.months],
        "by": list(f.by),
        "rows": [
            {
                **dict(zip(f.by, key, strict=True)),
                "earliest": c.earliest,
                "target": c.target,
                "latest": c.latest,
                "possible": c.possible,
            }
            for key, c in f.rows
        ],
        "total": {
            "earliest": f.total.earliest,
            "target": f.total.target,
            "latest": f.total.latest,
            "possible": f.total.possible,
        },
    }


def capacity_csv(result: Capacity) -> str:
    """One line per group, the measures after the group's own columns; a header names them."""
    f = result.forecast
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*f.by, *MEASURES])
    for key, c in f.rows:
        writer.writerow([*key, c.target, c.earliest, c.latest, c.possible])
    return out.getvalue()
