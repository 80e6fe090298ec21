"""`surveil schedules check` refuses an unknown key anywhere in a pack (issue 15, point 3).

Every table of every shipped pack gets one stray key in turn; each must be reported at its place.
"""

import copy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from surveil.core.protocol_pack import parse_pack
from surveil.errors import RuleError
from surveil.schedules import pack_files


def _tables(raw: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(raw, dict):
        yield path
        for key, value in raw.items():
            yield from _tables(value, (*path, key))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            yield from _tables(value, (*path, i))


def _cases() -> list[tuple[Path, tuple[Any, ...]]]:
    out = []
    for file in pack_files():
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
        out += [(file, path) for path in _tables(raw)]
    return out


CASES = _cases()


def _place(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@pytest.mark.parametrize(
    ("file", "path"), CASES, ids=lambda c: _place(c) if isinstance(c, tuple) else c.name
)
def test_a_stray_key_in_any_table_is_refused(file: Path, path: tuple[Any, ...]) -> None:
    raw = tomllib.loads(file.read_text(encoding="utf-8"))
    table = raw
    for part in path:
        table = table[part]
    table["colour"] = "blue"
    with pytest.raises(RuleError) as caught:
        parse_pack(copy.deepcopy(raw), where=file.name)
    where = _place((*path, "colour"))
    assert any(where in str(p) for p in caught.value.problems), (where, caught.value.problems)


def test_there_are_many_tables_to_try() -> None:
    assert len(CASES) > 100


def test_a_misspelt_trigger_kind_is_refused() -> None:
    raw = tomllib.loads(pack_files()[0].read_text(encoding="utf-8"))
    on_trigger = raw["profiles"]["default"]["on_trigger"]
    on_trigger["sizee"] = on_trigger.pop("size")
    with pytest.raises(RuleError) as caught:
        parse_pack(raw, where="typo.toml")
    assert [str(p) for p in caught.value.problems] == [
        "typo.toml: profiles.default.on_trigger.sizee: unknown trigger kind (expected one of: "
        "grade_change, growth_rate, marker_rise, recist, size, ssa_overdue, symptoms)"
    ]


@pytest.mark.parametrize(
    ("at", "schedule", "message"),
    [
        ([3, 1], "after_course", "must be increasing whole numbers"),
        ([], "after_course", "must be a non-empty list"),
        ([1, 3], "repeat", "only an after_course item has fixed times"),
    ],
)
def test_fixed_times_after_a_course_are_checked(at: list[int], schedule: str, message: str) -> None:
    path = next(p for p in pack_files() if p.name == "net-default-2027.1.toml")
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = raw["profiles"]["default"]["rules"]
    prrt = next(r for r in rules if r["id"] == "prrt-course")
    item = next(i for i in prrt["items"] if i.get("at"))
    item.update(at=at, schedule=schedule)
    with pytest.raises(RuleError) as caught:
        parse_pack(raw, where="at.toml")
    assert any(message in str(p) for p in caught.value.problems), caught.value.problems
