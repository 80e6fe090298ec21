"""Trigger evaluation: facts + thresholds + today -> findings that need a clinician (issue 5).

Pure: no clock, no I/O. ``today`` matters only for the SSA rule (an injection can become overdue
while nothing is recorded); every other finding depends on the facts alone, so re-evaluating the
same facts on any day gives the same findings with the same fingerprints.

Rules and where they apply (docs/triggers.md has the sources):

=============  ====================================================================
growth_rate    watched sites (default pancreas) on active surveillance; growth.py
size           same patients; growth.py
recist         advanced disease; recist.py
marker_rise    any state; each configured marker rule
grade_change   any state; a later pathology in a higher WHO band
symptoms       active surveillance; symptoms recorded after surveillance began
ssa_overdue    an ongoing SSA, unless PRRT is ongoing (the SSA pause is planned)
=============  ====================================================================

A deceased patient has no findings.

The thresholds and their parser live in :mod:`surveil.core.thresholds` and are re-exported here so
protocol code can import everything trigger-related from one place.
"""

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from surveil.core.facts import Facts, Marker, Pathology
from surveil.core.findings import (
    KIND_ORDER,
    Finding,
    TriggerKind,
    exact,
    finding_to_json,
    round2,
    show,
)
from surveil.core.grading import grade_rank, highest_grade, who_grade
from surveil.core.growth import (
    growth_findings,
    is_on_watched_surveillance,
    lesion_readings,
    size_findings,
)
from surveil.core.protocol import TriggerConsequence
from surveil.core.recist import recist_findings
from surveil.core.thresholds import (
    DEFAULT_THRESHOLDS,
    Comparator,
    MarkerRule,
    TriggerThresholds,
    parse_thresholds,
)
from surveil.core.vocab import Differentiation, Grade, StateKind, TherapyKind

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Comparator",
    "Finding",
    "MarkerRule",
    "TriggerKind",
    "TriggerRules",
    "TriggerThresholds",
    "board_deadlines",
    "compile_triggers",
    "evaluate_compiled",
    "evaluate_triggers",
    "finding_to_json",
    "parse_thresholds",
]


def board_deadlines(on_trigger: Mapping[str, TriggerConsequence]) -> dict[TriggerKind, int]:
    """Per trigger kind, the profile's own tumour-board deadline (its ``refer_within_days``),
    for ``evaluate_triggers(board_within=...)``."""
    kinds = {kind.value: kind for kind in TriggerKind}
    return {
        kinds[name]: consequence.refer_within_days
        for name, consequence in on_trigger.items()
        if name in kinds and consequence.refer_within_days
    }


@dataclass(frozen=True)
class TriggerRules:
    """Thresholds with everything about them that no patient changes worked out once (the
    citation and each kind's action text): a batch evaluates hundreds of patients against one
    profile, and building these strings for each patient, mostly to discard them, cost more
    than most rules. Made by :func:`compile_triggers`, used by :func:`evaluate_compiled`."""

    thresholds: TriggerThresholds
    cite: str
    growth_action: str
    size_action: str
    recist_action: str
    marker_board: str
    grade_board: str
    symptoms_board: str


def compile_triggers(
    thresholds: TriggerThresholds,
    *,
    rule_ref: str = "",
    board_within: Mapping[TriggerKind, int] | None = None,
) -> TriggerRules:
    """The rules of :func:`evaluate_triggers` (same arguments) ready for many patients."""
    deadlines = board_within or {}

    def board(kind: TriggerKind) -> str:
        days = deadlines.get(kind, thresholds.tumour_board_within_days)
        return f"tumour board review within {days} days"

    surgical = "(surgical review) on leaving surveillance"
    return TriggerRules(
        thresholds=thresholds,
        cite=f", rule {rule_ref}" if rule_ref else "",
        growth_action=f"{board(TriggerKind.GROWTH_RATE)} {surgical}",
        size_action=f"{board(TriggerKind.SIZE)} {surgical}",
        recist_action=(
            f"{board(TriggerKind.RECIST)}: progression, decide the next line of therapy"
        ),
        marker_board=board(TriggerKind.MARKER_RISE),
        grade_board=board(TriggerKind.GRADE_CHANGE),
        symptoms_board=board(TriggerKind.SYMPTOMS),
    )


