"""Cursor pagination: the cursor is opaque to clients (a position, base64url-encoded), so the
way pages are cut can change without breaking them."""

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from surveil.core.digits import is_digits
from surveil.errors import InvalidInput, Problem

MAX_POSITION = 1_000_000
T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
CursorQuery = Annotated[
    str | None, Query(max_length=64, description="The next_cursor of the previous page.")
]


def encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int:
    """The position a cursor points at (0 for none); a cursor we did not make is a field error."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text[1:]
    if not (text.startswith("p") and is_digits(digits)):
        raise InvalidInput(Problem("cursor", "is not a cursor this API gave"), what="request")
    position = int(digits[:8])
    if position > MAX_POSITION:
        raise InvalidInput(Problem("cursor", "is not a cursor this API gave"), what="request")
    return position


def next_cursor(position: int, shown: int, *, more: bool) -> str | None:
    return encode(position + shown) if more else None


def page_of(items: Sequence[T], position: int, limit: int) -> tuple[Sequence[T], str | None]:
    """The page of a whole list read at once that starts at ``position``, and the next cursor."""
    more = len(items) > position + limit
    return items[position : position + limit], next_cursor(position, limit, more=more)
