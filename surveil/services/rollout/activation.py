"""``surveil schedules activate`` and ``rollback``: change which protocol pack version and profile a
clinic plans with, on a clinician's named approval, from a date; audited; then replan.

The activation row and its audit event are one transaction. When the change is in effect today,
every patient the actor may see is then replanned in chunks (``replan --all``, each chunk its own
transaction, each changed patient audited with the reason "protocol 2027.1 activated"). A change
dated later is recorded now, pending, and applies from that date: every refresh of a patient from
then on plans under it, and the daemon's leader replans the clinic on that day, once
(``rollout.scheduled``).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.protocol_models import ACTIVATE, ROLLBACK, ProtocolActivation
from surveil.db.session import read_scope, session_scope
from surveil.errors import ConfigError, InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.planning import care
from surveil.services.planning.plans import ReplanResult
from surveil.services.planning.replan import replan_every_patient
from surveil.services.protocols import active_profile, protocol_in_force, version_profile

_REPLAN = ("plan.replanned_all", "plan.replanned", *care.CONSEQUENCES)


@dataclass(frozen=True)
class Activation:
    action: str
    pack_id: str
    version: str
    profile: str
    effective_on: dt.date
    approved_by: str
    previous_version: str
    previous_profile: str
    replanned: ReplanResult | None  # None: takes effect later, nothing replanned yet


@change("protocol.activated", *_REPLAN)
def activate_protocol(
    engine: sa.Engine,
    *,
    actor: Actor,
    settings: Settings,
    version: str,
    approved_by: str,
    effective_on: dt.date,
    today: dt.date,
    profile: str | None = None,
    chunk: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> Activation:
    """Put ``version`` (and ``profile``) in force for the clinic from ``effective_on``."""
    problems = _actor_problems(actor)
    if effective_on < today:
        problems.append(
            Problem("--on", f"{effective_on} is in the past: a change starts today or later")
        )
    try:
        pack, chosen = version_profile(settings, version, profile)
    except ConfigError as error:
        problems += error.problems
        pack = None
    with session_scope(engine) as session:
        approver = _approver(session, approved_by, settings, problems)
        in_force = protocol_in_force(session, settings, effective_on)
        if pack is not None and (in_force[0].version, in_force[1].name) == (version, chosen.name):
            problems.append(
                Problem("version", f"{version} {chosen.name} is already in force on {effective_on}")
            )
        if problems or pack is None or approver is None:
            raise InvalidInput(problems)
        row = _record(
            session,
            actor=actor,
            settings=settings,
            action=ACTIVATE,
            to=(version, chosen.name),
            before=(in_force[0].version, in_force[1].name),
            approver=approver,
            effective_on=effective_on,
            today=today,
        )
    why = f"protocol {version} activated"
    return _then_replan(engine, actor, settings, row, today, chunk, progress, why)


@change("protocol.rolled_back", *_REPLAN)
def rollback_protocol(
    engine: sa.Engine,
    *,
    actor: Actor,
    settings: Settings,
    approved_by: str,
    today: dt.date,
    effective_on: dt.date | None = None,
    chunk: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> Activation:
    """Restore the version and profile in force before the latest activation (or rollback)."""
    problems = _actor_problems(actor)
    with session_scope(engine) as session:
        approver = _approver(session, approved_by, settings, problems)
        latest = _latest(session, settings)
        if latest is None:
            baseline = active_profile(settings)
            problems.append(
                Problem(
                    "rollback",
                    f"nothing to roll back: the baseline {baseline[0].version} "
                    f"{baseline[1].name} has always been in force",
                )
            )
        day = effective_on or max(today, latest.effective_on if latest else today)
        if latest is not None and day < max(today, latest.effective_on):
            problems.append(
                Problem("--on", f"{day} is before {max(today, latest.effective_on)}: too early")
            )
        if problems or latest is None or approver is None:
            raise InvalidInput(problems)
        restore = (latest.previous_version or "", latest.previous_profile or "")
        version_profile(settings, *restore)  # the version restored must still be shipped
        why = f"protocol {restore[0]} restored (rollback of {latest.version})"
        row = _record(
            session,
            actor=actor,
            settings=settings,
            action=ROLLBACK,
            to=restore,
            before=(latest.version, latest.profile),
            approver=approver,
            effective_on=day,
            today=today,
        )
    return _then_replan(engine, actor, settings, row, today, chunk, progress, why)


def _actor_problems(actor: Actor) -> list[Problem]:
    if actor.role in (m.Role.ADMIN, m.Role.CLINICIAN):
        return []
    return [
        Problem(
            "--as",
            f"{actor.username} is a {actor.role}: "
            "a clinician or administrator records a protocol change",
        )
    ]


def _approver(
    session: Session, username: str, settings: Settings, problems: list[Problem]
) -> m.User | None:
    user = session.exec(select(m.User).where(m.User.username == username)).first()
    if user is None or not user.active:
        problems.append(Problem("--approved-by", f"{username!r} is not an active user"))
        return None
    if user.role != m.Role.CLINICIAN:
        problems.append(
            Problem("--approved-by", f"{username} is a {user.role}: a clinician must approve")
        )
        return None
    if user.clinic != settings.clinic.name:
        problems.append(
            Problem(
                "--approved-by",
                f"{username} works for {user.clinic}, not {settings.clinic.name}",
            )
        )
        return None
    return user


def _latest(session: Session, settings: Settings) -> ProtocolActivation | None:
    query = (
        select(ProtocolActivation)
        .where(
            ProtocolActivation.clinic == settings.clinic.name,
            ProtocolActivation.pack_id == settings.clinic.pack,
        )
        .order_by(col(ProtocolActivation.effective_on).desc(), col(ProtocolActivation.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def _record(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    action: str,
    to: tuple[str, str],
    before: tuple[str, str],
    approver: m.User,
    effective_on: dt.date,
    today: dt.date,
) -> Activation:
    # In force today: the command replans at once, so it is applied now; else pending for the
    # daemon (``rollout.scheduled``) to apply on the day.
    applied = effective_on <= today
    row = ProtocolActivation(
        clinic=settings.clinic.name,
        pack_id=settings.clinic.pack,
        version=to[0],
        profile=to[1],
        effective_on=effective_on,
        action=action,
        approved_by_id=approver.id or 0,
        recorded_by=actor.username,
        previous_version=before[0],
        previous_profile=before[1],
        applied_at=utcnow() if applied else None,
        applied_by=actor.username if applied else None,
    )
    session.add(row)
    session.flush()
    verb = "activated" if action == ACTIVATE else "rolled_back"
    audit(
        session,
        actor=actor,
        action=f"protocol.{verb}",
        subject=f"protocol_activation:{row.id}",
        before={"version": before[0], "profile": before[1]},
        after={"version": to[0], "profile": to[1], "effective_on": effective_on.isoformat()},
        detail=f"{settings.clinic.pack} {before[0]} {before[1]} -> {to[0]} {to[1]} "
        f"from {effective_on}, approved by {approver.username}",
    )
    return Activation(
        action=action,
        pack_id=settings.clinic.pack,
        version=to[0],
        profile=to[1],
        effective_on=effective_on,
        approved_by=approver.username,
        previous_version=before[0],
        previous_profile=before[1],
        replanned=None,
    )


def _then_replan(
    engine: sa.Engine,
    actor: Actor,
    settings: Settings,
    done: Activation,
    today: dt.date,
    chunk: int,
    progress: Callable[[int, int], None] | None,
    why: str,
) -> Activation:
    if done.effective_on > today:
        return done
    result = replan_every_patient(
        engine,
        actor=actor,
        settings=settings,
        today=today,
        chunk=chunk,
        progress=progress,
        why=why,
    )
    return Activation(**{**done.__dict__, "replanned": result})


def activation_log(engine: sa.Engine, *, settings: Settings) -> list[dict[str, object]]:
    """The clinic's activations and rollbacks, oldest first (no patient data: not audited)."""
    with read_scope(engine) as session:
        rows = session.exec(
            select(ProtocolActivation, m.User.username)
            .join(m.User, col(m.User.id) == ProtocolActivation.approved_by_id)
            .where(
                ProtocolActivation.clinic == settings.clinic.name,
                ProtocolActivation.pack_id == settings.clinic.pack,
            )
            .order_by(col(ProtocolActivation.id))
        ).all()
        return [
            {
                "action": row.action,
                "version": row.version,
                "profile": row.profile,
                "effective_on": row.effective_on.isoformat(),
                "approved_by": approver,
                "recorded_by": row.recorded_by,
                "previous": f"{row.previous_version} {row.previous_profile}",
                "status": _status(row),
            }
            for row, approver in rows
        ]


def _status(row: ProtocolActivation) -> str:
    """pending (the daemon applies it on its date), or when and by whom it was applied."""
    if row.applied_at is None:
        return "pending"
    at = row.applied_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"applied {at} by {row.applied_by}"
