"""Instants shown as people there read them, with the zone named."""

import datetime as dt

import pytest

from surveil.core.zones import wall_clock

SUMMER = dt.datetime(2026, 7, 14, 8, 30, tzinfo=dt.UTC)
WINTER = dt.datetime(2026, 1, 14, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("instant", "zone", "shown"),
    [
        (SUMMER, "Europe/London", "2026-07-14 09:30 BST (Europe/London)"),
        (WINTER, "Europe/London", "2026-01-14 09:30 GMT (Europe/London)"),
        (SUMMER, "Australia/Sydney", "2026-07-14 18:30 AEST (Australia/Sydney)"),
        (SUMMER, "Asia/Kolkata", "2026-07-14 14:00 IST (Asia/Kolkata)"),
        (SUMMER, "Asia/Dubai", "2026-07-14 12:30 +04 (Asia/Dubai)"),
        (SUMMER, "UTC", "2026-07-14 08:30 UTC"),
        (SUMMER.replace(tzinfo=None), "Europe/London", "2026-07-14 09:30 BST (Europe/London)"),
    ],
)
def test_wall_clock(instant: dt.datetime, zone: str, shown: str) -> None:
    assert wall_clock(instant, zone) == shown


def test_wall_clock_with_seconds() -> None:
    assert wall_clock(SUMMER, "Europe/Paris", seconds=True) == (
        "2026-07-14 10:30:00 CEST (Europe/Paris)"
    )
