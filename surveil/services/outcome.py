"""What a change did, in words for the person who made it: the plain result a shell shows once
the service's transaction has closed (web flash, CLI line)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    message: str
    patient_id: int
    new_triggers: tuple[str, ...] = ()  # kinds of the triggers the change fired
    plan_changes: tuple[str, ...] = ()  # open items added, dropped or moved, in words
