"""The work on patients through the API: the stored plan, triggers, the worklist's sections,
the item actions (ordered, booked, done with a result, declined, not needed, snoozed) and the
review of triggers (acknowledge, resolve). Each route is one service entry point."""

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Path, Query

from surveil.services.planning.stored_plan import read_stored_plan
from surveil.services.records import actions, trigger_review
from surveil.services.records.actions import DoneInput
from surveil.services.triggers import review
from surveil.services.worklist.sections import WorklistQuery
from surveil.services.worklist.views import export_worklist
from surveil.web.api import paging
from surveil.web.api.deps import EngineDep, ReaderDep, SettingsDep, TodayDep, WriterDep
from surveil.web.api.patients import Mrn
from surveil.web.api.problems import READ_RESPONSES, WRITE_RESPONSES
from surveil.web.api.schemas import (
    Booking,
    Changed,
    Done,
    Note,
    Page,
    PlanItemOut,
    Reason,
    Resolution,
    SectionOut,
    Snooze,
    TriggerOut,
    WorkRowOut,
    text,
)
from surveil.web.deps import utc_now

router = APIRouter(tags=["work"])

LARGEST_ID = 2**31 - 1  # INTEGER on PostgreSQL
RowId = Annotated[int, Path(ge=1, le=LARGEST_ID)]
OpenOnly = Annotated[bool, Query(description="Only what is still open.")]


@router.get("/patients/{mrn}/plan", name="api.plan", responses=READ_RESPONSES)
def plan(
    mrn: Mrn,
    engine: EngineDep,
    holder: ReaderDep,
    open_only: OpenOnly = True,
    limit: paging.LimitQuery = 50,
    cursor: paging.CursorQuery = None,
) -> Page[PlanItemOut]:
    """The stored plan: each item with its due window, status and why (audited view)."""
    position = paging.decode(cursor)
    items = read_stored_plan(
        engine, actor=holder.actor, mrn=mrn, clinic=holder.actor.clinic, open_only=open_only
    )
    shown, after = paging.page_of(items, position, limit)
    return Page[PlanItemOut](
        items=[PlanItemOut(**dataclasses.asdict(item)) for item in shown], next_cursor=after
    )


@router.get("/patients/{mrn}/triggers", name="api.patient_triggers", responses=READ_RESPONSES)
def patient_triggers(
    mrn: Mrn, engine: EngineDep, holder: ReaderDep, open_only: OpenOnly = False
) -> list[TriggerOut]:
    """One patient's triggers, the most urgent and oldest first."""
    rows = review.show_triggers(
        engine, actor=holder.actor, clinic=holder.actor.clinic, open_only=open_only, mrn=mrn
    )
    return [TriggerOut(**row) for row in rows]


@router.get("/triggers", name="api.triggers", responses=READ_RESPONSES)
def triggers(
    engine: EngineDep,
    holder: ReaderDep,
    open_only: OpenOnly = True,
    limit: paging.LimitQuery = 50,
    cursor: paging.CursorQuery = None,
) -> Page[TriggerOut]:
    """The clinic's triggers, the most urgent and oldest first."""
    position = paging.decode(cursor)
    rows = review.show_triggers(
        engine, actor=holder.actor, clinic=holder.actor.clinic, open_only=open_only
    )
    return Page[TriggerOut](
        items=[TriggerOut(**row) for row in rows[position : position + limit]],
        next_cursor=paging.next_cursor(position, limit, more=len(rows) > position + limit),
    )


@router.get("/worklist", name="api.worklist", responses=READ_RESPONSES)
def worklist(
    engine: EngineDep,
    settings: SettingsDep,
    holder: ReaderDep,
    today: TodayDep,
    section: Annotated[str | None, Query(max_length=32, description="One section.")] = None,
    cursor: paging.CursorQuery = None,
) -> list[SectionOut]:
    """The worklist's sections as the web shows them, one page each (audited as an export).
    Follow a section's ``next_cursor`` with ``?section=KEY&cursor=...``."""
    page = paging.decode(cursor) + 1 if section else 1
    query = WorklistQuery(today=today, clinic=holder.actor.clinic, section=section, page=page)
    found = export_worklist(engine, actor=holder.actor, query=query, settings=settings)
    return [
        SectionOut(
            key=s.key,
            title=s.title,
            count=s.count,
            capped=s.capped,
            items=[_row(row) for row in s.rows],
            next_cursor=paging.encode(s.page) if s.page < s.pages else None,
        )
        for s in found.sections
    ]


