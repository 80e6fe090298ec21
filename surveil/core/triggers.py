"""Trigger evaluation: facts + thresholds + today -> findings that need a clinician.

The thresholds and their parser live in :mod:`surveil.core.thresholds`; they are re-exported here so
protocol code can import everything trigger-related from one place.
"""

from surveil.core.thresholds import (
    DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS,
)
from surveil.core.thresholds import (
    Comparator as Comparator,
)
from surveil.core.thresholds import (
    MarkerRule as MarkerRule,
)
from surveil.core.thresholds import (
    TriggerThresholds as TriggerThresholds,
)
from surveil.core.thresholds import (
    parse_thresholds as parse_thresholds,
)
