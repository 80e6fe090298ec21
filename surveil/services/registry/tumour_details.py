"""The optional tumour facts of pack 2027.1: nodes, adverse histology, carcinoid and gastric type,
carcinoid heart disease. Allowed values are exactly those of the facts contract.

Each field is raw text. Not given (None or "") leaves the stored value alone; ``unknown`` clears
it (NULL: not recorded, so rules needing the fact do not match). ``adverse_histology`` is a
comma-separated list of features, or ``none`` for "reported, none seen" (stored as "").
"""

from enum import StrEnum

from surveil.core.vocab import AdverseHistology, CarcinoidType, GastricType, NodeStatus
from surveil.services.validate import Checker

DETAIL_FIELDS = (
    "node_status",
    "adverse_histology",
    "carcinoid_type",
    "gastric_type",
    "carcinoid_heart_disease",
)
UNKNOWN = "unknown"
NONE_SEEN = "none"
YES_NO = {"yes": True, "true": True, "no": False, "false": False}
_CHOICES: dict[str, type[StrEnum]] = {
    "node_status": NodeStatus,
    "carcinoid_type": CarcinoidType,
    "gastric_type": GastricType,
}


def detail_values(check: Checker, given: dict[str, str | None]) -> dict[str, object]:
    """The detail columns to write: only the fields given, None where ``unknown`` clears one."""
    out: dict[str, object] = {}
    for name, kind in _CHOICES.items():
        raw = _given(given.get(name))
        if raw is not None:
            out[name] = None if raw.lower() == UNKNOWN else check.choice(name, raw, kind)
    adverse = _given(given.get("adverse_histology"))
    if adverse is not None:
        out["adverse_histology"] = _adverse(check, adverse)
    heart = _given(given.get("carcinoid_heart_disease"))
    if heart is not None:
        out["carcinoid_heart_disease"] = _yes_no(check, "carcinoid_heart_disease", heart)
    return out


def _given(raw: str | None) -> str | None:
    return (raw or "").strip() or None


def _adverse(check: Checker, raw: str) -> str | None:
    if raw.lower() == UNKNOWN:
        return None
    if raw.lower() == NONE_SEEN:
        return ""
    features = {part.strip() for part in raw.split(",") if part.strip()}
    allowed = {a.value for a in AdverseHistology}
    wrong = sorted(features - allowed)
    if wrong:
        check.fail(
            "adverse_histology",
            f"{', '.join(wrong)} is not one of: {', '.join(allowed_sorted(allowed))}, "
            f"{NONE_SEEN} or {UNKNOWN}",
        )
        return None
    return ",".join(sorted(features))


def allowed_sorted(values: set[str]) -> list[str]:
    return [a.value for a in AdverseHistology if a.value in values]


def _yes_no(check: Checker, field: str, raw: str) -> bool | None:
    raw = raw.lower()
    if raw == UNKNOWN:
        return None
    if raw not in YES_NO:
        check.fail(field, f"{raw!r} is not one of: yes, no, {UNKNOWN}")
        return None
    return YES_NO[raw]
