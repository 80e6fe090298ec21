"""The worklist sections on a real registry (SQLite and PostgreSQL): boundaries, scoping,
filters, order, pagination and export."""

import dataclasses
import datetime as dt

import pytest
from sqlmodel import Session

from surveil.config import Settings, WorklistSettings
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.worklist.export import worklist_csv, worklist_json
from surveil.services.worklist.sections import (
    WorklistQuery,
    build_worklist,
)
from tests.web.seed import (
    TODAY,
    make_item,
    make_patient,
    make_reminder,
    make_trigger,
    make_user,
)

NAV = Actor(username="nina", role="navigator", clinic="north")
ADMIN = Actor(username="root", role="admin", clinic="north")
DAY = dt.timedelta(days=1)


def worklist(
    session: Session, settings: Settings, actor: Actor = NAV, **filters: object
) -> dict[str, list[str]]:
    """Section key -> MRNs shown, in order."""
    query = WorklistQuery(today=TODAY, **filters)
    result = build_worklist(session, query=query, actor=actor, settings=settings)
    return {s.key: [r.mrn for r in s.rows] for s in result.sections}


def test_window_boundaries_place_items_in_exactly_one_section(
    session: Session, settings: Settings
) -> None:
    lost_days, soon = settings.worklist.lost_after_days, settings.worklist.soon_days
    cases = {
        "closed-yesterday": (TODAY - 30 * DAY, TODAY - DAY, "overdue"),
        "closes-today": (TODAY - 30 * DAY, TODAY, "due"),
        "opens-today": (TODAY, TODAY + 30 * DAY, "due"),
        "opens-tomorrow": (TODAY + DAY, TODAY + 30 * DAY, "soon"),
        "opens-at-horizon": (TODAY + soon * DAY, TODAY + 60 * DAY, "soon"),
        "opens-after-horizon": (TODAY + (soon + 1) * DAY, TODAY + 60 * DAY, None),
        "overdue-at-limit": (TODAY - 200 * DAY, TODAY - lost_days * DAY, "overdue"),
        "overdue-past-limit": (TODAY - 200 * DAY, TODAY - (lost_days + 1) * DAY, "lost"),
    }
    for mrn, (earliest, latest, _) in cases.items():
        make_item(session, make_patient(session, mrn), earliest=earliest, latest=latest)
    shown = worklist(session, settings)
    for mrn, (_, _, expected) in cases.items():
        # Of the item sections: "no navigator" is about the patient (none has one here).
        where = [key for key, mrns in shown.items() if mrn in mrns and key != "no_owner"]
        assert where == ([expected] if expected else []), mrn


def test_closed_items_never_show_and_booked_items_wait_for_their_appointment(
    session: Session, settings: Settings
) -> None:
    late = {"earliest": TODAY - 60 * DAY, "latest": TODAY - 10 * DAY}
    for state in ("done", "declined", "not_needed", "superseded", "cancelled"):
        make_item(session, make_patient(session, state), state=state, **late)
    future = dt.datetime(2026, 6, 20, 9, 0, tzinfo=dt.UTC)
    past = dt.datetime(2026, 6, 14, 9, 0, tzinfo=dt.UTC)
    make_item(
        session, make_patient(session, "booked-ahead"), state="booked", booked_at=future, **late
    )
    make_item(
        session, make_patient(session, "booked-missed"), state="booked", booked_at=past, **late
    )
    make_item(session, make_patient(session, "ordered"), state="ordered", **late)
    assert worklist(session, settings)["overdue"] == ["booked-missed", "ordered"]


def test_snooze_hides_from_the_day_but_never_from_lost(
    session: Session, settings: Settings
) -> None:
    due = make_item(session, make_patient(session, "due"), earliest=TODAY - DAY, latest=TODAY + DAY)
    lost = make_item(
        session, make_patient(session, "lost"), earliest=TODAY - 400 * DAY, latest=TODAY - 300 * DAY
    )
    for item in (due, lost):
        item.snoozed_until = TODAY + 7 * DAY
        session.add(item)
    session.flush()
    shown = worklist(session, settings)
    assert shown["due"] == [] and shown["lost"] == ["lost"]
    later = build_worklist(
        session, query=WorklistQuery(today=TODAY + 7 * DAY), actor=NAV, settings=settings
    )
    assert [r.mrn for r in later.sections[1].rows] == ["due"]  # snooze over, now overdue


