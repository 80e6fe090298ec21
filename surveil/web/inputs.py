"""Input edges checked once for every route, before the route sees anything.

- A control character (a NUL, an escape sequence) in any path segment, query value or form
  value is refused with a field error (InvalidInput, shown as a 422 page naming the field).
  PostgreSQL refuses a NUL in text with an error half-way through a transaction; a routed
  check would have to be remembered in every form, this one cannot be forgotten.
- An id beyond the id columns' range is a page that cannot exist: 404, as for any other unknown
  id. The databases cannot even compare it: the columns are INTEGER, 32 bits on PostgreSQL
  (which refuses a larger parameter), and SQLite overflows past 64 bits.

Service functions still check what they are given (``services.validate.Checker``); this guard
is for the web's own edges, which a service never sees (path segments, search terms, filters).
"""

from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from surveil.core.digits import is_digits
from surveil.errors import InvalidInput, NotFound, Problem
from surveil.services.validate import control_character_problem

LARGEST_ID = 2**31 - 1  # INTEGER on PostgreSQL; no table comes near it on SQLite either


async def refuse_bad_input(request: Request) -> None:
    """App-wide dependency (``create_app``)."""
    for value in request.path_params.values():
        # A path written "{id:int}" arrives converted already; the others as their text.
        digits = str(value) if isinstance(value, int) else value
        if isinstance(digits, str) and is_digits(digits) and int(digits) > LARGEST_ID:
            raise NotFound("no such page")
    problems = _control_characters(request.path_params.items())
    problems += _control_characters(request.query_params.multi_items())
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        form = await request.form()  # parsed once: Starlette keeps it for the route
        problems += _control_characters(form.multi_items())
    if problems:
        raise InvalidInput(problems, what="form")


def _control_characters(items: Iterable[tuple[str, Any]]) -> list[Problem]:
    problems = []
    seen = set()
    for name, value in items:
        if isinstance(value, UploadFile) or not isinstance(value, str) or name in seen:
            continue
        problem = control_character_problem(_printable(name), value)
        if problem is not None:
            seen.add(name)
            problems.append(problem)
    return problems


def _printable(name: str) -> str:
    """A field name as shown back: a name is chosen by the sender and could hold controls too."""
    return "".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in name)[:64]
