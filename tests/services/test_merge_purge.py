"""Issue 14.7, reversible until purged: an administrator makes a merge final (audited), after
which unmerge is refused and nothing is written; before that, unmerge restores the calendar
feeds the merge revoked, but not one revoked for another reason. SQLite and PostgreSQL."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import Conflict, NotFound, PermissionDenied
from surveil.services.records import merge as merging
from tests.services.test_merge import ADMIN, CLINIC, NOW, NURSE, _duplicate

COVERED: frozenset[str] = frozenset({"surveil.services.records.merge.purge_merge"})
TODAY = dt.date(2026, 11, 23)


def _merge(engine: sa.Engine, settings: Settings) -> None:
    merging.merge_patients(
        engine, actor=ADMIN, keep_mrn="P1", gone_mrn="P1-DUP", clinic=CLINIC, reason="dup",
        settings=settings, today=TODAY, now=NOW,
    )  # fmt: skip


def _unmerge(engine: sa.Engine, settings: Settings) -> None:
    merging.unmerge_patient(
        engine, actor=ADMIN, gone_mrn="P1-DUP", clinic=CLINIC, reason="two people",
        settings=settings, today=TODAY, now=NOW + dt.timedelta(hours=1),
    )  # fmt: skip


def _purge(engine: sa.Engine, actor: object = ADMIN) -> str:
    return merging.purge_merge(
        engine, actor=actor, gone_mrn="P1-DUP", clinic=CLINIC, reason="checked",  # type: ignore[arg-type]
        now=NOW + dt.timedelta(minutes=5),
    ).message  # fmt: skip


def _rows(engine: sa.Engine) -> tuple[object, ...]:
    with Session(engine) as s:
        return (
            [(r.id, r.patient_id, r.state) for r in s.exec(select(m.FollowUpItem))],
            [(r.id, r.purged_by) for r in s.exec(select(m.PatientMerge))],
            s.exec(select(sa.func.count()).select_from(m.AuditEvent)).one(),
        )


def _feeds(engine: sa.Engine, patient_id: int | None) -> dict[str, bool]:
    with Session(engine) as s:
        rows = s.exec(select(m.FeedToken).where(m.FeedToken.patient_id == patient_id)).all()
        return {r.public_id: r.revoked_at is None for r in rows}


def test_a_final_merge_cannot_be_undone(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    _duplicate(session, settings, small_pnet)
    with pytest.raises(NotFound):
        _purge(engine)  # nothing merged yet
    _merge(engine, settings)
    before = _rows(engine)
    with pytest.raises(PermissionDenied):
        _purge(engine, NURSE)
    assert _rows(engine) == before

    assert "can no longer be unmerged" in _purge(engine)
    with Session(engine) as s:
        merge = s.exec(select(m.PatientMerge)).one()
        assert merge.purged_by == "root" and merge.purged_at is not None
        event = s.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "patient.merge_purged")
        ).one()
    assert (event.actor, event.patient_id) == ("root", small_pnet.id)
    assert "made final (checked)" in event.detail

    final = _rows(engine)
    with pytest.raises(Conflict, match="cannot be undone"):
        _unmerge(engine, settings)
    with pytest.raises(Conflict, match="already final"):
        _purge(engine)
    assert _rows(engine) == final


def test_unmerge_restores_the_feeds_the_merge_revoked_and_no_other(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    gone = _duplicate(session, settings, small_pnet)  # has the active feed "feed-dup"
    session.add(
        m.FeedToken(
            patient_id=gone.id or 0, token_hash="r" * 64, public_id="feed-old",
            revoked_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        )
    )  # fmt: skip
    session.commit()
    _merge(engine, settings)
    assert _feeds(engine, gone.id) == {"feed-dup": False, "feed-old": False}
    _unmerge(engine, settings)
    assert _feeds(engine, gone.id) == {"feed-dup": True, "feed-old": False}
    with Session(engine) as s:
        event = s.exec(select(m.AuditEvent).where(m.AuditEvent.action == "patient.unmerged")).one()
        feed_id = s.exec(select(m.FeedToken.id).where(m.FeedToken.public_id == "feed-dup")).one()
    assert "1 calendar feed(s) restored" in event.detail
    assert str(feed_id) in (event.after or "")


def test_unmerge_leaves_the_feeds_revoked_when_gone_has_died_since(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    gone = _duplicate(session, settings, small_pnet)
    _merge(engine, settings)
    with Session(engine) as s:
        row = s.get_one(m.Patient, gone.id)
        row.deceased_on = dt.date(2026, 11, 22)
        s.add(row)
        s.commit()
    _unmerge(engine, settings)
    assert _feeds(engine, gone.id) == {"feed-dup": False}
    with Session(engine) as s:
        still_open = s.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == gone.id,
                col(m.FollowUpItem.state).in_([x.value for x in m.OPEN_ITEM_STATES]),
            )
        ).all()
    assert still_open == []  # and nothing reopened for a patient who has died
