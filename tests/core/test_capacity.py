"""Capacity counts computed by hand on four items (core.capacity)."""

import datetime as dt

from surveil.core.capacity import Counts, Need, forecast, parse_by

TODAY = dt.date(2026, 6, 15)  # the horizon starts in June 2026


def need(kind: str, earliest: str, target: str, latest: str, site: str = "pancreas") -> Need:
    d = dt.date.fromisoformat
    return Need(kind, site, d(earliest), d(target), d(latest))


NEEDS = [
    need("mri", "2026-06-20", "2026-07-10", "2026-08-05"),  # spans June to August
    need("mri", "2026-04-01", "2026-05-01", "2026-05-20"),  # overdue: needed now, in June
    need("cga", "2026-07-01", "2026-07-15", "2026-07-30", site="small_bowel"),  # a blood test
    need("ct", "2026-08-25", "2026-09-10", "2026-10-01"),  # target beyond a 3-month horizon
]


def test_each_month_counts_earliest_target_latest_and_possible() -> None:
    by, wrong = parse_by("month,resource")
    assert by == ("resource", "month") and wrong == []
    result = forecast(NEEDS, today=TODAY, months=3, by=by)
    table = {key: counts.as_tuple() for key, counts in result.rows}
    # (earliest, target, latest, possible), worked out from the windows above.
    assert table == {
        # Both open in June; all of the overdue one's dates count now.
        ("MRI", "2026-06"): (2, 1, 1, 2),
        ("MRI", "2026-07"): (0, 1, 0, 1),
        ("MRI", "2026-08"): (0, 0, 1, 1),
        ("Blood tests", "2026-07"): (1, 1, 1, 1),
        ("CT", "2026-08"): (1, 0, 0, 1),  # opens in August; target and latest after the horizon
    }
    assert [m.isoformat() for m in result.months] == ["2026-06-01", "2026-07-01", "2026-08-01"]
    assert result.total == Counts(earliest=4, target=3, latest=3, possible=4)
    order = [k for k, _ in result.rows]  # MRI before CT before blood tests, then by month
    assert order[0] == ("MRI", "2026-06") and order[-1] == ("Blood tests", "2026-07")


def test_grouping_by_kind_and_site_over_the_whole_horizon() -> None:
    by, wrong = parse_by("kind,site,colour")
    assert wrong == ["colour"]
    table = {k: c.as_tuple() for k, c in forecast(NEEDS, today=TODAY, months=12, by=by).rows}
    # Over a year every date falls inside; "possible" counts each item once, not per month.
    assert table == {
        ("cga", "small_bowel"): (1, 1, 1, 1),
        ("ct", "pancreas"): (1, 1, 1, 1),
        ("mri", "pancreas"): (2, 2, 2, 2),
    }
