"""Managing a patient's calendar feeds: the entry points that issue, rotate, revoke, list and
retire them.

Each opens its own transaction, checks that the actor may see the patient (clinic isolation),
changes the feed and records the audit event in that same transaction; ``tokens`` holds the
building blocks. Results are plain data: a shell shows them after the transaction has closed,
and a new feed's URLs (the only copy of its token) travel nowhere else.
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read, change
from surveil.services.feeds import tokens
from surveil.services.feeds.tokens import FeedSummary, FeedUrls
from surveil.services.leases import Fence, still_leading
from surveil.services.registry.patients import get_patient
from surveil.services.users.accounts import AccessDenied, visible_patient


@dataclass(frozen=True)
class FeedPatient:
    """Whose feed it is, as pages and commands name them."""

    id: int
    mrn: str
    family_name: str
    given_name: str

    @classmethod
    def of(cls, patient: m.Patient) -> "FeedPatient":
        assert patient.id is not None
        return cls(patient.id, patient.mrn, patient.family_name, patient.given_name)


@dataclass(frozen=True)
class FeedIssued:
    """A new feed, its URLs (shown once: they carry the token) and its patient."""

    feed: FeedSummary
    urls: FeedUrls
    patient: FeedPatient


@dataclass(frozen=True)
class FeedRevoked:
    feed: FeedSummary
    patient: FeedPatient


def find_patient(engine: sa.Engine, *, actor: Actor, mrn: str, clinic: str) -> int:
    """The id of the patient with ``mrn`` in ``clinic``, if ``actor`` may see them (the CLI
    names patients by MRN; the entry points below take the id)."""
    with read_scope(engine) as session:
        patient = get_patient(session, mrn=mrn, clinic=clinic)
        assert patient.id is not None
        return visible_patient(session, actor=actor, patient_id=patient.id).id or 0


@change("feed.issued")
def issue_patient_feed(
    engine: sa.Engine, *, actor: Actor, patient_id: int, label: str, base_url: str
) -> FeedIssued:
    """Issue a new feed for the patient; its URLs are returned here and never again."""
    with session_scope(engine) as session:
        patient = visible_patient(session, actor=actor, patient_id=patient_id)
        issued = tokens.issue_feed(
            session, patient_id=patient_id, label=label, actor=actor, base_url=base_url
        )
        return FeedIssued(issued.feed, issued.urls, FeedPatient.of(patient))


@change("feed.rotated", "feed.issued")
def rotate_patient_feed(
    engine: sa.Engine,
    *,
    actor: Actor,
    public_id: str,
    base_url: str,
    now: dt.datetime,
    patient_id: int | None = None,
) -> FeedIssued:
    """Replace a feed's URL: a new feed with the same label, the old one revoked at once.
    With ``patient_id`` (a form on that patient's page), only that patient's feed."""
    with session_scope(engine) as session:
        patient = _feed_patient(session, actor, public_id, patient_id)
        issued = tokens.rotate_feed(
            session,
            public_id=public_id,
            patient_id=patient.id,
            actor=actor,
            base_url=base_url,
            now=now,
        )
        return FeedIssued(issued.feed, issued.urls, FeedPatient.of(patient))


@change("feed.revoked")
def revoke_patient_feed(
    engine: sa.Engine,
    *,
    actor: Actor,
    public_id: str,
    now: dt.datetime,
    patient_id: int | None = None,
) -> FeedRevoked:
    """Revoke a feed: its URL answers 404 from the next request. Revoking it again changes
    nothing and records nothing (the first revocation stands)."""
    with session_scope(engine) as session:
        patient = _feed_patient(session, actor, public_id, patient_id)
        feed = tokens.revoke_feed(
            session, public_id=public_id, patient_id=patient.id, actor=actor, now=now
        )
        return FeedRevoked(feed, FeedPatient.of(patient))


@audited_read("feed.listed")
def list_patient_feeds(
    engine: sa.Engine, *, actor: Actor, patient_id: int
) -> tuple[FeedPatient, list[FeedSummary]]:
    """A patient's feeds (never a token), active first; the look is audited."""
    with session_scope(engine) as session:
        patient = visible_patient(session, actor=actor, patient_id=patient_id)
        feeds = tokens.list_feeds(session, patient_id=patient_id)
        audit(
            session,
            actor=actor,
            action="feed.listed",
            patient_id=patient_id,
            subject=f"patient:{patient_id}",
            detail=f"{len(feeds)} calendar feed(s)",
        )
        return FeedPatient.of(patient), feeds


@change("feed.retired")
def retire_unneeded_feeds(
    engine: sa.Engine, *, actor: Actor, fence: Fence, settings: Settings, now: dt.datetime
) -> int:
    """The daemon leader's job: revoke the feeds of patients no longer followed up, once they
    show nothing (``tokens.retire_feeds``); how many. A daemon that no longer holds the lease
    under ``fence`` changes nothing."""
    with session_scope(engine) as session:
        if not still_leading(session, fence, now):
            return 0
        return tokens.retire_due_feeds(session, settings, now, actor=actor)


def _feed_patient(
    session: Session, actor: Actor, public_id: str, patient_id: int | None
) -> m.Patient:
    """The patient whose feed ``public_id`` is, if ``actor`` may see them. Another clinic's
    feed is answered like one that does not exist (and the refusal is audited by the shell)."""
    feed = tokens.get_feed(session, public_id=public_id, patient_id=patient_id)
    try:
        return visible_patient(session, actor=actor, patient_id=feed.patient_id)
    except AccessDenied:
        raise AccessDenied(f"no calendar feed {public_id!r}", feed.patient_id) from None
