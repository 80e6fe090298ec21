"""The clinic's protocol: the pack and profile its settings name, read once per process.

Planning and trigger escalation both need it, so it sits beside both packages rather than in
either: ``services.planning.care`` runs triggers then plans, and if this module lived in
``planning``, ``triggers`` would import ``planning`` back (a cycle between the two packages).

Every entry point (the CLI, ``create_app``, the daemon) calls :func:`check_clinic_protocol` right
after loading its settings. The settings cannot check ``clinic.pack`` themselves: the packs are
read by ``surveil.schedules``, an adapter above ``config`` in the layers.
"""

from functools import lru_cache
from pathlib import Path

from surveil.config import Settings
from surveil.core.protocol import Pack, Profile
from surveil.errors import ConfigError, Problem, RuleError
from surveil.schedules import get_profile, load_packs


@lru_cache(maxsize=8)
def _packs(directory: Path | None) -> dict[str, Pack]:
    return load_packs(directory)


def active_profile(settings: Settings) -> tuple[Pack, Profile]:
    """The clinic's pack and profile (packs are read once per process).

    Raises ConfigError naming the setting, its value and the choices when the pack or the profile
    does not exist (RuleError when a pack file itself is broken).
    """
    packs = _packs(settings.paths.schedules)
    clinic = settings.clinic
    pack = packs.get(clinic.pack)
    if pack is None:
        choices = ", ".join(sorted(packs))
        raise ConfigError(
            Problem("clinic.pack", f"{clinic.pack!r} is not a protocol pack (available: {choices})")
        )
    try:
        return get_profile({clinic.pack: pack}, clinic.profile)
    except RuleError:
        choices = ", ".join(pack.profiles)
        raise ConfigError(
            Problem(
                "clinic.profile",
                f"{clinic.profile!r} is not a profile of pack {pack.id!r} (available: {choices})",
            )
        ) from None


def check_clinic_protocol(settings: Settings) -> None:
    """Refuse to start with a ``clinic.pack`` or ``clinic.profile`` that does not exist.

    Without this check the mistake surfaces later, as a traceback at the first write or a server
    error on the first page that plans.
    """
    active_profile(settings)
