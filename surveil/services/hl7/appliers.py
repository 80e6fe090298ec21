"""Which applier takes which message type."""

from collections.abc import Callable

from surveil.services.hl7 import adt, oru, siu
from surveil.services.hl7.context import Context, Unapplicable

Applier = Callable[[Context], str]

APPLIERS: dict[str, Applier] = {
    "ORU": oru.apply_results,
    "SIU": siu.apply_booking,
    "ADT^A40": adt.queue_merge,
    "ADT": adt.apply_demographics,
}


def apply(context: Context) -> str:
    """Apply the message in the open transaction; returns its words, or raises Unapplicable."""
    kind = context.row.kind
    applier = APPLIERS.get(kind) or APPLIERS.get(kind.split("^")[0])
    if applier is None:
        raise Unapplicable(f"message type {kind} is not applied by surveil")
    return applier(context)
