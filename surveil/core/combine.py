"""Combining one patient's drafted items (core/plan): one item per need, doses paused before
another therapy's, markers booked on a scan's date. Pure, like the planner."""

import datetime as dt

from dateutil.relativedelta import relativedelta

from surveil.core.draft import Draft
from surveil.core.protocol import Schedule
from surveil.core.vocab import IMAGING_KINDS, MARKER_KINDS, SATISFIES, ItemKind
from surveil.core.windows import Window
from surveil.core.wording import label

# The pairs of kinds that meet the same need: the same kind, or one satisfying the other.
_CLASHING = frozenset(
    (ka, kb)
    for ka in ItemKind
    for kb in ItemKind
    if ka is kb or kb in SATISFIES.get(ka, frozenset()) or ka in SATISFIES.get(kb, frozenset())
)


def _conflict(a: Draft, b: Draft) -> bool:
    sa, sb = a.spec, b.spec
    return sa.region == sb.region and (sa.kind, sb.kind) in _CLASHING


def most_urgent(drafts: list[Draft]) -> list[Draft]:
    """One item per need: when two rules ask for the same kind, the earlier target wins."""
    kept: list[Draft] = []
    for d in sorted(drafts, key=lambda d: (d.window.target, d.window.latest, d.order)):
        for k in kept:  # a loop, not any(): a generator frame per draft cost more than the test
            if _conflict(k, d):
                break
        else:
            kept.append(d)
    return kept


def paused(drafts: list[Draft]) -> list[Draft]:
    """Doses with a ``pause_before`` (long-acting SSA before PRRT) never fall inside the pause:
    a dose due in it moves to the other therapy's next dose, when it resumes."""
    out = []
    for d in drafts:
        pause = d.spec.pause_before
        other = None
        if pause is not None:
            other = next(
                (
                    o
                    for o in drafts
                    if o.spec.schedule is Schedule.DOSE and o.spec.therapy is pause.therapy
                ),
                None,
            )
        if pause is None or other is None:
            out.append(d)
            continue
        resume = other.window.target
        starts = resume - relativedelta(weeks=pause.weeks)
        note = (
            f"paused {pause.weeks} weeks before the {label(other.spec.kind)} "
            f"(target {resume.isoformat()}); resumes after it"
        )
        w = d.window
        if starts <= w.target < resume:
            late = w.latest - w.target
            d = d._replace(window=Window(resume, resume, resume + late), extra=note)
        elif w.target < starts <= w.latest:
            latest = starts - dt.timedelta(days=1)
            d = d._replace(window=Window(w.earliest, w.target, max(latest, w.target)), extra=note)
        out.append(d)
    return out


def bundle(drafts: list[Draft]) -> list[Draft]:
    """Book each marker on the earliest imaging target inside the marker's own window."""
    imaging = sorted(
        (d for d in drafts if d.spec.kind in IMAGING_KINDS),
        key=lambda d: (d.window.target, d.spec.kind),  # kinds are StrEnums: ordered by value
    )
    out = []
    for d in drafts:
        # Only a marker is booked on a scan: the others need no host looked up.
        if d.spec.kind not in MARKER_KINDS:
            out.append(d)
            continue
        host = next((i for i in imaging if _fits(d.window, i.window)), None)
        if host is not None and host.window.target != d.window.target:
            window = Window(d.window.earliest, host.window.target, d.window.latest)
            note = f"booked with the {label(host.spec.kind, host.spec.region)}"
            d = d._replace(window=window, extra="; ".join(x for x in (d.extra, note) if x))
        out.append(d)
    return sorted(out, key=lambda d: (d.window.target, d.spec.kind, d.spec.region or ""))


def _fits(marker: Window, imaging: Window) -> bool:
    """The marker falls inside the imaging window, and the imaging date inside the marker's own."""
    m, i = marker, imaging  # Window.contains written out: two method calls per pair asked
    return i.earliest <= m.target <= i.latest and m.earliest <= i.target <= m.latest
