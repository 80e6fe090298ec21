"""A marker result's checks, shared by the forms (``patients.add_marker``: an ORM row) and the
HL7 feed (a Core INSERT of the same checked values, in its hot path)."""

import datetime as dt
from typing import Any

from surveil.core.vocab import MARKER_KINDS, ItemKind
from surveil.services.validate import Checker


def marker_values(
    *,
    patient_id: int,
    birth_date: dt.date,
    name: str | None,
    value: str | float | None,
    date: str | None,
    unit: str = "",
    uln: str | float | None = None,
    on_ppi: bool = False,
    today: dt.date,
) -> dict[str, Any]:
    """A marker result's checked column values (``add_marker``'s checks, for the HL7 feed that
    inserts them with a Core statement); InvalidInput with every problem otherwise."""
    check = Checker(today=today, what="marker result")
    kind = check.choice("name", name, ItemKind)
    if kind is not None and kind not in MARKER_KINDS:
        check.fail(
            "name",
            f"{kind.value!r} is not a marker; markers are: "
            + ", ".join(sorted(k.value for k in MARKER_KINDS)),
        )
    number = check.number("value", value, low=0)
    day = check.date("date", date, not_before=birth_date, not_before_label="the birth date")
    limit = check.number("uln", uln, required=False, positive=True)
    check.raise_if_problems()
    assert kind and number is not None and day
    return {
        "patient_id": patient_id,
        "name": kind,
        "value": number,
        "unit": unit.strip(),
        "uln": limit,
        "date": day,
        "on_ppi": on_ppi,
    }
