"""A patient's facts as the planner and the triggers see them, and the parser of the public
facts contract (``surveil plan --facts FILE.json``, docs/contract.md).

The parser reports every problem at once, each naming its field (``measurements[2].date``), and
never reads the clock: ``today`` is passed in, so "a measurement after today" is decidable purely.
"""

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from surveil.core.grading import highest_grade, who_grade
from surveil.core.vocab import (
    MARKER_KINDS,
    AdverseHistology,
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
from surveil.errors import InvalidInput, Problem

FACTS_VERSION = 1


@dataclass(frozen=True)
class Patient:
    id: str
    birth_date: dt.date | None = None
    timezone: str = "UTC"
    deceased_on: dt.date | None = None
    hereditary: Hereditary = Hereditary.NONE


@dataclass(frozen=True)
class Tumour:
    site: Site
    differentiation: Differentiation = Differentiation.WELL
    ki67: float | None = None
    mitoses: float | None = None
    stage: Stage | None = None
    functional: Functional = Functional.NONE
    sstr: Sstr = Sstr.UNKNOWN
    diagnosed_on: dt.date | None = None
    size_mm: float | None = None  # largest diameter at diagnosis or on the resection specimen
    # Optional facts added with pack 2027.1 (None: not recorded; rules needing them do not match).
    node_status: NodeStatus | None = None
    adverse_histology: frozenset[AdverseHistology] | None = None  # empty: reported, none seen
    carcinoid_type: CarcinoidType | None = None  # lung and thymus
    gastric_type: GastricType | None = None
    carcinoid_heart_disease: bool | None = None


@dataclass(frozen=True)
class Pathology:
    """A later Ki-67 or mitotic count (re-biopsy, resection specimen)."""

    date: dt.date
    ki67: float | None = None
    mitoses: float | None = None
    differentiation: Differentiation | None = None


@dataclass(frozen=True)
class State:
    kind: StateKind
    since: dt.date
    resection: Resection | None = None


@dataclass(frozen=True)
class Measurement:
    lesion: str
    date: dt.date
    mm: float
    modality: str = "mri"


@dataclass(frozen=True)
class Marker:
    name: ItemKind
    date: dt.date
    value: float
    uln: float | None = None
    on_ppi: bool = False


@dataclass(frozen=True)
class Therapy:
    kind: TherapyKind
    started_on: dt.date
    agent: str | None = None
    ended_on: dt.date | None = None
    cycles_given: int | None = None
    last_given_on: dt.date | None = None

    def is_ongoing(self, today: dt.date) -> bool:
        return self.started_on <= today and (self.ended_on is None or self.ended_on > today)


@dataclass(frozen=True)
class Completed:
    kind: ItemKind
    date: dt.date
    # The body region when one kind serves several (a pituitary MRI is not an abdominal MRI);
    # a completed item satisfies only a rule for the same region, or one with none if it has none.
    region: str | None = None


@dataclass(frozen=True)
class Symptom:
    date: dt.date
    description: str


@dataclass(frozen=True)
class Facts:
    patient: Patient
    tumour: Tumour | None
    state: State
    measurements: tuple[Measurement, ...] = ()
    markers: tuple[Marker, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    completed: tuple[Completed, ...] = ()
    symptoms: tuple[Symptom, ...] = ()
    pathology: tuple[Pathology, ...] = ()

    @cached_property
    def grade(self) -> Grade:
        """The highest WHO grade ever recorded: a later, lower count never downgrades.
        Worked out once per facts (the facts are immutable; the planner asks more than once)."""
        grades = [
            who_grade(p.differentiation or self._differentiation, p.ki67, p.mitoses)
            for p in self.pathology
        ]
        if self.tumour is not None:
            grades.append(
                who_grade(self.tumour.differentiation, self.tumour.ki67, self.tumour.mitoses)
            )
        return highest_grade(grades)

    @property
    def _differentiation(self) -> Differentiation | None:
        return self.tumour.differentiation if self.tumour else None

    def age_on(self, day: dt.date) -> int | None:
        born = self.patient.birth_date
        if born is None:
            return None
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# ---------------------------------------------------------------------------------------------
# Parsing the public JSON contract

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")
_HUGE = 1e12  # far above any size, count or marker value; refuses overflow and absurd input
_DATED = ("measurements", "markers", "completed", "symptoms", "pathology")


class _Reader:
    """Collects problems while converting raw JSON values; returns None for a bad value."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.problems: list[Problem] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def mapping(self, raw: Any, where: str) -> Mapping[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.fail(where, f"must be an object, got {_show(raw)}")
            return None
        return raw

    def keys(self, raw: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in sorted(set(raw) - allowed):
            self.fail(
                f"{where}.{key}" if where else key,
                f"unknown field (expected one of: {', '.join(sorted(allowed))})",
            )

    def enum(self, raw: Any, where: str, kind: type[E], default: E | None = None) -> E | None:
        if raw is None and default is not None:
            return default
        try:
            return kind(raw)
        except ValueError:
            choices = ", ".join(m.value for m in kind)
            self.fail(where, f"{_show(raw)} is not one of: {choices}")
            return None

    def date(
        self, raw: Any, where: str, *, required: bool = True, not_after_today: bool = False
    ) -> dt.date | None:
        if raw is None:
            if required:
                self.fail(where, "is required (a date as YYYY-MM-DD)")
            return None
        if not isinstance(raw, str):
            self.fail(where, f"must be a date as YYYY-MM-DD, got {_show(raw)}")
            return None
        try:
            value = dt.date.fromisoformat(raw)
        except ValueError:
            self.fail(where, f"{raw!r} is not a real date as YYYY-MM-DD")
            return None
        if not_after_today and value > self.today:
            self.fail(where, f"{value} is after today ({self.today})")
        return value

    def number(
        self,
        raw: Any,
        where: str,
        *,
        low: float | None = None,
        high: float | None = None,
        above: float | None = None,
        required: bool = False,
    ) -> float | None:
        if raw is None:
            if required:
                self.fail(where, "is required (a number)")
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.fail(where, f"must be a number, got {_show(raw)}")
            return None
        # JSON allows NaN, Infinity and 5,000-digit integers: none is a clinical value.
        value = float(raw) if isinstance(raw, float) or abs(raw) < _HUGE else math.inf
        if not math.isfinite(value) or abs(value) >= _HUGE:
            shown = _show(raw) if isinstance(raw, float) else "a number this large"
            self.fail(where, f"{shown} is not a finite number below {_HUGE:g}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(
                where,
                f"{raw} is outside {low:g}–{high:g}"
                if high is not None
                else f"{raw} must be at least {low:g}",
            )
            return None
        if above is not None and value <= above:
            self.fail(where, f"{raw} must be greater than {above:g}")
            return None
        return value

    def text(self, raw: Any, where: str, *, required: bool = True) -> str | None:
        if raw is None and not required:
            return None
        if not isinstance(raw, str) or not raw.strip():
            self.fail(where, f"must be non-empty text, got {_show(raw)}")
            return None
        return raw

    def items(
        self, raw: Any, where: str, parse: Callable[[Mapping[str, Any], str], T | None]
    ) -> tuple[T, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail(where, f"must be a list, got {_show(raw)}")
            return ()
        out = []
        for i, entry in enumerate(raw):
            at = f"{where}[{i}]"
            mapping = self.mapping(entry, at)
            if mapping is not None and (value := parse(mapping, at)) is not None:
                out.append(value)
        return tuple(out)


def _show(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_facts(raw: Any, *, today: dt.date) -> Facts:
    """Turn the JSON facts contract into :class:`Facts`; raise InvalidInput with every problem."""
    r = _Reader(today)
    top = r.mapping(raw, "facts")
    if top is None:
        raise InvalidInput(r.problems, what="facts")
    r.keys(
        top,
        "",
        {
            "version",
            "patient",
            "tumour",
            "state",
            "measurements",
            "markers",
            "therapies",
            "completed",
            "symptoms",
            "pathology",
        },
    )
    version = top.get("version", FACTS_VERSION)
    if version != FACTS_VERSION:
        r.fail("version", f"{_show(version)} is not a supported facts version ({FACTS_VERSION})")
    patient = _patient(r, top.get("patient"))
    born = patient.birth_date if patient else None
    tumour = None if top.get("tumour") is None else _tumour(r, top["tumour"])
    state = _state(r, top.get("state"))
    facts_lists = {
        "measurements": r.items(
            top.get("measurements"), "measurements", lambda m, at: _measurement(r, m, at)
        ),
        "markers": r.items(top.get("markers"), "markers", lambda m, at: _marker(r, m, at)),
        "therapies": r.items(top.get("therapies"), "therapies", lambda m, at: _therapy(r, m, at)),
        "completed": r.items(top.get("completed"), "completed", lambda m, at: _completed(r, m, at)),
        "symptoms": r.items(top.get("symptoms"), "symptoms", lambda m, at: _symptom(r, m, at)),
        "pathology": r.items(top.get("pathology"), "pathology", lambda m, at: _pathology(r, m, at)),
    }
    if born is not None:
        _check_dates(r, top, lambda day: day < born, f"is before the birth date ({born})")
    died = patient.deceased_on if patient else None
    if died is not None:
        _check_dates(r, top, lambda day: day > died, f"is after the date of death ({died})")
    if r.problems or patient is None or state is None:
        raise InvalidInput(r.problems, what="facts")
    return Facts(patient=patient, tumour=tumour, state=state, **facts_lists)  # type: ignore[arg-type]


def _check_dates(
    r: _Reader, top: Mapping[str, Any], wrong: Callable[[dt.date], bool], why: str
) -> None:
    """Every dated result for which ``wrong(date)`` holds (before birth, after death)."""
    for name in _DATED:
        entries = top.get(name)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if isinstance(entry, Mapping) and isinstance(entry.get("date"), str):
                try:
                    day = dt.date.fromisoformat(entry["date"])
                except ValueError:
                    continue
                if wrong(day):
                    r.fail(f"{name}[{i}].date", f"{day} {why}")


def _patient(r: _Reader, raw: Any) -> Patient | None:
    m = r.mapping(raw, "patient")
    if m is None:
        return None
    r.keys(m, "patient", {"id", "birth_date", "timezone", "deceased_on", "hereditary"})
    pid = r.text(str(m["id"]) if isinstance(m.get("id"), int) else m.get("id"), "patient.id")
    born = r.date(m.get("birth_date"), "patient.birth_date", required=False, not_after_today=True)
    tz = m.get("timezone") or "UTC"
    if not is_time_zone(tz):
        r.fail("patient.timezone", f"{_show(tz)} is not an IANA time zone such as Europe/London")
    deceased = r.date(
        m.get("deceased_on"), "patient.deceased_on", required=False, not_after_today=True
    )
    hereditary = r.enum(m.get("hereditary"), "patient.hereditary", Hereditary, Hereditary.NONE)
    if pid is None or hereditary is None:
        return None
    return Patient(
        id=pid, birth_date=born, timezone=tz, deceased_on=deceased, hereditary=hereditary
    )


def _tumour(r: _Reader, raw: Any) -> Tumour | None:
    m = r.mapping(raw, "tumour")
    if m is None:
        return None
    r.keys(
        m,
        "tumour",
        {
            "site",
            "differentiation",
            "ki67",
            "mitoses",
            "stage",
            "functional",
            "sstr",
            "diagnosed_on",
            "size_mm",
            *_OPTIONAL_TUMOUR_FACTS,
        },
    )
    site = r.enum(m.get("site"), "tumour.site", Site)
    diff = r.enum(
        m.get("differentiation"), "tumour.differentiation", Differentiation, Differentiation.WELL
    )
    ki67 = r.number(m.get("ki67"), "tumour.ki67", low=0, high=100)
    mitoses = r.number(m.get("mitoses"), "tumour.mitoses", low=0)
    stage = None if m.get("stage") is None else r.enum(m["stage"], "tumour.stage", Stage)
    functional = r.enum(m.get("functional"), "tumour.functional", Functional, Functional.NONE)
    sstr = r.enum(m.get("sstr"), "tumour.sstr", Sstr, Sstr.UNKNOWN)
    diagnosed = r.date(
        m.get("diagnosed_on"), "tumour.diagnosed_on", required=False, not_after_today=True
    )
    size = r.number(m.get("size_mm"), "tumour.size_mm", above=0)
    added = _optional_tumour_facts(r, m)
    if site is None or diff is None or functional is None or sstr is None:
        return None
    return Tumour(
        site=site,
        differentiation=diff,
        ki67=ki67,
        mitoses=mitoses,
        stage=stage,
        functional=functional,
        sstr=sstr,
        diagnosed_on=diagnosed,
        size_mm=size,
        **added,
    )


_OPTIONAL_TUMOUR_FACTS: tuple[str, ...] = ("node_status", "adverse_histology", "carcinoid_type")
_OPTIONAL_TUMOUR_FACTS += ("gastric_type", "carcinoid_heart_disease")


def _optional_tumour_facts(r: _Reader, m: Mapping[str, Any]) -> dict[str, Any]:
    """The facts added with pack 2027.1; a missing one stays None (not recorded)."""
    out: dict[str, Any] = {}
    vocab: dict[str, type[StrEnum]] = {"node_status": NodeStatus, "gastric_type": GastricType}
    vocab["carcinoid_type"] = CarcinoidType
    for key, kind in vocab.items():
        if m.get(key) is not None:
            out[key] = r.enum(m[key], f"tumour.{key}", kind)
    if m.get("adverse_histology") is not None:
        raw = m["adverse_histology"]
        if not isinstance(raw, list):
            r.fail("tumour.adverse_histology", f"must be a list, got {_show(raw)}")
        else:
            found = [
                r.enum(v, f"tumour.adverse_histology[{i}]", AdverseHistology)
                for i, v in enumerate(raw)
            ]
            out["adverse_histology"] = frozenset(f for f in found if f is not None)
    heart = m.get("carcinoid_heart_disease")
    if heart is not None and not isinstance(heart, bool):
        r.fail("tumour.carcinoid_heart_disease", f"must be true or false, got {_show(heart)}")
    elif heart is not None:
        out["carcinoid_heart_disease"] = heart
    return {k: v for k, v in out.items() if v is not None}


def _state(r: _Reader, raw: Any) -> State | None:
    m = r.mapping(raw, "state")
    if m is None:
        return None
    r.keys(m, "state", {"kind", "since", "resection"})
    kind = r.enum(m.get("kind"), "state.kind", StateKind)
    since = r.date(m.get("since"), "state.since", not_after_today=True)
    resection = (
        None if m.get("resection") is None else r.enum(m["resection"], "state.resection", Resection)
    )
    if kind is None or since is None:
        return None
    return State(kind=kind, since=since, resection=resection)


def _measurement(r: _Reader, m: Mapping[str, Any], at: str) -> Measurement | None:
    r.keys(m, at, {"lesion", "date", "mm", "modality"})
    lesion = r.text(m.get("lesion"), f"{at}.lesion")
    day = r.date(m.get("date"), f"{at}.date", not_after_today=True)
    mm = r.number(m.get("mm"), f"{at}.mm", above=0, required=True)
    modality = r.text(m.get("modality", "mri"), f"{at}.modality")
    if lesion is None or day is None or mm is None or modality is None:
        return None
    return Measurement(lesion=lesion, date=day, mm=mm, modality=modality)


def _marker(r: _Reader, m: Mapping[str, Any], at: str) -> Marker | None:
    r.keys(m, at, {"name", "date", "value", "uln", "on_ppi", "unit"})
    name = r.enum(m.get("name"), f"{at}.name", ItemKind)
    if name is not None and name not in MARKER_KINDS:
        r.fail(f"{at}.name", f"{name} is not a marker (an imaging or visit kind goes to completed)")
        name = None
    day = r.date(m.get("date"), f"{at}.date", not_after_today=True)
    value = r.number(m.get("value"), f"{at}.value", low=0, required=True)
    uln = r.number(m.get("uln"), f"{at}.uln", above=0)
    on_ppi = m.get("on_ppi", False)
    if not isinstance(on_ppi, bool):
        r.fail(f"{at}.on_ppi", f"must be true or false, got {_show(on_ppi)}")
        return None
    if name is None or day is None or value is None:
        return None
    return Marker(name=name, date=day, value=value, uln=uln, on_ppi=on_ppi)


def _therapy(r: _Reader, m: Mapping[str, Any], at: str) -> Therapy | None:
    r.keys(m, at, {"kind", "agent", "started_on", "ended_on", "cycles_given", "last_given_on"})
    kind = r.enum(m.get("kind"), f"{at}.kind", TherapyKind)
    agent = r.text(m.get("agent"), f"{at}.agent", required=False)
    started = r.date(m.get("started_on"), f"{at}.started_on", not_after_today=True)
    ended = r.date(m.get("ended_on"), f"{at}.ended_on", required=False)
    last = r.date(
        m.get("last_given_on"), f"{at}.last_given_on", required=False, not_after_today=True
    )
    cycles_raw = m.get("cycles_given")
    cycles: int | None = None
    if cycles_raw is not None:
        if isinstance(cycles_raw, bool) or not isinstance(cycles_raw, int) or cycles_raw < 0:
            r.fail(f"{at}.cycles_given", f"must be a whole number ≥ 0, got {_show(cycles_raw)}")
        else:
            cycles = cycles_raw
    if started and ended and ended < started:
        r.fail(f"{at}.ended_on", f"{ended} is before started_on ({started})")
    if kind is None or started is None:
        return None
    return Therapy(
        kind=kind,
        agent=agent,
        started_on=started,
        ended_on=ended,
        cycles_given=cycles,
        last_given_on=last,
    )


def _completed(r: _Reader, m: Mapping[str, Any], at: str) -> Completed | None:
    r.keys(m, at, {"kind", "date", "region"})
    kind = r.enum(m.get("kind"), f"{at}.kind", ItemKind)
    day = r.date(m.get("date"), f"{at}.date", not_after_today=True)
    region = r.text(m.get("region"), f"{at}.region", required=False)
    return None if kind is None or day is None else Completed(kind, day, region or None)


def _symptom(r: _Reader, m: Mapping[str, Any], at: str) -> Symptom | None:
    r.keys(m, at, {"date", "description"})
    day = r.date(m.get("date"), f"{at}.date", not_after_today=True)
    text = r.text(m.get("description"), f"{at}.description")
    return None if day is None or text is None else Symptom(date=day, description=text)


def _pathology(r: _Reader, m: Mapping[str, Any], at: str) -> Pathology | None:
    r.keys(m, at, {"date", "ki67", "mitoses", "differentiation"})
    day = r.date(m.get("date"), f"{at}.date", not_after_today=True)
    ki67 = r.number(m.get("ki67"), f"{at}.ki67", low=0, high=100)
    mitoses = r.number(m.get("mitoses"), f"{at}.mitoses", low=0)
    diff = (
        None
        if m.get("differentiation") is None
        else r.enum(m["differentiation"], f"{at}.differentiation", Differentiation)
    )
    if day is None:
        return None
    return Pathology(date=day, ki67=ki67, mitoses=mitoses, differentiation=diff)


def is_time_zone(name: Any) -> bool:
    """True for an IANA zone name that this machine's tz database knows."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def facts_to_json(facts: Facts) -> dict[str, Any]:
    """The inverse of :func:`parse_facts`: JSON-ready, stable key order."""

    def conv(value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, StrEnum):
            return value.value
        if isinstance(value, frozenset):
            return sorted(conv(v) for v in value)
        if isinstance(value, tuple | list):
            return [conv(v) for v in value]
        if hasattr(value, "__dataclass_fields__"):
            return {k: conv(getattr(value, k)) for k in value.__dataclass_fields__}
        return value

    out: dict[str, Any] = {"version": FACTS_VERSION}
    out.update(conv(facts))
    return out