def evaluate_triggers(
    facts: Facts,
    thresholds: TriggerThresholds,
    today: dt.date,
    *,
    rule_ref: str = "",
    board_within: Mapping[TriggerKind, int] | None = None,
) -> list[Finding]:
    """Every trigger that fires on these facts, ordered by kind then subject.

    ``rule_ref`` (e.g. ``"ENETS-small-pnet v1"``) names the protocol pack in each explanation.
    ``board_within`` gives, per trigger kind, the days within which the tumour board should see
    the patient when the profile's consequence says so (``refer_within_days``); otherwise the
    thresholds' ``tumour_board_within_days``. The action text and the escalation item then
    name the same deadline. For many patients, compile once and use :func:`evaluate_compiled`.
    """
    rules = compile_triggers(thresholds, rule_ref=rule_ref, board_within=board_within)
    return evaluate_compiled(facts, rules, today)


def evaluate_compiled(facts: Facts, rules: TriggerRules, today: dt.date) -> list[Finding]:
    """:func:`evaluate_triggers` with its rules compiled. A rule is asked only when the facts
    hold something it reads (most patients have no scans, markers or therapy to look at)."""
    deceased = facts.patient.deceased_on
    if deceased is not None and deceased <= today:
        return []
    thresholds, cite = rules.thresholds, rules.cite
    state = facts.state.kind
    findings: list[Finding] = []
    if facts.measurements:
        if is_on_watched_surveillance(facts, thresholds):
            series = lesion_readings(facts.measurements)
            findings += growth_findings(series, thresholds, cite=cite, action=rules.growth_action)
            findings += size_findings(series, thresholds, cite=cite, action=rules.size_action)
        if state is StateKind.ADVANCED:
            findings += recist_findings(facts, thresholds, cite=cite, action=rules.recist_action)
    if facts.markers:
        for marker_rule in thresholds.marker_rules:
            findings += marker_findings(facts, marker_rule, cite=cite, board=rules.marker_board)
    if facts.pathology:
        findings += grade_findings(facts, cite=cite, board=rules.grade_board)
    if state is StateKind.ACTIVE_SURVEILLANCE and facts.symptoms:
        findings += symptom_findings(facts, cite=cite, board=rules.symptoms_board)
    if facts.therapies:
        findings += ssa_findings(facts, thresholds, today, cite=cite)
    if len(findings) > 1:
        findings.sort(key=_order)
    return findings


def _order(finding: Finding) -> tuple[int, str]:
    return KIND_ORDER[finding.kind], finding.subject


# ---------------------------------------------------------------------------------------------
# Marker rise (clinical-reference T11; vignettes T11, T12, V12)


def marker_findings(
    facts: Facts, marker_rule: MarkerRule, *, cite: str, board: str
) -> Iterator[Finding]:
    """The latest value above ``factor`` × ULN and ``rise_pct`` % over the previous value.

    The ULN test is strict ("above 2× the upper limit", issue 5); the rise test is inclusive like
    every other threshold. Without a recorded ULN the last known ULN of the same marker is used,
    and without any the rise alone decides (a missed relapse costs more than a repeat test).
    """
    mine = [m for m in facts.markers if m.name is marker_rule.marker]
    if len(mine) < 2:
        return
    last_two = _last_two_days(mine)
    if last_two is None:
        return
    previous, latest = last_two
    # No rise at all is decided on the floats (exact() keeps their order); the rest exactly.
    if latest.value <= previous.value:
        return
    now, before = exact(latest.value), exact(previous.value)
    if now * 100 < before * (100 + exact(marker_rule.rise_pct)):
        return
    readings = _marker_days(mine)
    uln_value = next((m.uln for m in reversed(readings) if m.uln is not None), None)
    factor = exact(marker_rule.factor_over_uln)
    if uln_value is not None and not now > factor * exact(uln_value):
        return
    name = _marker_name(marker_rule)
    rise = round2((now - before) * 100 / before) if before else None
    text = (
        f"{name} rose {show(before)} → {show(now)} from {previous.date} to {latest.date}: "
        + (f"+{show(rise)} % ≥ {show(marker_rule.rise_pct)} %" if rise is not None else "up from 0")
        + (
            f", {show(now / exact(uln_value))}× ULN > {show(factor)}× ULN (ULN {show(uln_value)})"
            if uln_value is not None
            else ", ULN not recorded"
        )
    )
    if latest.on_ppi:
        text += "; taken on a proton-pump inhibitor, which raises it: confounded, not escalated"
        action = (
            f"repeat {name} fasting, at least {marker_rule.ppi_washout_days} days after "
            "stopping the PPI (or switching to an H2 blocker), before escalating"
        )
    else:
        action = f"confirm with a repeat {name} and bring imaging forward; {board}"
    yield Finding(
        kind=TriggerKind.MARKER_RISE,
        subject=marker_rule.marker.value,
        lesion=None,
        value=None if rise is None else float(rise),
        threshold=marker_rule.rise_pct,
        unit="%",
        confounded=latest.on_ppi,
        action=action,
        detected_on=latest.date,
        explanation=text + cite,
    )