def test_triggers_reminders_and_the_safety_net(session: Session, settings: Settings) -> None:
    grown = make_patient(session, "grown")
    make_item(session, grown, earliest=TODAY + 90 * DAY, latest=TODAY + 180 * DAY)
    make_trigger(session, grown, detected_on=TODAY - 3 * DAY)
    urgent = make_patient(session, "urgent")
    make_item(session, urgent, earliest=TODAY + 90 * DAY, latest=TODAY + 180 * DAY)
    make_trigger(session, urgent, kind="size", urgent=True)
    make_trigger(session, urgent, kind="recist", state="resolved")
    acked = make_patient(session, "acked")
    make_trigger(session, acked, kind="marker_rise", state="acknowledged")
    item = make_item(session, acked, earliest=TODAY + 90 * DAY, latest=TODAY + 180 * DAY)
    make_reminder(session, acked, item, state="failed")
    make_reminder(session, grown, None, state="sent")
    make_patient(session, "discharged", state="discharged")
    dead = make_patient(session, "deceased")
    dead.deceased_on = TODAY - 40 * DAY
    session.add(dead)
    make_patient(session, "forgotten")
    session.flush()
    shown = worklist(session, settings)
    assert shown["triggers"] == ["urgent", "grown", "acked"]  # urgent, then open, then acknowledged
    assert shown["reminders"] == ["acked"]
    assert shown["no_plan"] == ["forgotten"]


def test_navigators_see_only_their_clinic_and_admins_choose(
    session: Session, settings: Settings
) -> None:
    window = {"earliest": TODAY - DAY, "latest": TODAY + DAY}
    make_item(session, make_patient(session, "N1", clinic="north"), **window)
    make_item(session, make_patient(session, "S1", clinic="south"), **window)
    assert worklist(session, settings, clinic="south")["due"] == ["N1"]
    assert sorted(worklist(session, settings, ADMIN)["due"]) == ["N1", "S1"]
    assert worklist(session, settings, ADMIN, clinic="south")["due"] == ["S1"]


def test_filters_by_navigator_site_kind_and_search(session: Session, settings: Settings) -> None:
    make_user(session, "nina")
    window = {"earliest": TODAY - DAY, "latest": TODAY + DAY}
    make_item(session, make_patient(session, "A1", family="Ng", navigator="nina"), **window)
    make_item(
        session,
        make_patient(session, "B2", family="Nguyen", site="small_bowel"),
        kind="cga",
        **window,
    )
    make_item(session, make_patient(session, "C3", family="N_x%"), **window)
    assert worklist(session, settings, navigator="nina")["due"] == ["A1"]
    assert worklist(session, settings, navigator="nobody")["due"] == []
    assert worklist(session, settings, site="small_bowel")["due"] == ["B2"]
    assert worklist(session, settings, kind="cga")["due"] == ["B2"]
    assert worklist(session, settings, search="B2")["due"] == ["B2"]
    assert sorted(worklist(session, settings, search="ng")["due"]) == ["A1", "B2"]
    # Names are compared folded (core.names): punctuation is ignored, so no LIKE wildcard
    # can be typed, and "n_x" is "n x", the start of "N_x%" only.
    assert worklist(session, settings, search="n_x")["due"] == ["C3"]
    assert worklist(session, settings, search="%")["due"] == []
    assert worklist(session, settings, search="NGUYÉN")["due"] == ["B2"]  # accent-blind
    with pytest.raises(InvalidInput) as error:
        worklist(session, settings, site="brain", kind="xray")
    assert {p.field for p in error.value.problems} == {"site", "kind"}


