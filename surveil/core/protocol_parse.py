"""Checking the parts of a raw protocol pack (parsed TOML) into :mod:`surveil.core.protocol` types.

Every problem is collected with its place (``net-default.toml: profiles.default.rules[3].items[0]
.interval.max: ...``) and raised together as one RuleError: a clinician editing a pack sees all
mistakes in one run. Unknown keys are errors, because a misspelt key would silently drop a rule.
"""

from collections.abc import Mapping
from typing import Any

from surveil.core.protocol import (
    DEFAULT_APPLY,
    Apply,
    DosePause,
    Eligibility,
    Evidence,
    Index,
    Interval,
    ItemSpec,
    Phase,
    Rule,
    Schedule,
    StopRule,
    TriggerConsequence,
    Unit,
)
from surveil.core.reading import Reader, join
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

_ENUM_SETS: dict[str, tuple[str, type[Any]]] = {  # toml key -> (Eligibility field, vocabulary)
    "site": ("sites", Site),
    "differentiation": ("differentiations", Differentiation),
    "grade": ("grades", Grade),
    "state": ("states", StateKind),
    "resection": ("resections", Resection),
    "stage": ("stages", Stage),
    "functional": ("functional", Functional),
    "hereditary": ("hereditary", Hereditary),
    "sstr": ("sstr", Sstr),
    "on_therapy": ("on_therapy", TherapyKind),
    "had_therapy": ("had_therapy", TherapyKind),
    "node_status": ("node_status", NodeStatus),
    "carcinoid_type": ("carcinoid_type", CarcinoidType),
    "gastric_type": ("gastric_type", GastricType),
}
_FLAGS = ("tumour", "adverse_histology", "carcinoid_heart_disease", "lesion_after_resection")
_NUMBERS = ("max_size_mm", "size_under_mm", "ki67_above", "ki67_at_most")
_AGES = ("min_age", "max_age")
_RULE_KEYS = ("when", "items", "stop", "group", "index", "no_follow_up", "reason", "insert_before")
_ITEM_KEYS: tuple[str, ...] = ("interval", "phases", "first", "schedule", "therapy", "cycles")
_ITEM_KEYS += ("start_age", "region", "only_if_raised", "unless_raised", "note", "with")
_ITEM_KEYS += ("satisfied_by", "pause_before", "catch_up", "at")


