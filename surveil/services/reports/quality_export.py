"""The quality figures as JSON (``/reports/quality.json``) and CSV (``/reports/quality.csv``)."""

import csv
import io
from typing import Any

from surveil.services.reports.quality import Quality


def quality_json(r: Quality) -> dict[str, Any]:
    t = r.timeliness
    return {
        "period": {"start": r.query.start.isoformat(), "end": r.query.end.isoformat()},
        "filters": {
            "clinic": r.query.clinic,
            "navigator": r.query.navigator,
            "site": r.query.site,
            "rule": r.query.rule,
        },
        "done": t.done,
        "on_time": t.on_time,
        "on_time_pct": t.on_time_pct,
        "early": t.early,
        "late": t.late,
        "late_days_median": t.late_days_median,
        "late_days_max": t.late_days_max,
        "still_overdue": r.still_overdue,
        "lost_items": r.lost_items,
        "lost_patients": r.lost_patients,
        "patients_with_open_items": r.patients_with_open,
        "lost_rate_pct": r.lost_rate,
        "trigger_to_tumour_board": vars(r.to_board),
        "trigger_to_resolution": vars(r.to_resolution),
        "reminders": {
            "due": r.reminders_due,
            "sent": r.reminders_sent,
            "failed": r.reminders_failed,
            "sent_pct": r.sent_pct,
            "failed_pct": r.failed_pct,
        },
        "declines_and_overrides": [
            {"what": w, "rule": rule, "reason": reason, "count": n}
            for w, rule, reason, n in r.declines
        ],
        "trend": [
            {"month": month, "done": f.done, "on_time": f.on_time, "on_time_pct": f.on_time_pct}
            for month, f in r.trend
        ],
    }


def quality_csv(r: Quality) -> str:
    """The headline figures as ``figure,value`` lines, then the trend by month."""
    data = quality_json(r)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["figure", "value"])
    for key in (
        "done",
        "on_time",
        "on_time_pct",
        "early",
        "late",
        "late_days_median",
        "late_days_max",
        "still_overdue",
        "lost_items",
        "lost_patients",
        "patients_with_open_items",
        "lost_rate_pct",
    ):
        writer.writerow([key, "" if data[key] is None else data[key]])
    for name in ("trigger_to_tumour_board", "trigger_to_resolution"):
        for key, value in data[name].items():
            writer.writerow([f"{name}.{key}", "" if value is None else value])
    for key, value in data["reminders"].items():
        writer.writerow([f"reminders.{key}", "" if value is None else value])
    writer.writerow([])
    writer.writerow(["month", "done", "on_time", "on_time_pct"])
    for row in data["trend"]:
        pct = "" if row["on_time_pct"] is None else row["on_time_pct"]
        writer.writerow([row["month"], row["done"], row["on_time"], pct])
    return out.getvalue()
