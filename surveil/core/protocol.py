"""Protocol packs as typed data: a pack holds profiles, a profile rules, a rule asks for items.

The shapes here mirror ``schedules/*.toml`` one to one (docs/protocols.md);
:func:`surveil.core.protocol_pack.parse_pack` turns a parsed file into them.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from surveil.core.thresholds import DEFAULT_THRESHOLDS, TriggerThresholds
from surveil.core.vocab import (
    CarcinoidType,
    Differentiation,
    Functional,
    GastricType,
    Grade,
    Hereditary,
    ItemKind,
    NodeStatus,
    Resection,
    Site,
    Sstr,
    Stage,
    StateKind,
    TherapyKind,
)


class Evidence(StrEnum):
    """Evidence classes of the shared clinical references (clinical-reference, top table)."""

    PRIMARY = "P"
    PRIMARY_REPRO = "P-repro"
    QUOTED = "Q"
    SECONDARY = "S"
    PATIENT_INFO = "U"
    AI_SUMMARY = "A"
    STUDY = "E"
    INFERENCE = "I"
    CARRIED_OVER = "C"


class Unit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


class Schedule(StrEnum):
    """How an item's window is placed.

    ``repeat``: every interval after the last completed item of the kind (else the rule's index).
    ``dose``: every interval after the therapy's last dose, for ``cycles`` doses at most.
    ``before_dose``: a window ``interval`` *before* each next dose of the therapy (PRRT labs).
    ``after_course``: once, ``interval`` after the last dose of a finished course.
    """

    REPEAT = "repeat"
    DOSE = "dose"
    BEFORE_DOSE = "before_dose"
    AFTER_COURSE = "after_course"


class Index(StrEnum):
    """The date a rule's clock starts from (clinical-reference D14)."""

    STATE = "state"  # start of the current disease-state episode (resection, surveillance...)
    DIAGNOSIS = "diagnosis"  # tumour.diagnosed_on, else the state start
    BIRTH = "birth"  # age-based programmes (MEN1): the birthday at the item's start_age
    RECURRENCE = "recurrence"  # 2027.1: the first lesion measured after the resection
    THERAPY = "therapy"  # 2027.1: the start of the ongoing therapy the rule is for (on_therapy)


@dataclass(frozen=True)
class Interval:
    """``every min–max unit``; ``target`` is the date the planner proposes inside the window."""

    min: int
    max: int
    unit: Unit
    target: int

    def delta(self, amount: int) -> relativedelta:
        if self.unit is Unit.DAYS:
            return relativedelta(days=amount)
        if self.unit is Unit.WEEKS:
            return relativedelta(weeks=amount)
        return relativedelta(months=amount)

    def describe(self) -> str:
        unit = self.unit.value
        if self.min == self.max:
            return f"{self.min} {unit}"
        return f"{self.min}–{self.max} {unit}"


@dataclass(frozen=True)
class Phase:
    """An interval in force from ``from_year`` (inclusive) to ``to_year`` (exclusive; None: on)."""

    from_year: int
    to_year: int | None
    interval: Interval


@dataclass(frozen=True)
class StopRule:
    """Exactly one of: stop ``after_years`` past the index, ``lifelong``, or ``while_eligible``."""

    after_years: int | None = None
    lifelong: bool = False
    while_eligible: bool = False

    def describe(self) -> str:
        if self.after_years is not None:
            return f"for {self.after_years} years"
        return "lifelong" if self.lifelong else "while the rule applies"


@dataclass(frozen=True)
class DosePause:
    """No dose of this item within ``weeks`` before the next dose of ``therapy`` (long-acting SSA
    before PRRT): the dose moves to the day of that dose, when it resumes."""

    therapy: TherapyKind
    weeks: int


@dataclass(frozen=True)
class ItemSpec:
    kind: ItemKind
    phases: tuple[Phase, ...]  # empty only for an item planned ``with`` another
    source: str
    evidence: Evidence
    first: Interval | None = None  # from the index to the first item, when none was done yet
    schedule: Schedule = Schedule.REPEAT
    therapy: TherapyKind | None = None  # for the dose-based schedules
    cycles: int | None = None  # doses in one course (PRRT: 4)
    start_age: int | None = None  # age-gated items (MEN1 programme)
    region: str | None = None  # body region when one kind serves several (pituitary MRI)
    only_if_raised: ItemKind | None = None  # e.g. CgA only when CgA was ever above its ULN
    unless_raised: ItemKind | None = None  # e.g. NSE as the NEC marker when CgA is not raised
    with_kind: ItemKind | None = None  # same window as this rule's item of that kind (CgA with MRI)
    note: str = ""  # shown at the end of the reason line
    # Pack 2027.1 onwards (absent in 2026.1, whose plans stay as they were):
    satisfied_by: frozenset[ItemKind] = frozenset()  # other kinds that also count (MEN1: CT, EUS)
    pause_before: "DosePause | None" = None  # no dose inside this pause before another therapy
    catch_up: bool = False  # a ``with`` item missed at its host's last visit is due now
    at: tuple[int, ...] = ()  # after_course: fixed times after the last dose (then ``interval``)


@dataclass(frozen=True)
class Eligibility:
    """Who a rule is for. An empty set means "any"; every stated condition must hold."""

    tumour: bool | None = None  # True: only with a tumour; False: only without one
    sites: frozenset[Site] = frozenset()
    differentiations: frozenset[Differentiation] = frozenset()
    grades: frozenset[Grade] = frozenset()
    states: frozenset[StateKind] = frozenset()
    resections: frozenset[Resection] = frozenset()
    stages: frozenset[Stage] = frozenset()
    functional: frozenset[Functional] = frozenset()
    hereditary: frozenset[Hereditary] = frozenset()
    sstr: frozenset[Sstr] = frozenset()
    on_therapy: frozenset[TherapyKind] = frozenset()  # any ongoing therapy of these kinds
    had_therapy: frozenset[TherapyKind] = frozenset()  # any therapy of these kinds, ever
    max_size_mm: float | None = None  # size ≤ this (a size must be known)
    size_under_mm: float | None = None  # size < this (a size must be known)
    ki67_above: float | None = None  # highest Ki-67 > this
    ki67_at_most: float | None = None  # highest Ki-67 ≤ this (a Ki-67 must be known)
    min_age: int | None = None
    max_age: int | None = None  # age ≤ this
    # Pack 2027.1 onwards: the optional facts (an unrecorded fact never satisfies a condition).
    node_status: frozenset[NodeStatus] = frozenset()
    carcinoid_type: frozenset[CarcinoidType] = frozenset()
    gastric_type: frozenset[GastricType] = frozenset()
    adverse_histology: bool | None = None  # True: some adverse feature; False: reported, none
    carcinoid_heart_disease: bool | None = None
    lesion_after_resection: bool | None = None  # a lesion measured after the resection date


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    source: str
    evidence: Evidence
    eligibility: Eligibility
    items: tuple[ItemSpec, ...] = ()
    stop: StopRule | None = None
    group: str | None = None  # within a group the first matching rule wins
    index: Index = Index.STATE
    no_follow_up: bool = False
    reason: str = ""  # why the rule exists, in one line (shown on a no-follow-up verdict)


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    evidence: Evidence
    address: str = ""


class Apply(StrEnum):
    """When a trigger's consequence takes effect (``apply`` in ``on_trigger.*``)."""

    ON_OPEN = "on_open"  # as soon as the trigger fires (undone if it proves a false alarm)
    ON_CONFIRM = "on_confirm"  # a proposal until a clinician confirms it


# What waits for a clinician unless the pack says otherwise: moving a patient out of a pathway and
# holding their plan are clinical decisions; a shorter scan interval is the safe side meanwhile.
DEFAULT_APPLY: Mapping[str, Apply] = {
    "set_state": Apply.ON_CONFIRM,
    "pause_plan": Apply.ON_CONFIRM,
    "imaging": Apply.ON_OPEN,
}


@dataclass(frozen=True)
class TriggerConsequence:
    """What a clinic wants done when a trigger fires; plain data for the escalation service."""

    trigger: str
    refer: ItemKind | None = None  # e.g. tumour_board
    refer_within_days: int | None = None
    set_state: StateKind | None = None  # e.g. leave active_surveillance -> advanced
    imaging: Interval | None = None  # shorten imaging to this interval
    order: tuple[ItemKind, ...] = ()  # one-off items to add now (SSTR PET, echocardiogram)
    pause_plan: bool = False  # hold automatic rescheduling of protocol items while in force
    apply: Mapping[str, Apply] = field(default_factory=lambda: dict(DEFAULT_APPLY))
    note: str = ""
    source: str = ""
    evidence: Evidence = Evidence.INFERENCE

    def when(self, consequence: str) -> Apply:
        """When ``set_state``, ``imaging`` or ``pause_plan`` takes effect."""
        return self.apply.get(consequence, DEFAULT_APPLY.get(consequence, Apply.ON_CONFIRM))


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    rules: tuple[Rule, ...]
    description: str = ""
    extends: str | None = None
    thresholds: TriggerThresholds = DEFAULT_THRESHOLDS
    on_trigger: Mapping[str, TriggerConsequence] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    title: str
    sources: Mapping[str, Source]
    profiles: Mapping[str, Profile]
    default_profile: str

    def profile(self, name: str | None = None) -> Profile:
        return self.profiles[name or self.default_profile]
