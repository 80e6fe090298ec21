"""``plus`` and ``years_after`` are exactly ``day + relativedelta`` (the planner's one step)."""

import datetime as dt

from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from surveil.core.protocol import Interval, Unit
from surveil.core.windows import add_months, after, before, plus, years_after

DAYS = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))
AMOUNTS = st.integers(min_value=-600, max_value=600)


@given(DAYS, AMOUNTS)
def test_months_match_relativedelta(day: dt.date, months: int) -> None:
    assert add_months(day, months) == day + relativedelta(months=months)
    assert plus(day, Unit.MONTHS, months) == day + relativedelta(months=months)


@given(DAYS, AMOUNTS)
def test_days_and_weeks_match_relativedelta(day: dt.date, amount: int) -> None:
    assert plus(day, Unit.DAYS, amount) == day + relativedelta(days=amount)
    assert plus(day, Unit.WEEKS, amount) == day + relativedelta(weeks=amount)


@given(DAYS, st.integers(min_value=0, max_value=120))
def test_years_match_relativedelta(day: dt.date, years: int) -> None:
    assert years_after(day, years) == day + relativedelta(years=years)


def test_month_ends_clamp_and_are_never_chained() -> None:
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 1, 31), 1) == dt.date(2023, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 2) == dt.date(2024, 3, 31)  # not 29 Mar
    assert years_after(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
    assert years_after(dt.date(2024, 2, 29), 4) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2000, 3, 31), -1) == dt.date(2000, 2, 29)
    assert add_months(dt.date(1900, 3, 31), -1) == dt.date(1900, 2, 28)


@given(DAYS, st.sampled_from(list(Unit)), st.integers(0, 24), st.integers(0, 24))
def test_windows_match_the_relativedelta_formulas(
    day: dt.date, unit: Unit, low: int, span: int
) -> None:
    interval = Interval(min=low, max=low + span, unit=unit, target=low + span // 2)
    window = after(day, interval)
    assert window.earliest == day + interval.delta(low)
    assert window.target == day + interval.delta(low + span // 2)
    assert window.latest == day + interval.delta(low + span)
    back = before(day, interval, not_before=dt.date(1800, 1, 1))
    assert back.earliest == day - interval.delta(low + span)
    assert back.latest == day - interval.delta(low)