def _marker_days(markers: list[Marker]) -> list[Marker]:
    """One result per day in date order; on a day with two results the higher one stands."""
    best: dict[dt.date, Marker] = {}
    for m in markers:
        current = best.get(m.date)
        if current is None or (m.value, m.on_ppi) > (current.value, current.on_ppi):
            best[m.date] = m
    return [best[day] for day in sorted(best)]


def _last_two_days(markers: list[Marker]) -> tuple[Marker, Marker] | None:
    """The last two of :func:`_marker_days` (the previous day's result, then the latest), in one
    pass without a dict or a sort: the rise rule reads only these unless it fires. Of equal
    results on a day the first stands, as there."""
    latest: Marker | None = None
    previous: Marker | None = None
    for m in markers:
        if latest is None or m.date > latest.date:
            previous, latest = latest, m
        elif m.date == latest.date:
            if _higher(m, latest):
                latest = m
        elif (
            previous is None
            or m.date > previous.date
            or (m.date == previous.date and _higher(m, previous))
        ):
            previous = m
    if latest is None or previous is None:
        return None
    return previous, latest


def _higher(m: Marker, than: Marker) -> bool:
    return (m.value, m.on_ppi) > (than.value, than.on_ppi)


def _marker_name(marker_rule: MarkerRule) -> str:
    return {"cga": "CgA", "5hiaa": "5-HIAA", "nse": "NSE"}.get(
        marker_rule.marker.value, marker_rule.marker
    )


# ---------------------------------------------------------------------------------------------
# Grade change (clinical-reference T14; vignettes T07)


def grade_findings(facts: Facts, *, cite: str, board: str) -> Iterator[Finding]:
    """The latest pathology that raised the highest grade ever recorded.

    Walking the results in date order, a result in a higher WHO band than everything before it
    re-grades the patient; a later, lower result never takes it back. A first grade after an
    ungradable baseline (GX) is a first grading, not a change.
    """
    tumour = facts.tumour
    differentiation = tumour.differentiation if tumour else None
    highest = who_grade(differentiation, tumour.ki67, tumour.mitoses) if tumour else Grade.GX
    change = None
    by_day: dict[dt.date, list[Pathology]] = {}
    for p in facts.pathology:  # grouped once, each day's results in the order given
        by_day.setdefault(p.date, []).append(p)
    for day, results in sorted(by_day.items()):
        grade = highest_grade(
            [who_grade(p.differentiation or differentiation, p.ki67, p.mitoses) for p in results]
        )
        if grade_rank(grade) > grade_rank(highest):
            if highest is not Grade.GX:
                change = (day, highest, grade, results)
            highest = grade
    if change is None:
        return
    day, old, new, results = change
    counts = "; ".join(_counts(p.ki67, p.mitoses, p.differentiation) for p in results)
    ki67 = _first(p.ki67 for p in results)
    yield Finding(
        kind=TriggerKind.GRADE_CHANGE,
        subject="grade",
        lesion=None,
        value=ki67,
        threshold=None,
        unit="% Ki-67" if ki67 is not None else "",
        confounded=False,
        action=f"re-grade to {new} (the highest grade ever recorded) and replan; {board}",
        detected_on=day,
        explanation=(
            f"grade {old} → {new}: pathology on {day} ({counts}) is in a higher WHO 2019 band; "
            "the highest grade ever recorded stands"
        )
        + cite,
    )


