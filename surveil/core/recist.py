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
    targets = {
        lesion: readings
        for lesion, readings in series.items()
        if any(r.date == baseline for r in readings)
    }
    days = sorted({r.date for rs in targets.values() for r in rs if r.date >= baseline})
    sums = []
    for day in days:
        latest = [[r for r in rs if r.date <= day][-1].mm for rs in targets.values()]
        sums.append((day, sum(latest, Fraction(0))))
    return sums


def recist_findings(
    facts: Facts, thresholds: TriggerThresholds, *, cite: str, action: str
) -> Iterator[Finding]:
    series = lesion_readings(facts.measurements)
    days = sorted({r.date for rs in series.values() for r in rs})
    baseline = baseline_day(days, facts.state.since)
    if baseline is None:
        return
    sums = sums_of_targets(series, baseline)
    if len(sums) >= 2:
        yield from _progression(sums, thresholds, cite=cite, action=action)
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
    sums: list[tuple[dt.date, Fraction]], thresholds: TriggerThresholds, *, cite: str, action: str
) -> Iterator[Finding]:
    latest_day, latest = sums[-1]
    nadir_day, nadir = min(sums[:-1], key=lambda s: (s[1], s[0]))
    rise = latest - nadir
    pct = exact(thresholds.recist_pct)
    if rise < exact(thresholds.recist_abs_mm) or rise * 100 < pct * nadir:
        return
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
