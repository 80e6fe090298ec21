"""Issue 14.7: merging two records of one patient moves the history to KEEP, leaves no duplicate
open item, stops everything on GONE, is audited, and is undone exactly by unmerge. Only an
administrator may do either; a refusal writes nothing. SQLite and PostgreSQL."""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.planning.care import refresh_patient
from surveil.services.records import merge as merging
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from tests.services.conftest import TODAY

COVERED: frozenset[str] = frozenset(
    {
        "surveil.services.records.merge.merge_patients",
        "surveil.services.records.merge.unmerge_patient",
    }
)
CLINIC = "Neuroendocrine Tumour Clinic"
ADMIN = Actor("root", "admin", CLINIC, channel=Channel.CLI, os_user="ops")
NURSE = Actor("nina", "navigator", CLINIC, channel=Channel.CLI)
NOW = dt.datetime(2026, 11, 23, 11, tzinfo=dt.UTC)


def _duplicate(session: Session, settings: Settings, keep: m.Patient) -> m.Patient:
    """The same woman enrolled again at referral, with her own results and plan."""
    gone = registry.enrol_patient(
        session,
        clinic=CLINIC,
        data=PatientInput(mrn="P1-DUP", given_name="Ada", family_name="Lovelace",
                          birth_date="1962-03-14"),
        tumour=TumourInput(site="pancreas", ki67="2", size_mm="12", diagnosed_on="2025-03-02"),
        state_kind="active_surveillance", since="2025-03-02", resection=None, today=TODAY,
    )  # fmt: skip
    for patient, lesion, mm in ((keep, "L1", "12"), (gone, "L1", "13"), (gone, "L2", "7")):
        registry.add_measurement(
            session, patient=patient, lesion=lesion, date="2025-06-01", diameter_mm=mm,
            modality="mri", today=TODAY,
        )  # fmt: skip
    registry.add_marker(
        session, patient=gone, name="cga", value="40", uln="100", date="2025-07-01", today=TODAY
    )
    for patient in (keep, gone):
        refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI
        )
    session.add(m.FeedToken(patient_id=gone.id or 0, token_hash="h" * 64, public_id="feed-dup"))
    session.expire_on_commit = False
    session.commit()
    return gone


def _picture(engine: sa.Engine, patient_id: int | None) -> dict[str, Any]:
    with Session(engine) as s:
        lesions = s.exec(select(m.Lesion).where(m.Lesion.patient_id == patient_id)).all()
        return {
            "measurements": sorted(
                (lesion.label, r.diameter_mm)
                for lesion in lesions
                for r in s.exec(select(m.Measurement).where(m.Measurement.lesion_id == lesion.id))
            ),
            "markers": len(
                s.exec(select(m.MarkerResult).where(m.MarkerResult.patient_id == patient_id)).all()
            ),
            "open": sorted(
                (i.kind, i.region or "")
                for i in s.exec(
                    select(m.FollowUpItem).where(
                        m.FollowUpItem.patient_id == patient_id,
                        col(m.FollowUpItem.state).in_([x.value for x in m.OPEN_ITEM_STATES]),
                    )
                )
            ),
            "state": s.exec(
                select(m.DiseaseState.kind).where(
                    m.DiseaseState.patient_id == patient_id, col(m.DiseaseState.end_date).is_(None)
                )
            ).one(),
        }


def _call(function: Any, actor: Actor, settings: Settings, **kwargs: Any) -> Any:
    return function(
        **kwargs, actor=actor, clinic=CLINIC, reason="duplicate made at referral",
        settings=settings, today=TODAY, now=NOW,
    )  # fmt: skip


def _snapshot(engine: sa.Engine) -> tuple[object, ...]:
    with Session(engine) as s:
        return (
            [(r.id, r.patient_id) for r in s.exec(select(m.MarkerResult))],
            [(r.id, r.lesion_id) for r in s.exec(select(m.Measurement))],
            [(r.id, r.patient_id, r.state) for r in s.exec(select(m.FollowUpItem))],
            s.exec(select(sa.func.count()).select_from(m.AuditEvent)).one(),
            s.exec(select(sa.func.count()).select_from(m.PatientMerge)).one(),
        )


def test_a_merge_moves_the_history_and_an_unmerge_puts_it_back(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    gone = _duplicate(session, settings, small_pnet)
    keep_before, gone_before = _picture(engine, small_pnet.id), _picture(engine, gone.id)
    assert keep_before["open"] == gone_before["open"] != []  # the same plan twice

    for refused, error in (
        (lambda: _call(merging.merge_patients, NURSE, settings, keep_mrn="P1",
                       gone_mrn="P1-DUP", engine=engine), PermissionDenied),
        (lambda: _call(merging.merge_patients, ADMIN, settings, keep_mrn="P1",
                       gone_mrn="P1", engine=engine), InvalidInput),
        (lambda: _call(merging.unmerge_patient, ADMIN, settings, gone_mrn="P1-DUP",
                       engine=engine), NotFound),
    ):  # fmt: skip
        before = _snapshot(engine)
        with pytest.raises(error):
            refused()
        assert _snapshot(engine) == before

    result = _call(merging.merge_patients, ADMIN, settings, keep_mrn="P1", gone_mrn="P1-DUP",
                   engine=engine)  # fmt: skip
    assert "merged into MRN P1" in result.message
    keep_after, gone_after = _picture(engine, small_pnet.id), _picture(engine, gone.id)
    # L1 exists on both: GONE's 13 mm joins KEEP's L1; L2 moves whole; the marker moves.
    assert keep_after["measurements"] == [("L1", 12.0), ("L1", 13.0), ("L2", 7.0)]
    assert keep_after["markers"] == 1
    assert len(set(keep_after["open"])) == len(keep_after["open"])  # no duplicate open item
    assert gone_after == {"measurements": [], "markers": 0, "open": [],
                          "state": "discharged"}  # fmt: skip
    with Session(engine) as s:
        feed = s.exec(select(m.FeedToken).where(m.FeedToken.patient_id == gone.id)).one()
        assert feed.revoked_at is not None
        events = [
            (e.action, e.actor, e.patient_id)
            for e in s.exec(select(m.AuditEvent).order_by(col(m.AuditEvent.id)))
        ]
    assert ("patient.merged", "root", small_pnet.id) in events
    assert ("plan.stopped", "system", gone.id) in events
    with pytest.raises(Conflict, match="already merged"):
        _call(merging.merge_patients, ADMIN, settings, keep_mrn="P1", gone_mrn="P1-DUP",
              engine=engine)  # fmt: skip

    with pytest.raises(PermissionDenied):
        _call(merging.unmerge_patient, NURSE, settings, gone_mrn="P1-DUP", engine=engine)
    _call(merging.unmerge_patient, ADMIN, settings, gone_mrn="P1-DUP", engine=engine)
    keep_back, gone_back = _picture(engine, small_pnet.id), _picture(engine, gone.id)
    assert keep_back["measurements"] == keep_before["measurements"]
    assert gone_back["measurements"] == gone_before["measurements"]
    assert (keep_back["markers"], gone_back["markers"]) == (0, 1)
    assert gone_back["state"] == "active_surveillance" and gone_back["open"] != []
    with Session(engine) as s:
        merge = s.exec(select(m.PatientMerge)).one()
        assert merge.unmerged_by == "root" and merge.unmerged_at is not None
        last = s.exec(select(m.AuditEvent).where(m.AuditEvent.action == "patient.unmerged")).one()
        assert (last.actor, last.patient_id) == ("root", gone.id)
