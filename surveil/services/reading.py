"""Read-only snapshots for the pages of the web app.

A page may read through services that take a session (a list, a form's choices) on one
snapshot for the whole request. The snapshot is ``db.session.read_scope``: on SQLite it never
waits for the write lock, and it always ends in a rollback, so nothing written through it is
kept. Changes never go through it: they are service entry points with transactions of their
own. Shells reach it here, not in ``db.session``.
"""

from collections.abc import Iterator

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db.session import read_scope

ReadSession = Session  # what a page's read-only snapshot is, for type hints in the shells


def snapshot(engine: sa.Engine) -> Iterator[ReadSession]:
    """One read-only snapshot, as a generator (a FastAPI dependency with ``yield``)."""
    with read_scope(engine) as session:
        yield session
