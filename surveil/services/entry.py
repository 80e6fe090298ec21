"""The register of service entry points: the one way in for every change and every audited read.

A shell (web form, CLI command, API route, import, HL7 message, daemon job) changes the registry
only by calling a function marked here. Such a function opens its own transaction, validates,
writes, and records its audit event(s) in that same transaction; the shell only parses and shows.
The marks are data for ``tests/services/test_one_way_in.py``, which proves each entry point
leaves exactly its audit rows and that a refused change leaves neither data nor audit.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class EntryPoint:
    name: str  # module.function
    actions: tuple[str, ...]  # the audit actions it records
    writes: bool  # False for audited reads (a patient's record opened, an export)


ENTRY_POINTS: dict[str, EntryPoint] = {}


def _mark(actions: tuple[str, ...], *, writes: bool) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def register(function: Callable[P, R]) -> Callable[P, R]:
        name = f"{function.__module__}.{function.__qualname__}"
        ENTRY_POINTS[name] = EntryPoint(name=name, actions=actions, writes=writes)
        return function

    return register


def change(*actions: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a function as the entry point of a change that records these audit actions."""
    return _mark(actions, writes=True)


def audited_read(*actions: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a function as an audited read of patient data (HIPAA 164.312(b))."""
    return _mark(actions, writes=False)
