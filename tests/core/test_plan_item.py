"""The planner fills each PlannedItem's fields in one step rather than through the frozen
dataclass's ``__init__`` (core/plan._finish, issue 19): the item must be the one the constructor
would build, with every field and nothing else, and stay immutable."""

import dataclasses

import pytest

from surveil.core.plan import PlannedItem
from tests.core.planning import d, make_facts, plan_for

TODAY = "2026-01-15"


def _planned() -> tuple[PlannedItem, ...]:
    facts = make_facts(
        TODAY,
        completed=[{"kind": "mri", "date": "2025-03-02"}, {"kind": "cga", "date": "2024-12-01"}],
    )
    return plan_for(facts, TODAY).items


def test_planned_items_equal_the_constructors() -> None:
    items = _planned()
    assert items  # a small pNET on surveillance: an MRI and its CgA
    names = [f.name for f in dataclasses.fields(PlannedItem)]
    assert not hasattr(PlannedItem, "__post_init__")  # nothing __init__ would check is skipped
    for item in items:
        assert sorted(vars(item)) == sorted(names)
        built = PlannedItem(**{name: getattr(item, name) for name in names})
        assert built == item and hash(built) == hash(item) and repr(built) == repr(item)
        assert dataclasses.replace(item) == item


def test_planned_items_stay_frozen() -> None:
    item = _planned()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.target = d("2030-01-01")  # type: ignore[misc]
