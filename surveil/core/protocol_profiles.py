"""Profiles of a pack: each read with the pack's checker, then resolved against the one it extends.

A profile that ``extends`` another starts from the parent's rules: ``drop`` removes rules, a rule
with a parent's id replaces it in place, and a new rule is appended (or placed before
``insert_before``, since within a group the first matching rule wins). Thresholds and trigger
consequences are inherited key by key.
"""

from collections.abc import Mapping
from typing import Any

from surveil.core.findings import TriggerKind
from surveil.core.protocol import Profile, Rule
from surveil.core.protocol_parse import Checker
from surveil.core.reading import Reader, join
from surveil.core.thresholds import parse_thresholds

_TRIGGER_KINDS = frozenset(kind.value for kind in TriggerKind)
_KINDS = ", ".join(sorted(_TRIGGER_KINDS))


def read_profiles(c: Checker, raw: Mapping[str, Any]) -> dict[str, Profile]:
    if not raw:
        c.r.fail("profiles", "needs at least one profile")
    done: dict[str, Profile] = {}
    raw_thresholds: dict[str, dict[str, Any]] = {}
    for name in _extension_order(c.r, raw):
        profile = _profile(c, name, raw[name], done, raw_thresholds)
        if profile is not None:
            done[name] = profile
    return done


def _extension_order(r: Reader, raw: Mapping[str, Any]) -> list[str]:
    """Profiles sorted so each comes after the one it extends; cycles and unknowns are errors."""
    order: list[str] = []
    for name in raw:
        chain, current = [name], name
        while isinstance(raw.get(current), Mapping) and "extends" in raw[current]:
            current = raw[current]["extends"]
            if current not in raw:
                r.fail(f"profiles.{chain[-1]}.extends", f"{current!r} is not a profile")
                break
            if current in chain:
                r.fail(f"profiles.{name}.extends", f"cycle: {' -> '.join([*chain, current])}")
                return []
            chain.append(current)
        order.extend(n for n in reversed(chain) if n not in order)
    return [n for n in order if n in raw]


def _profile(
    c: Checker,
    name: str,
    raw: Any,
    done: Mapping[str, Profile],
    raw_thresholds: dict[str, dict[str, Any]],
) -> Profile | None:
    at = f"profiles.{name}"
    m = c.r.table(raw, at)
    if m is None:
        return None
    optional = ("description", "extends", "drop", "rules", "thresholds", "on_trigger")
    c.r.keys(m, at, required=("title",), optional=optional)
    parent = done.get(m["extends"]) if "extends" in m else None
    if "extends" in m and parent is None:
        return None  # the parent's own problems are already reported
    rules = _rules(c, m, at, parent)
    own = c.r.table(m.get("thresholds", {}), f"{at}.thresholds") or {}
    raw_thresholds[name] = {**raw_thresholds.get(m.get("extends", ""), {}), **own}
    thresholds, problems = parse_thresholds(
        raw_thresholds[name], where=f"{c.r.where}: {at}.thresholds"
    )
    c.r.problems.extend(problems)
    on_trigger = dict(parent.on_trigger) if parent else {}
    for trigger, entry in (c.r.table(m.get("on_trigger", {}), f"{at}.on_trigger") or {}).items():
        if trigger not in _TRIGGER_KINDS:
            # A misspelt kind ("sizee") would otherwise silently drop the tumour-board referral.
            c.r.fail(
                f"{at}.on_trigger.{trigger}", f"unknown trigger kind (expected one of: {_KINDS})"
            )
            continue
        consequence = c.consequence(trigger, entry, f"{at}.on_trigger.{trigger}")
        if consequence is not None:
            on_trigger[trigger] = consequence
    title = c.r.text(m.get("title"), f"{at}.title")
    return Profile(
        name=name,
        title=title or name,
        rules=tuple(rules),
        description=str(m.get("description", "")).strip(),
        extends=m.get("extends"),
        thresholds=thresholds,
        on_trigger=on_trigger,
    )


def _rules(c: Checker, m: Mapping[str, Any], at: str, parent: Profile | None) -> list[Rule]:
    """The profile's rules: the parent's, minus ``drop``, with same-id rules replaced in place and
    new ones appended (or placed before ``insert_before``: order matters within a group)."""
    rules = list(parent.rules) if parent else []
    for i, rule_id in enumerate(m.get("drop", [])):
        if rule_id not in [rule.id for rule in rules]:
            c.r.fail(f"{at}.drop[{i}]", f"{rule_id!r} is not a rule of {parent and parent.name}")
        rules = [rule for rule in rules if rule.id != rule_id]
    own: set[str] = set()
    for rat, raw_rule in c.r.tables(m.get("rules"), f"{at}.rules"):
        rule = c.rule(raw_rule, rat)
        if rule is None:
            continue
        if rule.id in own:
            c.r.fail(join(rat, "id"), f"{rule.id!r} is defined twice in this profile")
            continue
        own.add(rule.id)
        ids = [existing.id for existing in rules]
        before = raw_rule.get("insert_before")
        if rule.id in ids:
            rules[ids.index(rule.id)] = rule
        elif before is not None and before not in ids:
            c.r.fail(join(rat, "insert_before"), f"{before!r} is not a rule of this profile")
        elif before is not None:
            rules.insert(ids.index(before), rule)
        else:
            rules.append(rule)
    if not rules and not m.get("rules"):
        c.r.fail(f"{at}.rules", "a profile needs at least one rule")
    return rules
