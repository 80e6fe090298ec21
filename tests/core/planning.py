"""Helpers for planner tests: facts built through the real contract parser, the shipped pack."""

import datetime as dt
from functools import cache
from typing import Any

from surveil.core.facts import Facts, parse_facts
from surveil.core.plan import Plan, PlannedItem, plan
from surveil.core.protocol import Pack
from surveil.schedules import load_packs


@cache
def shipped_pack() -> Pack:
    return load_packs()["net-default"]


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def make_facts(
    today: str,
    *,
    tumour: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    patient: dict[str, Any] | None = None,
    no_tumour: bool = False,
    **lists: list[dict[str, Any]],
) -> Facts:
    """Facts for a well-differentiated G1 pancreatic NET on surveillance, overridden as asked."""
    raw: dict[str, Any] = {
        "patient": {"id": "P1", "birth_date": "1960-01-15", **(patient or {})},
        "tumour": None
        if no_tumour
        else {
            "site": "pancreas",
            "differentiation": "well",
            "ki67": 1.0,
            "functional": "none",
            "sstr": "unknown",
            "diagnosed_on": "2025-01-10",
            "size_mm": 14,
            **(tumour or {}),
        },
        "state": {"kind": "active_surveillance", "since": "2025-01-10", **(state or {})},
        **lists,
    }
    return parse_facts(raw, today=d(today))


def plan_for(facts: Facts, today: str, profile: str = "default") -> Plan:
    return plan(facts, shipped_pack(), profile, d(today))


def by_kind(result: Plan) -> dict[str, PlannedItem]:
    """Items keyed by kind (and region), for tests that look one up."""
    return {i.kind.value + (f":{i.region}" if i.region else ""): i for i in result.items}


def disease_rule(result: Plan) -> str | None:
    """The rule of the group "disease" that produced the imaging (or the verdict)."""
    if result.no_follow_up is not None:
        return result.no_follow_up.rule
    rules = {i.rule for i in result.items}
    pack = shipped_pack()
    disease = [r.id for r in pack.profile(result.profile).rules if r.group == "disease"]
    found = [r for r in disease if r in rules]
    return found[0] if found else None