def _row(row: object) -> WorkRowOut:
    return WorkRowOut.model_validate({name: getattr(row, name) for name in WorkRowOut.model_fields})


# --------------------------------------------------------------------------- item actions


@router.post("/items/{item_id}/ordered", name="api.item_ordered", responses=WRITE_RESPONSES)
def ordered(item_id: RowId, body: Note, engine: EngineDep, holder: WriterDep) -> Changed:
    done = actions.mark_ordered(engine, item_id=item_id, actor=holder.actor, note=body.note)
    return Changed(message=done.message)


@router.post("/items/{item_id}/booked", name="api.item_booked", responses=WRITE_RESPONSES)
def booked(
    item_id: RowId, body: Booking, engine: EngineDep, holder: WriterDep, today: TodayDep
) -> Changed:
    """Booked at a local date and time in the patient's zone."""
    done = actions.mark_booked(
        engine, item_id=item_id, actor=holder.actor, date=body.date, time=body.time, today=today
    )
    return Changed(message=done.message)


@router.post("/items/{item_id}/done", name="api.item_done", responses=WRITE_RESPONSES)
def done(
    item_id: RowId,
    body: Done,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> Changed:
    """Done, with its result for an imaging or marker item; triggers and plan re-run."""
    data = DoneInput(
        completed_on=body.completed_on,
        lesion=body.lesion,
        diameter_mm=text(body.diameter_mm),
        modality=body.modality,
        marker_value=text(body.marker_value),
        marker_unit=body.marker_unit,
        marker_uln=text(body.marker_uln),
        on_ppi=body.on_ppi,
        note=body.note,
    )
    result = actions.mark_done(
        engine, item_id=item_id, actor=holder.actor, data=data, settings=settings, today=today
    )
    return Changed(message=result.message, new_triggers=list(result.new_triggers))


@router.post("/items/{item_id}/declined", name="api.item_declined", responses=WRITE_RESPONSES)
def declined(item_id: RowId, body: Reason, engine: EngineDep, holder: WriterDep) -> Changed:
    result = actions.mark_declined(engine, item_id=item_id, actor=holder.actor, reason=body.reason)
    return Changed(message=result.message)


@router.post("/items/{item_id}/not-needed", name="api.item_not_needed", responses=WRITE_RESPONSES)
def not_needed(item_id: RowId, body: Reason, engine: EngineDep, holder: WriterDep) -> Changed:
    result = actions.mark_not_needed(
        engine, item_id=item_id, actor=holder.actor, reason=body.reason
    )
    return Changed(message=result.message)


@router.post("/items/{item_id}/snooze", name="api.item_snooze", responses=WRITE_RESPONSES)
def snooze(
    item_id: RowId,
    body: Snooze,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> Changed:
    """Hidden from the daily sections until ``until`` (at most the configured days ahead)."""
    result = actions.snooze(
        engine,
        item_id=item_id,
        actor=holder.actor,
        until=body.until,
        reason=body.reason,
        settings=settings,
        today=today,
    )
    return Changed(message=result.message)


# --------------------------------------------------------------------------- trigger review


@router.post(
    "/triggers/{trigger_id}/acknowledge", name="api.trigger_ack", responses=WRITE_RESPONSES
)
def acknowledge(trigger_id: RowId, engine: EngineDep, holder: WriterDep) -> Changed:
    result = review.acknowledge_trigger(
        engine, trigger_id=trigger_id, actor=holder.actor, now=utc_now()
    )
    return Changed(message=result.message)


@router.post(
    "/triggers/{trigger_id}/resolve", name="api.trigger_resolve", responses=WRITE_RESPONSES
)
def resolve(
    trigger_id: RowId,
    body: Resolution,
    engine: EngineDep,
    holder: WriterDep,
    settings: SettingsDep,
    today: TodayDep,
) -> Changed:
    """Only clinicians resolve clinical triggers (the same rule as the web and the CLI)."""
    result = trigger_review.resolve_trigger(
        engine,
        trigger_id=trigger_id,
        actor=holder.actor,
        outcome=body.outcome,
        outcome_code=body.outcome_code,
        false_alarm=body.false_alarm,
        settings=settings,
        today=today,
        now=utc_now(),
    )
    return Changed(message=result.message)
