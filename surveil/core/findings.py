"""A finding: one trigger rule firing on a patient's facts, with the numbers that made it fire.

Identity (docs/triggers.md, "Same finding, or a new one?"):

* ``key`` = kind + subject (``growth_rate:L1``). While a trigger with this key is open or
  acknowledged, the escalation service folds new findings into it instead of opening another.
* ``fingerprint`` = key + the date of the newest evidence that fires
  (``growth_rate:L1:2025-11-20``). Re-evaluating unchanged facts gives the same fingerprint on
  any day, so a resolved trigger is not reopened by the same evidence; a later scan that still
  exceeds the threshold is new evidence and gets a new fingerprint.

Each rule yields at most one finding per key, so the service never has to choose between two.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from math import floor
from typing import Any


class TriggerKind(StrEnum):
    GROWTH_RATE = "growth_rate"
    SIZE = "size"
    RECIST = "recist"
    MARKER_RISE = "marker_rise"
    GRADE_CHANGE = "grade_change"
    SYMPTOMS = "symptoms"
    SSA_OVERDUE = "ssa_overdue"


KIND_ORDER = {kind: i for i, kind in enumerate(TriggerKind)}


@dataclass(frozen=True)
class Finding:
    kind: TriggerKind
    subject: (
        str  # what it is about: a lesion, "sum", "new:L3", a marker, "grade", "symptoms", "ssa"
    )
    lesion: str | None
    value: float | None
    threshold: float | None
    unit: str
    confounded: bool
    action: str
    detected_on: dt.date  # the date of the evidence, never the evaluation day
    explanation: str
    urgent: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def fingerprint(self) -> str:
        return f"{self.key}:{self.detected_on.isoformat()}"


def finding_to_json(finding: Finding) -> dict[str, Any]:
    """The public shape under ``triggers`` in ``surveil plan --json`` (issue 5 §4)."""
    return {
        "kind": finding.kind.value,
        "lesion": finding.lesion,
        "value": finding.value,
        "threshold": finding.threshold,
        "unit": finding.unit,
        "confounded": finding.confounded,
        "action": finding.action,
        "detected_on": finding.detected_on.isoformat(),
        "explanation": finding.explanation,
    }


# ---------------------------------------------------------------------------------------------
# Exact numbers. Measurements arrive as floats parsed from decimal text; 17.1 - 12.1 in binary
# floating point is 4.999999999999998, which would miss a 5 mm threshold. Reading each float back
# through its shortest decimal form gives the number the user typed, and Fractions keep it exact.


# Remembered: a replan asks for the same few hundred diameters and limits hundreds of thousands of
# times (a Fraction is immutable, so one object serves every caller); bounded for a long-lived
# process.
@lru_cache(maxsize=1 << 16)
def exact(value: float) -> Fraction:
    # Decimal parses the shortest repr in C, about twice as fast as Fraction's own parser.
    return Fraction(*Decimal(repr(float(value))).as_integer_ratio())


def round2(value: Fraction) -> Fraction:
    """Round half away from zero to 0.01: 4.995 -> 5.00, as a person rounding by hand would."""
    magnitude = Fraction(floor(abs(value) * 100 + Fraction(1, 2)), 100)
    return magnitude if value >= 0 else -magnitude


def show(value: Fraction | float) -> str:
    """A number for an explanation: at most two decimals, no trailing zeros (5, 8.33, 4.9)."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
