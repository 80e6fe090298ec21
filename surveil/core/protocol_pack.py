"""Reading a whole protocol pack (parsed TOML): its sources, its profiles and its default.

This is the top of the pack reader: it uses the rule checker (:mod:`surveil.core.protocol_parse`)
and the profile resolver (:mod:`surveil.core.protocol_profiles`), and neither of them imports it
back, so the three modules import one another in one direction only.
"""

from collections.abc import Mapping
from typing import Any

from surveil.core.protocol import Evidence, Pack, Source
from surveil.core.protocol_parse import Checker
from surveil.core.protocol_profiles import read_profiles
from surveil.core.reading import Reader, join
from surveil.errors import RuleError


def parse_pack(raw: Mapping[str, Any], *, where: str) -> Pack:
    """Validate a raw pack (parsed TOML); raise RuleError listing every problem with its place."""
    r = Reader(where)
    top = r.table(raw, "")
    if top is None:
        raise RuleError(r.problems)
    r.keys(
        top,
        "",
        required=("id", "version", "title", "sources", "profiles"),
        optional=("default_profile",),
    )
    sources = _sources(r, top.get("sources"))
    checker = Checker(r, set(sources))
    raw_profiles = r.table(top.get("profiles", {}), "profiles") or {}
    profiles = read_profiles(checker, raw_profiles)
    default = top.get("default_profile", "default")
    if raw_profiles and default not in raw_profiles:
        r.fail("default_profile", f"{default!r} is not a profile of this pack")
    pack_id, version, title = (r.text(top.get(k), k) for k in ("id", "version", "title"))
    if r.problems or pack_id is None or version is None or title is None:
        raise RuleError(r.problems)
    return Pack(
        id=pack_id,
        version=version,
        title=title,
        sources=sources,
        profiles=profiles,
        default_profile=default,
    )


def _sources(r: Reader, raw: Any) -> dict[str, Source]:
    table = r.table(raw, "sources")
    out: dict[str, Source] = {}
    for sid, entry in (table or {}).items():
        at = f"sources.{sid}"
        m = r.table(entry, at)
        if m is None:
            continue
        r.keys(m, at, required=("title", "evidence"), optional=("address",))
        title = r.text(m.get("title"), join(at, "title"))
        evidence = r.enum(m.get("evidence"), join(at, "evidence"), Evidence)
        address = m.get("address", "")
        if title is not None and evidence is not None:
            out[sid] = Source(id=sid, title=title, evidence=evidence, address=str(address))
    return out
