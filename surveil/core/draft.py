"""What the planner drafts before combining (``core/plan``, ``core/combine``): an item's
anchor, and a draft of an item for one patient."""

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from surveil.core.protocol import Interval, ItemSpec, Rule
from surveil.core.windows import Window


@dataclass(frozen=True)
class Anchor:
    event: str
    date: dt.date


class Draft(NamedTuple):
    """An item before dedupe and bundling; ``order`` is the rule's place in the profile.

    A named tuple, not a frozen dataclass: ~5 are made per patient and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) cost more than the fields' values."""

    order: int
    rule: Rule
    spec: ItemSpec
    window: Window
    anchor: Anchor
    interval: Interval
    first: bool
    extra: str = ""
