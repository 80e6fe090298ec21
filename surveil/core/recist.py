"""RECIST 1.1 progression for advanced disease (clinical-reference T7; vignettes T09, V11).

Progressive disease: the sum of target diameters rises at least 20 % over the smallest sum on study
(the nadir, baseline included) *and* by at least 5 mm; or any new lesion appears.

The facts carry no "target" flag, so this module decides (docs/triggers.md):

* Baseline: the last measurement day on or before the day the advanced state began (the start of
  the current line), or failing that the first measurement day after it.
* Target lesions: those measured on the baseline day. A target not re-measured on a later day
  keeps its last diameter, so a partial scan cannot fake a shrinking sum (and a false nadir).
* A new lesion: one never measured on or before the baseline day, first measured after it.
"""

import datetime as dt
from collections.abc import Iterator
from fractions import Fraction
from math import lcm

from surveil.core.facts import Facts
from surveil.core.findings import Finding, TriggerKind, exact, round2, show
from surveil.core.growth import Reading, lesion_readings
from surveil.core.thresholds import TriggerThresholds


def baseline_day(days: list[dt.date], since: dt.date) -> dt.date | None:
    before = [d for d in days if d <= since]
    if before:
        return max(before)
    return min(days, default=None)


def sums_of_targets(
    series: dict[str, list[Reading]], baseline: dt.date
) -> list[tuple[dt.date, Fraction]]:
    """The sum of target diameters on each assessment day from the baseline on."""
    denominator, sums = _target_sums(series, baseline)
    return [(day, Fraction(total, denominator)) for day, total in sums]


def _target_sums(
    series: dict[str, list[Reading]], baseline: dt.date
) -> tuple[int, list[tuple[dt.date, int]]]:
    """:func:`sums_of_targets` as whole numbers of one common fraction of a millimetre (returned
    first): the same sums exactly, but added as integers, and each target's change is added on
    the day it is re-measured instead of every target being looked up again on every day."""
    targets = []  # each target's readings from the baseline on (dates are unique and sorted)
    for readings in series.values():
        for at, reading in enumerate(readings):
            if reading.date >= baseline:
                if reading.date == baseline:
                    targets.append(readings[at:])
                break
    if not targets:
        return 1, []
    denominator = lcm(*(r.mm.denominator for rs in targets for r in rs))
    change: dict[dt.date, int] = {}
    for rs in targets:
        before = 0
        for r in rs:
            scaled = r.mm.numerator * (denominator // r.mm.denominator)
            change[r.date] = change.get(r.date, 0) + scaled - before
            before = scaled
    total = 0
    sums = []
    for day in sorted(change):
        total += change[day]
        sums.append((day, total))
    return denominator, sums


def recist_findings(
    facts: Facts, thresholds: TriggerThresholds, *, cite: str, action: str
) -> Iterator[Finding]:
    if not facts.measurements:
        return
    # The baseline is found among the measurement days as they come: max and min need no sort.
    baseline = baseline_day([m.date for m in facts.measurements], facts.state.since)
    if baseline is None:
        return
    series = lesion_readings(facts.measurements)
    denominator, sums = _target_sums(series, baseline)
    if len(sums) >= 2:
        yield from _progression(denominator, sums, thresholds, cite=cite, action=action)
    for lesion, readings in series.items():
        first = readings[0]
        if first.date > baseline:
            yield Finding(
                kind=TriggerKind.RECIST,
                subject=f"new:{lesion}",
                lesion=lesion,
                value=float(first.mm),
                threshold=None,
                unit="mm",
                confounded=False,
                action=action,
                detected_on=first.date,
                explanation=(
                    f"new lesion {lesion} ({show(first.mm)} mm on {first.date}, "
                    f"{first.modality}) not present at the RECIST baseline of {baseline}: "
                    "progressive disease (RECIST 1.1)"
                )
                + cite,
            )


def _progression(
    denominator: int,
    sums: list[tuple[dt.date, int]],
    thresholds: TriggerThresholds,
    *,
    cite: str,
    action: str,
) -> Iterator[Finding]:
    latest_day, latest_total = sums[-1]
    nadir_day, nadir_total = min(sums[:-1], key=lambda s: (s[1], s[0]))
    # Both tests on the whole numbers (each side times the same positive denominators), so
    # the Fractions are made only for a progression: rise < a/b mm, rise × 100 < p/q × nadir.
    pct, least = exact(thresholds.recist_pct), exact(thresholds.recist_abs_mm)
    rise_total = latest_total - nadir_total
    if (
        rise_total * least.denominator < least.numerator * denominator
        or rise_total * 100 * pct.denominator < pct.numerator * nadir_total
    ):
        return
    latest, nadir = Fraction(latest_total, denominator), Fraction(nadir_total, denominator)
    rise = latest - nadir
    percent = round2(rise * 100 / nadir)
    yield Finding(
        kind=TriggerKind.RECIST,
        subject="sum",
        lesion=None,
        value=float(percent),
        threshold=thresholds.recist_pct,
        unit="%",
        confounded=False,
        action=action,
        detected_on=latest_day,
        explanation=(
            f"sum of target diameters {show(nadir)} mm at the nadir ({nadir_day}) → "
            f"{show(latest)} mm on {latest_day}: +{show(rise)} mm, +{show(percent)} % "
            f"≥ {show(pct)} % and ≥ {show(thresholds.recist_abs_mm)} mm (RECIST 1.1)"
        )
        + cite,
    )
