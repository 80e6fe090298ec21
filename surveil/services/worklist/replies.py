"""The worklist's ``replies`` section (issue 18 point 3): patients' answers to reminders that need
a person. "Can't make it / please call me", texts surveil could not read (with their words), and
STOPs (the patient will get nothing more on that channel, so the navigator should know). Each
stays until a navigator marks it handled with a note (``services.reminders.replies``).
"""

from typing import Any

import sqlalchemy as sa

from surveil.core.zones import wall_clock
from surveil.db import models as m
from surveil.db.base import as_utc
from surveil.services.labels import kind_label
from surveil.services.worklist.booked import BookedSection
from surveil.services.worklist.rows import WorkRow, patient_name

KEY = "replies"
REPLY = m.InboundReply.__table__.alias("q")  # type: ignore[attr-defined]
WORDS = {
    "call_me": "asks to be called: can't make it",
    "unrecognised": "replied; not understood",
    "stop": "stopped reminders",
}


def replies_spec(patient: Any, item: Any, patients: list[Any], kind: str | None) -> BookedSection:
    """Open replies of the patients the page shows (``patients``: its filter on ``patient``)."""
    q, p, i = REPLY.c, patient.c, item.c
    stmt = (
        sa.select(
            p.id.label("patient_id"), p.mrn, p.family_name, p.given_name, p.timezone,
            q.id.label("reply_id"), q.kind.label("reply_kind"), q.channel, q.text,
            q.received_at, q.item_id, i.kind,
        )
        .select_from(REPLY)
        .join(patient, p.id == q.patient_id)
        .outerjoin(item, i.id == q.item_id)
        .where(q.needs_action.is_(True), q.handled_at.is_(None), *patients)
    )  # fmt: skip
    if kind:
        stmt = stmt.where(i.kind == kind)
    return BookedSection(
        KEY,
        "Replies from patients",
        "Patients answered a reminder: call them back, or note what was done.",
        stmt,
        (q.received_at, q.id),
        _row,
    )


def _row(r: Any) -> WorkRow:
    about = kind_label(r.kind) if r.kind else "no item"
    said = f': "{r.text}"' if r.text else ""
    received = as_utc(r.received_at)
    return WorkRow(
        section=KEY,
        patient_id=r.patient_id,
        mrn=r.mrn,
        patient=patient_name(r),
        what=f"{WORDS.get(r.reply_kind, r.reply_kind)} ({about})",
        state="",
        urgent=False,
        timing=f"by {r.channel} {wall_clock(received, r.timezone)}",
        detail=f"{r.reply_kind} by {r.channel}{said}",
        item_id=r.item_id,
        reply_id=r.reply_id,
    )