def _counts(ki67: float | None, mitoses: float | None, diff: Differentiation | None) -> str:
    parts = []
    if diff is not None:
        parts.append(
            "poorly differentiated" if diff is Differentiation.POOR else "well differentiated"
        )
    if ki67 is not None:
        parts.append(f"Ki-67 {show(ki67)} %")
    if mitoses is not None:
        parts.append(f"{show(mitoses)} mitoses/2 mm²")
    return ", ".join(parts)


def _first(values: Iterator[float | None]) -> float | None:
    return next((v for v in values if v is not None), None)


# ---------------------------------------------------------------------------------------------
# New symptoms on active surveillance (clinical-reference T4; vignettes T04)


def symptom_findings(facts: Facts, *, cite: str, board: str) -> Iterator[Finding]:
    """Surveillance is for asymptomatic tumours: a symptom recorded after it began ends that."""
    since = facts.state.since
    new = sorted((s for s in facts.symptoms if s.date > since), key=lambda s: s.date)
    if not new:
        return
    latest = new[-1].date
    listed = "; ".join(f"{s.date}: {s.description}" for s in new)
    yield Finding(
        kind=TriggerKind.SYMPTOMS,
        subject="symptoms",
        lesion=None,
        value=float(len(new)),
        threshold=None,
        unit="symptoms",
        confounded=False,
        action=f"bring the next visit forward; {board}",
        detected_on=latest,
        explanation=f"{len(new)} symptom(s) since surveillance began on {since} ({listed})" + cite,
    )


# ---------------------------------------------------------------------------------------------
# Stopped somatostatin analogue (vignettes T16, §3a)


def ssa_findings(
    facts: Facts, thresholds: TriggerThresholds, today: dt.date, *, cite: str
) -> Iterator[Finding]:
    """An ongoing SSA whose next injection is overdue beyond the grace days. Urgent: stopping an
    SSA abruptly can bring on a carcinoid crisis. The long-acting SSA pause around PRRT is planned
    (vignettes §3b), so no alert while PRRT is ongoing. A discharged or deceased patient is no
    longer the clinic's to call (issue 15): no alert either."""
    last = _last_ssa(facts, today)
    if last is None:
        return
    due = last + dt.timedelta(days=thresholds.ssa_interval_days)
    late = (today - due).days
    if late <= thresholds.ssa_grace_days:
        return
    yield Finding(
        kind=TriggerKind.SSA_OVERDUE,
        subject="ssa",
        lesion=None,
        value=float(late),
        threshold=float(thresholds.ssa_grace_days),
        unit="days",
        confounded=False,
        action="urgent: contact the patient today and give the overdue SSA injection",
        detected_on=due + dt.timedelta(days=thresholds.ssa_grace_days + 1),
        explanation=(
            f"SSA last given {last}, next due {due} (every {thresholds.ssa_interval_days} days): "
            f"{late} days overdue on {today} > {thresholds.ssa_grace_days} days' grace"
        )
        + cite,
        urgent=True,
    )


def ssa_alert_on(facts: Facts, thresholds: TriggerThresholds, today: dt.date) -> dt.date | None:
    """The first day after ``today`` on which :func:`ssa_findings` would raise its alert from
    these same facts: None when none is coming (no ongoing SSA) or it is already raised."""
    last = _last_ssa(facts, today)
    if last is None:
        return None
    alert = last + dt.timedelta(days=thresholds.ssa_interval_days + thresholds.ssa_grace_days + 1)
    return alert if alert > today else None


def _last_ssa(facts: Facts, today: dt.date) -> dt.date | None:
    """The latest injection of an ongoing SSA whose lateness is watched: None without one, for a
    discharged or deceased patient, and while PRRT is ongoing."""
    if facts.state.kind is StateKind.DISCHARGED or facts.patient.deceased_on is not None:
        return None
    last: dt.date | None = None
    for t in facts.therapies:
        if not t.is_ongoing(today):
            continue
        if t.kind is TherapyKind.PRRT:
            return None
        if t.kind is TherapyKind.SSA:
            given = t.last_given_on or t.started_on
            if last is None or given > last:
                last = given
    return last