def test_urgency_order_counts_and_pages(session: Session, settings: Settings) -> None:
    small = dataclasses.replace(settings, worklist=WorklistSettings(page_size=2))
    for n in range(5):
        latest = TODAY - (n + 1) * DAY
        make_item(
            session, make_patient(session, f"L{n}"), earliest=latest - 30 * DAY, latest=latest
        )
    make_item(
        session,
        make_patient(session, "URG"),
        earliest=TODAY - 9 * DAY,
        latest=TODAY - DAY,
        urgent=True,
    )
    assert worklist(session, small)["overdue"] == ["URG", "L4", "L3", "L2", "L1", "L0"]
    page = build_worklist(
        session,
        query=WorklistQuery(today=TODAY, section="overdue", page=3),
        actor=NAV,
        settings=small,
    )
    (overdue,) = page.sections
    assert (overdue.count, overdue.pages, overdue.page) == (6, 3, 3)
    assert [r.mrn for r in overdue.rows] == ["L1", "L0"]
    assert overdue.rows[0].timing == "2 days overdue"


def test_csv_export_neutralises_formulas_and_json_has_every_section(
    session: Session, settings: Settings
) -> None:
    patient = make_patient(session, "=HYPERLINK(1)", family="@evil")
    make_item(session, patient, earliest=TODAY - DAY, latest=TODAY + DAY)
    result = build_worklist(session, query=WorklistQuery(today=TODAY), actor=NAV, settings=settings)
    lines = worklist_csv(result).splitlines()
    assert lines[0].startswith("section,patient,mrn,what")
    assert lines[1].startswith("due,\"'@EVIL, Ada\",'=HYPERLINK(1),MRI,planned")
    data = worklist_json(result)
    assert [s["key"] for s in data["sections"]] == [
        "triggers",
        "overdue",
        "due",
        "booked_outside",
        "booked_no_result",
        "soon",
        "booked",
        "reminders",
        "replies",
        "no_plan",
        "no_owner",
        "lost",
    ]
    assert data["sections"][2]["rows"][0]["latest"] == (TODAY + DAY).isoformat()


def test_overview_counts_stop_at_the_cap_but_a_focused_section_counts_exactly(
    session: Session, settings: Settings
) -> None:
    for n in range(3):
        make_item(
            session, make_patient(session, f"C{n}"), earliest=TODAY - 9 * DAY, latest=TODAY - DAY
        )
    overview = build_worklist(
        session, query=WorklistQuery(today=TODAY), actor=NAV, settings=settings, count_cap=2
    )
    overdue = overview.sections[1]
    assert (overdue.count, overdue.capped, overdue.count_text) == (2, True, "2+")
    focused = build_worklist(
        session,
        query=WorklistQuery(today=TODAY, section="overdue"),
        actor=NAV,
        settings=settings,
        count_cap=2,
    )
    assert (focused.sections[0].count, focused.sections[0].capped) == (3, False)


def test_patients_without_a_navigator_are_shown_whoever_the_page_is_for(
    session: Session, settings: Settings
) -> None:
    make_user(session, "nina")
    owned = make_patient(session, "owned", navigator="nina")
    make_patient(session, "Zed-orphan", family="Zed")
    make_patient(session, "Abe-orphan", family="Abe")
    make_patient(session, "gone", state="discharged")
    dead = make_patient(session, "dead")
    dead.deceased_on = TODAY - 40 * DAY
    make_patient(session, "elsewhere", clinic="south")
    for patient in (owned,):
        make_item(session, patient, earliest=TODAY + 90 * DAY, latest=TODAY + 180 * DAY)
    session.flush()
    assert worklist(session, settings)["no_owner"] == ["Abe-orphan", "Zed-orphan"]
    mine = worklist(session, settings, navigator="nina")
    assert mine["no_owner"] == ["Abe-orphan", "Zed-orphan"]  # nobody's, so everybody's
    assert mine["no_plan"] == []  # the navigator's own safety net: she has planned hers
    assert worklist(session, settings, navigator="nina", search="zed")["no_owner"] == ["Zed-orphan"]
    assert sorted(worklist(session, settings, ADMIN)["no_owner"]) == [
        "Abe-orphan",
        "Zed-orphan",
        "elsewhere",
    ]