class Checker:
    """Reads the parts of one pack, checking every cited source against the pack's register."""

    def __init__(self, r: Reader, source_ids: set[str]) -> None:
        self.r = r
        self.source_ids = source_ids

    def cite(self, m: Mapping[str, Any], at: str) -> tuple[str | None, Evidence | None]:
        source = self.r.text(m.get("source"), join(at, "source"))
        if source is not None and source not in self.source_ids:
            self.r.fail(join(at, "source"), f"{source!r} is not in this pack's [sources]")
            source = None
        evidence = self.r.enum(m.get("evidence"), join(at, "evidence"), Evidence)
        return source, evidence

    def interval(self, raw: Any, at: str) -> Interval | None:
        m = self.r.table(raw, at)
        if m is None:
            return None
        self.r.keys(m, at, required=("min", "max", "unit"), optional=("target",))
        low = self.r.integer(m.get("min"), join(at, "min"))
        high = self.r.integer(m.get("max"), join(at, "max"), low=1)
        unit = self.r.enum(m.get("unit"), join(at, "unit"), Unit)
        if low is None or high is None or unit is None:
            return None
        if low > high:
            self.r.fail(join(at, "max"), f"{high} is below min ({low})")
            return None
        # Whole units keep every date an exact anchor + relativedelta (never fractions of a month).
        target = (low + high) // 2 if "target" not in m else self.r.integer(m["target"], at)
        if target is None:
            return None
        if not low <= target <= high:
            self.r.fail(join(at, "target"), f"{target} is outside min–max ({low}–{high})")
            return None
        return Interval(min=low, max=high, unit=unit, target=target)

    def phases(self, m: Mapping[str, Any], at: str) -> tuple[Phase, ...]:
        if "with" in m:
            if "interval" in m or "phases" in m:
                self.r.fail(at, "an item planned with another takes its interval: drop interval")
            return ()
        if ("interval" in m) == ("phases" in m):
            self.r.fail(at, "needs exactly one of interval or phases")
            return ()
        if "interval" in m:
            interval = self.interval(m["interval"], join(at, "interval"))
            return (Phase(0, None, interval),) if interval else ()
        out: list[Phase] = []
        for pat, p in self.r.tables(m["phases"], join(at, "phases")):
            self.r.keys(p, pat, required=("from_year", "interval"), optional=("to_year",))
            start = self.r.integer(p.get("from_year"), join(pat, "from_year"))
            end = None if "to_year" not in p else self.r.integer(p["to_year"], join(pat, "to_year"))
            interval = self.interval(p.get("interval"), join(pat, "interval"))
            expected = 0 if not out else out[-1].to_year
            if start is not None and start != expected:
                self.r.fail(join(pat, "from_year"), f"{start} leaves a gap (expected {expected})")
            if start is not None and end is not None and end <= start:
                self.r.fail(join(pat, "to_year"), f"{end} is not after from_year ({start})")
            if start is not None and interval is not None:
                out.append(Phase(start, end, interval))
        if not out:
            self.r.fail(join(at, "phases"), "needs at least one phase")
        return tuple(out)

    def item(self, m: Mapping[str, Any], at: str) -> ItemSpec | None:
        self.r.keys(m, at, required=("kind", "source", "evidence"), optional=_ITEM_KEYS)
        kind = self.r.enum(m.get("kind"), join(at, "kind"), ItemKind)
        source, evidence = self.cite(m, at)
        phases = self.phases(m, at)
        first = None if "first" not in m else self.interval(m["first"], join(at, "first"))
        schedule = self.r.enum(m.get("schedule", "repeat"), join(at, "schedule"), Schedule)
        therapy = None
        if "therapy" in m:
            therapy = self.r.enum(m["therapy"], join(at, "therapy"), TherapyKind)
        elif schedule not in (None, Schedule.REPEAT):
            self.r.fail(join(at, "therapy"), f"is required for schedule {schedule}")
        opt = self._optional_ints(m, at, ("cycles", "start_age"))
        raised = {
            k: self.r.enum(m[k], join(at, k), ItemKind)
            for k in ("only_if_raised", "unless_raised", "with")
            if k in m
        }
        texts = {k: self.r.text(m[k], join(at, k)) for k in ("region", "note") if k in m}
        added = self._added_item_keys(m, at)
        if kind is None or source is None or evidence is None or schedule is None:
            return None
        if not phases and "with" not in m:
            return None
        return ItemSpec(
            kind=kind,
            phases=phases,
            source=source,
            evidence=evidence,
            first=first,
            schedule=schedule,
            therapy=therapy,
            cycles=opt.get("cycles"),
            start_age=opt.get("start_age"),
            region=texts.get("region"),
            only_if_raised=raised.get("only_if_raised"),
            unless_raised=raised.get("unless_raised"),
            with_kind=raised.get("with"),
            note=texts.get("note") or "",
            **added,
        )

    def _at(self, m: Mapping[str, Any], at: str) -> tuple[int, ...]:
        raw = m["at"]
        if m.get("schedule") != "after_course":
            self.r.fail(join(at, "at"), "only an after_course item has fixed times (at)")
        if not isinstance(raw, list) or not raw:
            self.r.fail(join(at, "at"), "must be a non-empty list of whole numbers")
            return ()
        values = [self.r.integer(v, f"{at}.at[{i}]", low=1) for i, v in enumerate(raw)]
        if None in values or values != sorted(set(values)):  # type: ignore[type-var]
            self.r.fail(join(at, "at"), "must be increasing whole numbers of at least 1")
            return ()
        return tuple(v for v in values if v is not None)

    def _added_item_keys(self, m: Mapping[str, Any], at: str) -> dict[str, Any]:
        """The item keys added with pack 2027.1: satisfied_by, pause_before, catch_up."""
        out: dict[str, Any] = {}
        if "satisfied_by" in m:
            out["satisfied_by"] = self.r.enum_set(
                m["satisfied_by"], join(at, "satisfied_by"), ItemKind
            )
        if "catch_up" in m:
            out["catch_up"] = bool(self.r.flag(m["catch_up"], join(at, "catch_up")))
            if "with" not in m:
                self.r.fail(join(at, "catch_up"), "only an item planned with another catches up")
        if "at" in m:
            out["at"] = self._at(m, at)
        if "pause_before" in m:
            pat = join(at, "pause_before")
            p = self.r.table(m["pause_before"], pat)
            if p is not None:
                self.r.keys(p, pat, required=("therapy", "weeks"))
                therapy = self.r.enum(p.get("therapy"), join(pat, "therapy"), TherapyKind)
                weeks = self.r.integer(p.get("weeks"), join(pat, "weeks"), low=1)
                if therapy is not None and weeks is not None:
                    out["pause_before"] = DosePause(therapy, weeks)
        return out

    def _optional_ints(
        self, m: Mapping[str, Any], at: str, names: tuple[str, ...]
    ) -> dict[str, int]:
        out = {}
        for name in names:
            if name in m and (value := self.r.integer(m[name], join(at, name), low=1)) is not None:
                out[name] = value
        return out

    def eligibility(self, raw: Any, at: str) -> Eligibility:
        m = self.r.table(raw, at)
        if m is None:
            return Eligibility()
        self.r.keys(m, at, optional=(*_FLAGS, *_ENUM_SETS, *_NUMBERS, *_AGES))
        values: dict[str, Any] = {}
        for key, (name, vocab) in _ENUM_SETS.items():
            if key in m:
                values[name] = self.r.enum_set(m[key], join(at, key), vocab)
        for key in _NUMBERS:
            if key in m:
                values[key] = self.r.number(m[key], join(at, key))
        for key in _AGES:
            if key in m:
                values[key] = self.r.integer(m[key], join(at, key))
        for key in _FLAGS:
            if key in m:
                values[key] = self.r.flag(m[key], join(at, key))
        return Eligibility(**values)

    def stop(self, raw: Any, at: str) -> StopRule | None:
        m = self.r.table(raw, at)
        if m is None:
            return None
        self.r.keys(m, at, optional=("after_years", "lifelong", "while_eligible"))
        if len(m) != 1:
            self.r.fail(at, "needs exactly one of after_years, lifelong, while_eligible")
            return None
        if "after_years" in m:
            years = self.r.integer(m["after_years"], join(at, "after_years"), low=1)
            return None if years is None else StopRule(after_years=years)
        key = next(iter(m))
        if key in ("lifelong", "while_eligible") and m[key] is not True:
            self.r.fail(join(at, key), "must be true (leave it out otherwise)")
            return None
        return StopRule(lifelong=key == "lifelong", while_eligible=key == "while_eligible")

    def rule(self, m: Mapping[str, Any], at: str) -> Rule | None:
        self.r.keys(
            m,
            at,
            required=("id", "title", "source", "evidence"),
            optional=_RULE_KEYS,
        )
        rule_id = self.r.text(m.get("id"), join(at, "id"))
        title = self.r.text(m.get("title"), join(at, "title"))
        source, evidence = self.cite(m, at)
        eligibility = self.eligibility(m.get("when", {}), join(at, "when"))
        no_follow_up = self.r.flag(m.get("no_follow_up", False), join(at, "no_follow_up"))
        items = [self.item(t, iat) for iat, t in self.r.tables(m.get("items"), join(at, "items"))]
        stop = None if "stop" not in m else self.stop(m["stop"], join(at, "stop"))
        kinds = {i.kind for i in items if i is not None}
        for i, spec in enumerate(items):
            if spec is not None and spec.with_kind is not None and spec.with_kind not in kinds:
                self.r.fail(f"{at}.items[{i}].with", f"no {spec.with_kind} item in this rule")
        if no_follow_up and ("items" in m or "stop" in m):
            self.r.fail(at, "a no_follow_up rule asks for no items and has no stop rule")
        if not no_follow_up and not m.get("items"):
            self.r.fail(join(at, "items"), "is required (or set no_follow_up = true)")
        if not no_follow_up and "stop" not in m:
            self.r.fail(join(at, "stop"), "is required: after_years, lifelong or while_eligible")
        group = None if "group" not in m else self.r.text(m["group"], join(at, "group"))
        index = self.r.enum(m.get("index", "state"), join(at, "index"), Index)
        reason = m.get("reason", "")
        if None in (rule_id, title, source, evidence, index, no_follow_up) or None in items:
            return None
        return Rule(
            id=rule_id,  # type: ignore[arg-type]
            title=title,  # type: ignore[arg-type]
            source=source,  # type: ignore[arg-type]
            evidence=evidence,  # type: ignore[arg-type]
            eligibility=eligibility,
            items=tuple(i for i in items if i is not None),
            stop=stop,
            group=group,
            index=index,  # type: ignore[arg-type]
            no_follow_up=bool(no_follow_up),
            reason=str(reason),
        )

    def consequence(self, trigger: str, raw: Any, at: str) -> TriggerConsequence | None:
        m = self.r.table(raw, at)
        if m is None:
            return None
        optional = ("refer", "refer_within_days", "set_state", "imaging", "order", "pause_plan")
        self.r.keys(m, at, optional=(*optional, "apply", "note", "source", "evidence"))
        values: dict[str, Any] = {"trigger": trigger}
        if "refer" in m:
            values["refer"] = self.r.enum(m["refer"], join(at, "refer"), ItemKind)
        if "refer_within_days" in m:
            values["refer_within_days"] = self.r.integer(m["refer_within_days"], at)
        if "set_state" in m:
            values["set_state"] = self.r.enum(m["set_state"], join(at, "set_state"), StateKind)
        if "imaging" in m:
            values["imaging"] = self.interval(m["imaging"], join(at, "imaging"))
        if "order" in m:
            values["order"] = tuple(
                sorted(self.r.enum_set(m["order"], join(at, "order"), ItemKind))
            )
        if "pause_plan" in m:
            values["pause_plan"] = self.r.flag(m["pause_plan"], join(at, "pause_plan"))
        if "apply" in m:
            values["apply"] = self.apply(m["apply"], join(at, "apply"))
        if "note" in m:
            values["note"] = self.r.text(m["note"], join(at, "note"))
        if "source" in m or "evidence" in m:
            values["source"], values["evidence"] = self.cite(m, at)
        if any(v is None for v in values.values()):
            return None
        return TriggerConsequence(**values)

    def apply(self, raw: Any, at: str) -> dict[str, Apply] | None:
        """``apply = "on_confirm"`` (every consequence) or ``apply = { set_state = "on_confirm",
        imaging = "on_open" }`` (each named one; the others keep their default)."""
        if isinstance(raw, str):
            when = self.r.enum(raw, at, Apply)
            return None if when is None else dict.fromkeys(DEFAULT_APPLY, when)
        table = self.r.table(raw, at)
        if table is None:
            return None
        self.r.keys(table, at, optional=tuple(DEFAULT_APPLY))
        out = dict(DEFAULT_APPLY)
        for name, value in table.items():
            if name in DEFAULT_APPLY:
                when = self.r.enum(value, join(at, name), Apply)
                if when is None:
                    return None
                out[name] = when
        return out
