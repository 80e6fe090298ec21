"""The worklist for shells that do not hold a session: the terminal's table, and the export.

An export (the web page's CSV, ``surveil worklist --json``) takes patients' names, MRNs and
follow-up out of surveil, so it is an audited read: the rows and the audit event come from one
transaction, and the rows reach the caller only once the event is committed. Showing the list
(the web page, the terminal's table) is not audited, as the page never was: it is where a
navigator's day is spent, and each patient opened from it is.
"""

import sqlalchemy as sa

from surveil.config import Settings
from surveil.db.session import read_scope, session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.worklist.sections import Worklist, WorklistQuery, build_worklist


def show_worklist(
    engine: sa.Engine, *, actor: Actor, query: WorklistQuery, settings: Settings
) -> Worklist:
    """The worklist ``actor`` may see, from a read-only snapshot (it never waits for a writer)."""
    with read_scope(engine) as session:
        return build_worklist(session, query=query, actor=actor, settings=settings)


@audited_read("worklist.exported")
def export_worklist(
    engine: sa.Engine, *, actor: Actor, query: WorklistQuery, settings: Settings
) -> Worklist:
    """Exactly the rows the worklist shows for ``query``, with the export audited."""
    with session_scope(engine) as session:
        worklist = build_worklist(session, query=query, actor=actor, settings=settings)
        rows = sum(len(section.rows) for section in worklist.sections)
        clinic = worklist.query.clinic  # as checked: a non-admin's own clinic
        audit(
            session,
            actor=actor,
            action="worklist.exported",
            subject=f"clinic:{clinic}" if clinic else "clinic:all",
            detail=f"{rows} rows",
        )
        return worklist
