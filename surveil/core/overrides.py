"""Per-patient exceptions to the pack, applied on top of a plan.

An override is a clinician's decision for one patient: a different interval or modality for one
kind of item, or a pause until a date. It always wins over the pack, and the item says so in its
rule and reason, so a nurse can see that a person, not the protocol, set this date. Trigger
consequences that shorten imaging ("every 3–6 months after growth") use the same mechanism.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from surveil.core.plan import Anchor, Plan, PlannedItem
from surveil.core.protocol import Interval
from surveil.core.vocab import IMAGING_KINDS, ItemKind
from surveil.core.windows import Window, after, status_on

# Imaging that re-staging overrides act on: the cross-sectional scans, not SSTR or FDG PET.
CROSS_SECTIONAL = frozenset({ItemKind.MRI, ItemKind.CT, ItemKind.CT_OR_MRI})


@dataclass(frozen=True)
class Override:
    """``kind`` may be a single item kind, or None with ``imaging=True`` for every scan."""

    origin: str  # "override #12 by dr.okafor" or "trigger #7 (growth_rate)"
    reason: str
    kind: ItemKind | None = None
    imaging: bool = False
    interval: Interval | None = None
    modality: ItemKind | None = None
    paused_until: dt.date | None = None

    def applies_to(self, kind: ItemKind) -> bool:
        if self.imaging:
            return kind in CROSS_SECTIONAL
        return kind is self.kind


def apply_overrides(plan: Plan, overrides: Sequence[Override], today: dt.date) -> Plan:
    """The plan with every applicable override applied, later overrides winning."""
    if not overrides:
        return plan
    items = []
    for item in plan.items:
        for override in overrides:
            if override.applies_to(item.kind):
                item = _apply(item, override, today)
        items.append(item)
    items.sort(key=lambda i: (i.target, i.kind.value, i.region or ""))
    return replace(plan, items=tuple(items))


def _apply(item: PlannedItem, override: Override, today: dt.date) -> PlannedItem:
    window = Window(item.earliest, item.target, item.latest)
    notes = []
    if override.interval is not None:
        # Recomputed from the same anchor in one step; the target is the start of the window,
        # because an override is almost always a request to look sooner.
        shortened = Interval(
            min=override.interval.min,
            max=override.interval.max,
            unit=override.interval.unit,
            target=override.interval.min,
        )
        window = after(item.anchor.date, shortened)
        notes.append(f"every {override.interval.describe()}")
    kind = item.kind
    if override.modality is not None and override.modality in IMAGING_KINDS | {kind}:
        kind = override.modality
        notes.append(f"as {kind.value}")
    if override.paused_until is not None and window.earliest <= override.paused_until:
        shift = override.paused_until - window.earliest + dt.timedelta(days=1)
        window = Window(window.earliest + shift, window.target + shift, window.latest + shift)
        notes.append(f"paused until {override.paused_until}")
    reason = f"{', '.join(notes) or 'changed'} by {override.origin}: {override.reason}"
    return replace(
        item,
        kind=kind,
        earliest=window.earliest,
        target=window.target,
        latest=window.latest,
        status=status_on(window.earliest, window.latest, today),
        rule=f"{item.rule}+override",
        reason=f"{reason} (pack: {item.reason})",
        anchor=Anchor(item.anchor.event, item.anchor.date),
    )
