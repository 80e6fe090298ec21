"""Helpers for the 2027.1 pack tests: the shipped 2027.1 pack and a plan of facts under it."""

import datetime as dt
from functools import cache
from typing import Any

from surveil.core.facts import Facts
from surveil.core.plan import Plan, plan
from surveil.core.protocol import Pack
from surveil.schedules import load_pack_versions
from tests.core.planning import make_facts

__all__ = ["make_facts", "pack_2027", "plan_2027", "rules_of"]


@cache
def pack_2027() -> Pack:
    return load_pack_versions()["net-default"]["2027.1"]


def plan_2027(facts: Facts, today: str, profile: str = "default") -> Plan:
    return plan(facts, pack_2027(), profile, dt.date.fromisoformat(today))


def rules_of(result: Plan) -> dict[str, Any]:
    """kind[:region] -> (rule, target ISO date, status) for compact table expectations."""
    return {
        i.kind.value + (f":{i.region}" if i.region else ""): (i.rule, i.target.isoformat())
        for i in result.items
    }
