"""The latest outreach to each patient on a worklist page (the log itself is written by
``services.records.outreach``)."""

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from surveil.db import models as m
from surveil.services.outreach_words import RESULT_WORDS


def latest_contacts(connection: sa.Connection, patient_ids: list[int]) -> dict[int, str]:
    """The latest contact with each patient, in words with its date in the patient's zone, for
    the worklist rows on one page (one query for the page)."""
    if not patient_ids:
        return {}
    o = m.OutreachContact.__table__  # type: ignore[attr-defined]
    p = m.Patient.__table__  # type: ignore[attr-defined]
    newest = (
        sa.select(o.c.patient_id, sa.func.max(o.c.id).label("id"))
        .where(o.c.patient_id.in_(sorted(set(patient_ids))))
        .group_by(o.c.patient_id)
        .subquery()
    )
    rows = connection.execute(
        sa.select(o.c.patient_id, o.c.channel, o.c.result, o.c.at, p.c.timezone)
        .join(newest, newest.c.id == o.c.id)
        .join(p, p.c.id == o.c.patient_id)
    ).all()
    return {r.patient_id: _latest_words(r.channel, r.result, r.at, r.timezone) for r in rows}


def _latest_words(channel: str, result: str, at: dt.datetime, timezone: str) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    day = aware.astimezone(ZoneInfo(timezone)).date()
    return f"last contact {day}: {channel}, {RESULT_WORDS.get(result, result)}"
