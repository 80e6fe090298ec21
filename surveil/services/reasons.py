"""Coded reasons: the clinic's short lists (``[reasons]`` in the config) and the rows that keep
each decision's code and free text (``coded_reason``), for ``surveil report reasons``.

Every list ends with "other", which needs free text; any code takes free text beside it.
"""

from sqlmodel import Session

from surveil.config import ReasonSettings
from surveil.config_rules import reason_codes
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.validate import Checker

OTHER = "other"
KINDS = (
    "booking",
    "declined",
    "not_needed",
    "snoozed",
    "override",
    "reopened",
    "trigger_outcome",
)
# Trigger outcomes that say the finding was never real: its consequences are undone.
REVERTING_OUTCOMES = frozenset({"false_alarm", "measurement_error"})


def choices(reasons: ReasonSettings, kind: str) -> tuple[str, ...]:
    """The codes offered for ``kind`` (one of ``KINDS``), "other" last."""
    return reason_codes(str(getattr(reasons, kind)))


def check_code(
    check: Checker,
    reasons: ReasonSettings,
    kind: str,
    code: str | None,
    text: str | None,
    *,
    field: str = "reason_code",
    text_field: str = "reason",
    default: str | None = None,
) -> tuple[str | None, str]:
    """The code (one of the list, or ``default`` when none is given) and its free text; a missing
    or unknown code, or "other" without text, is a problem naming the field."""
    allowed = choices(reasons, kind)
    picked = (code or "").strip() or default
    words = check.text(text_field, text, required=False, max_length=300) or ""
    if picked is None:
        check.fail(field, f"is required: one of {', '.join(allowed)}")
        return None, words
    if picked not in allowed:
        check.fail(field, f"{picked!r} is not one of {', '.join(allowed)}")
        return None, words
    if picked == OTHER and not words and all(p.field != text_field for p in check.problems):
        check.fail(text_field, "is required when the reason is 'other'")
    return picked, words


def keep_reason(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    action: str,
    subject: str,
    rule_id: str,
    code: str,
    note: str,
) -> None:
    """Append one coded reason (never edited: a correction is a new row)."""
    session.add(
        m.CodedReason(
            patient_id=patient_id,
            action=action[:32],
            subject=subject[:64],
            rule_id=rule_id[:64],
            code=code[:32],
            note=note[:300],
            actor=actor.username[:64],
        )
    )
