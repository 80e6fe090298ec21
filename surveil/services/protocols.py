"""The clinic's protocol: the pack and profile its settings name, read once per process.

Planning and trigger escalation both need it, so it sits beside both packages rather than in
either: ``services.planning.care`` runs triggers then plans, and if this module lived in
``planning``, ``triggers`` would import ``planning`` back (a cycle between the two packages).
"""

from functools import lru_cache
from pathlib import Path

from surveil.config import Settings
from surveil.core.protocol import Pack, Profile
from surveil.schedules import get_profile, load_packs


@lru_cache(maxsize=8)
def _packs(directory: Path | None) -> dict[str, Pack]:
    return load_packs(directory)


def active_profile(settings: Settings) -> tuple[Pack, Profile]:
    """The clinic's pack and profile (packs are read once per process)."""
    packs = _packs(settings.paths.schedules)
    pack, profile = get_profile(
        {settings.clinic.pack: packs[settings.clinic.pack]}, settings.clinic.profile
    )
    return pack, profile
