"""The clinic's protocol: the pack and profile its settings name, read once per process.

Planning and trigger escalation both need it, so it sits beside both packages rather than in
either: ``services.planning.care`` runs triggers then plans, and if this module lived in
``planning``, ``triggers`` would import ``planning`` back (a cycle between the two packages).

Every entry point (the CLI, ``create_app``, the daemon) calls :func:`check_clinic_protocol` right
after loading its settings. The settings cannot check ``clinic.pack`` themselves: the packs are
read by ``surveil.schedules``, an adapter above ``config`` in the layers.
"""

import datetime as dt
import hashlib
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.protocol import Pack, Profile
from surveil.db.protocol_models import ProtocolActivation
from surveil.db.session import read_scope
from surveil.errors import ConfigError, Problem, RuleError
from surveil.schedules import get_profile, load_pack_versions, load_packs, pack_files


@lru_cache(maxsize=8)
def _loaded(directory: Path | None) -> tuple[dict[str, Pack], str]:
    # The files' digest is taken just before they are parsed, once: a replan's memo
    # (``planning.memo``) names the packs this process plans with, not a later edit of them
    # (a file edited in between makes the digest older than the packs: a needless replan).
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(pack_files(directory)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return load_packs(directory), digest.hexdigest()


def _packs(directory: Path | None) -> dict[str, Pack]:
    return _loaded(directory)[0]


def packs_digest(directory: Path | None) -> str:
    """A digest of the pack files as this process read them."""
    return _loaded(directory)[1]


@lru_cache(maxsize=8)
def pack_versions(directory: Path | None) -> dict[str, dict[str, Pack]]:
    """Every shipped version of every pack (read once per process)."""
    return load_pack_versions(directory)


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


# ---------------------------------------------------------------------------------------------
# The protocol in force (issue 15): the clinic's activation log, else the configured baseline.


def current_activation(
    session: Session, *, settings: Settings, today: dt.date
) -> ProtocolActivation | None:
    """The latest activation or rollback of the clinic's pack in effect on ``today``."""
    query = (
        select(ProtocolActivation)
        .where(
            ProtocolActivation.clinic == settings.clinic.name,
            ProtocolActivation.pack_id == settings.clinic.pack,
            col(ProtocolActivation.effective_on) <= today,
        )
        .order_by(col(ProtocolActivation.effective_on).desc(), col(ProtocolActivation.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def version_profile(settings: Settings, version: str, profile: str | None) -> tuple[Pack, Profile]:
    """The clinic's pack at ``version`` with ``profile`` (default: the clinic's profile, else the
    pack's default); ConfigError names what is missing and the choices."""
    versions = pack_versions(settings.paths.schedules).get(settings.clinic.pack, {})
    pack = versions.get(version)
    if pack is None:
        known = ", ".join(versions) or "none"
        raise ConfigError(
            Problem(
                "version", f"{settings.clinic.pack} {version!r} is not shipped (known: {known})"
            )
        )
    name = profile or (
        settings.clinic.profile if settings.clinic.profile in pack.profiles else None
    )
    name = name or pack.default_profile
    if name not in pack.profiles:
        known = ", ".join(pack.profiles)
        raise ConfigError(
            Problem("profile", f"{name!r} is not a profile of {pack.id} {version} ({known})")
        )
    return pack, pack.profile(name)


def protocol_in_force(session: Session, settings: Settings, today: dt.date) -> tuple[Pack, Profile]:
    """The pack version and profile the clinic plans with on ``today``: the activation in effect
    (``surveil schedules activate``), or without one the configured pack's baseline version."""
    row = current_activation(session, settings=settings, today=today)
    if row is None:
        return active_profile(settings)
    return version_profile(settings, row.version, row.profile)


def protocol_in_force_on(
    engine: sa.Engine, settings: Settings, today: dt.date
) -> tuple[Pack, Profile]:
    """:func:`protocol_in_force` in its own read-only snapshot (for shells: no patient data)."""
    with read_scope(engine) as session:
        return protocol_in_force(session, settings, today)
