"""Backups and restores of the whole registry, recorded in the audit trail.

A backup is a copy of every patient's record leaving the database, so it is audited like an
export (HIPAA 164.312(b)); a restore replaces what a database holds, so it is audited in the
restored database, once its schema is known to be the one this code writes.
"""

from dataclasses import dataclass, replace
from pathlib import Path

import sqlalchemy as sa

from surveil.core.vocab import Channel
from surveil.db import backup, migrate
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit


@dataclass(frozen=True)
class Restored:
    snapshot: backup.Snapshot
    schema_problem: str | None  # None: at head and matching the models (``surveil db check``)


def back_up_database(engine: sa.Engine, *, out: Path, actor: Actor) -> backup.Snapshot:
    """A consistent copy of the database in the new file ``out``, then its audit event."""
    snapshot = backup.back_up(engine, out)
    with session_scope(engine) as session:
        audit(
            session,
            actor=actor,
            action="database.backed_up",
            detail=f"{out.name}: {snapshot.size_bytes} bytes, schema {snapshot.revision}",
        )
    return snapshot


def restore_database(engine: sa.Engine, *, source: Path, actor: Actor) -> Restored:
    """Load ``source`` into the empty database at ``engine`` and check its schema. The restore
    is audited only when the schema is current: an older one must be upgraded first, and its
    audit table may not have the columns this code writes."""
    snapshot = backup.restore(engine, source)
    problem = migrate.schema_problem(engine)
    if problem is None:
        with session_scope(engine) as session:
            audit(
                session,
                actor=actor,
                action="database.restored",
                detail=f"from {source.name}: schema {snapshot.revision}, "
                f"{snapshot.patients} patients",
            )
    return Restored(snapshot=snapshot, schema_problem=problem)


def operator(os_user: str) -> Actor:
    """The actor of a backup or restore: surveil itself, run from the command line by this
    operating-system account (an operator's task, like ``surveil init``: no surveil user)."""
    return replace(Actor.system(Channel.CLI), os_user=os_user)
