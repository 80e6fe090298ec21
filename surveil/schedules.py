"""Reading protocol packs from ``schedules/*.toml`` (the only I/O around core.protocol).

Every file is checked and every problem reported with its file and place, so ``surveil schedules
check`` shows a clinician all their mistakes in one run.
"""

import tomllib
from pathlib import Path

from surveil.core.digits import is_digits
from surveil.core.protocol import Pack, Profile
from surveil.core.protocol_pack import parse_pack
from surveil.errors import Problem, RuleError
from surveil.resources import resource_dir


def pack_files(directory: Path | None = None) -> list[Path]:
    return sorted(resource_dir("schedules", directory).glob("*.toml"))


def _read(path: Path) -> tuple[Pack | None, list[Problem]]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        return None, [Problem(path.name, f"not valid TOML: {error}")]
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(path.name, f"cannot be read: {error}")]
    try:
        return parse_pack(raw, where=path.name), []
    except RuleError as error:
        return None, error.problems


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Sorts "2026.1" < "2026.2" < "2027.1" < "2027.10" (numeric parts compared as numbers)."""
    return tuple((int(p), "") if is_digits(p) else (-1, p) for p in version.split("."))


def _load(directory: Path | None) -> tuple[dict[str, dict[str, Pack]], list[Problem]]:
    packs: dict[str, dict[str, Pack]] = {}
    problems: list[Problem] = []
    files = pack_files(directory)
    if not files:
        problems.append(Problem(str(resource_dir("schedules", directory)), "holds no *.toml pack"))
    for path in files:
        pack, found = _read(path)
        problems += found
        if pack is None:
            continue
        versions = packs.setdefault(pack.id, {})
        if pack.version in versions:
            problems.append(
                Problem(f"{path.name}: id", f"pack id {pack.id!r} is used twice")
                if len(versions) == 1
                else Problem(f"{path.name}: version", f"{pack.id} {pack.version} is used twice")
            )
            continue
        versions[pack.version] = pack
    return packs, problems


def check_schedules(directory: Path | None = None) -> list[Problem]:
    """Every problem in every pack of the folder; an empty list means all is well."""
    return _load(directory)[1]


def load_pack_versions(directory: Path | None = None) -> dict[str, dict[str, Pack]]:
    """Every version of every pack: id -> version -> pack, versions oldest first."""
    packs, problems = _load(directory)
    if problems:
        raise RuleError(problems)
    return {
        pack_id: dict(sorted(versions.items(), key=lambda kv: version_key(kv[0])))
        for pack_id, versions in packs.items()
    }


def load_packs(directory: Path | None = None) -> dict[str, Pack]:
    """Each pack's *baseline* version by id: the oldest one shipped. A newer version never takes
    effect by being installed; a clinician activates it (``surveil schedules activate``).
    Raise RuleError listing every problem if any file is wrong."""
    return {pid: next(iter(v.values())) for pid, v in load_pack_versions(directory).items()}


def get_profile(packs: dict[str, Pack], name: str | None = None) -> tuple[Pack, Profile]:
    """The pack and profile for ``name``: ``profile`` if unique across packs, or ``pack:profile``.

    Without a name: the default profile of the only pack (or of ``net-default``).
    """
    if name is None:
        pack = packs.get("net-default") or (next(iter(packs.values())) if len(packs) == 1 else None)
        if pack is None:
            raise RuleError(Problem("profile", "several packs are loaded: name one (pack:profile)"))
        return pack, pack.profile()
    pack_id, _, profile_name = name.rpartition(":")
    found = [
        (pack, pack.profiles[profile_name])
        for pack in packs.values()
        if profile_name in pack.profiles and pack_id in ("", pack.id)
    ]
    if len(found) == 1:
        return found[0]
    known = sorted(f"{p.id}:{n}" for p in packs.values() for n in p.profiles)
    why = "is ambiguous" if found else "is not a known profile"
    raise RuleError(Problem("profile", f"{name!r} {why} (known: {', '.join(known)})"))
