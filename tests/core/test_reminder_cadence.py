"""The clinic's reminder cadence (issue 18 point 5): reminders some days before the window opens,
then repeats a few days apart while the item is open; parsed with every problem named, pure."""

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

from surveil.core.reminders import (
    Channel,
    ItemState,
    ReminderItem,
    ReminderPatient,
    ReminderPolicy,
    Stage,
    parse_policy,
    select_reminders,
)
from surveil.core.vocab import ItemKind

D = dt.date
LONDON = ZoneInfo("Europe/London")
# Window 1 June - 1 July, target 20 June; e-mail only, so one intent per due stage.
ITEM = ReminderItem("item-1", ItemKind.MRI, D(2024, 6, 1), D(2024, 6, 20), D(2024, 7, 1))
PATIENT = ReminderPatient("pat-1", timezone="Europe/London", email="ann@example.org")
CADENCE = ReminderPolicy(
    channels=(Channel.EMAIL,), days_before_window=(14, 3), repeats=2, repeat_every_days=2,
    before_target_days=0,
)  # fmt: skip


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=LONDON).astimezone(dt.UTC)


def due(now: dt.datetime, policy: ReminderPolicy = CADENCE, **changes: object) -> list[tuple]:
    intents = select_reminders([replace(ITEM, **changes)], PATIENT, policy, now)  # type: ignore[arg-type]
    return [(i.stage, i.anchor, i.message) for i in intents if i.channel is Channel.EMAIL]


def test_each_day_of_the_cadence_is_its_own_reminder_and_only_the_latest_is_due() -> None:
    assert due(at(D(2024, 5, 18), 8)) == []  # 14 days before, before send time
    assert due(at(D(2024, 5, 18))) == [(Stage.BEFORE_WINDOW, D(2024, 5, 18), "due-soon")]
    assert due(at(D(2024, 5, 28))) == [(Stage.BEFORE_WINDOW, D(2024, 5, 18), "due-soon")]
    assert due(at(D(2024, 5, 29))) == [(Stage.BEFORE_WINDOW, D(2024, 5, 29), "due-soon")]
    assert due(at(D(2024, 6, 1))) == [(Stage.WINDOW_OPEN, D(2024, 6, 1), "window-open")]
    assert due(at(D(2024, 6, 3))) == [(Stage.REPEAT, D(2024, 6, 3), "window-open")]
    assert due(at(D(2024, 6, 5))) == [(Stage.REPEAT, D(2024, 6, 5), "window-open")]
    assert due(at(D(2024, 6, 25))) == [(Stage.REPEAT, D(2024, 6, 5), "window-open")]  # two only
    keys = {
        select_reminders([ITEM], PATIENT, CADENCE, at(day))[0].idempotency_key
        for day in (D(2024, 5, 18), D(2024, 5, 29), D(2024, 6, 1), D(2024, 6, 3), D(2024, 6, 5))
    }
    assert len(keys) == 5  # five messages, none mistaken for a resend of another


def test_repeats_stop_when_the_item_is_done_or_the_window_closed() -> None:
    assert due(at(D(2024, 6, 3)), state=ItemState.DONE) == []
    short = {"earliest": D(2024, 6, 1), "target": D(2024, 6, 2), "latest": D(2024, 6, 4)}
    assert due(at(D(2024, 6, 4)), **short) == [(Stage.REPEAT, D(2024, 6, 3), "window-open")]
    assert due(at(D(2024, 6, 5)), **short) == []  # the second repeat would fall after latest


def test_a_repeat_on_the_day_of_before_target_gives_way_to_it() -> None:
    policy = replace(CADENCE, before_target_days=15)  # 5 June, the second repeat's day
    assert due(at(D(2024, 6, 5)), policy) == [(Stage.BEFORE_TARGET, D(2024, 6, 5), "due-soon")]


def test_the_default_policy_has_no_cadence_so_nothing_changes_for_existing_clinics() -> None:
    policy = ReminderPolicy(channels=(Channel.EMAIL,))
    assert due(at(D(2024, 5, 29)), policy) == []
    assert due(at(D(2024, 6, 5)), policy) == [(Stage.WINDOW_OPEN, D(2024, 6, 1), "window-open")]


def test_the_cadence_is_parsed_and_every_bad_value_named() -> None:
    policy, problems = parse_policy(
        {"days_before_window": [3, 14], "repeats": 2, "repeat_every_days": 2}
    )
    assert problems == []
    assert (policy.days_before_window, policy.repeats, policy.repeat_every_days) == ((14, 3), 2, 2)
    _, problems = parse_policy(
        {"days_before_window": [14, 14, 0], "repeats": -1, "repeat_every_days": "2"}
    )
    said = {p.field: p.message for p in problems}
    assert set(said) == {
        "reminders.days_before_window", "reminders.repeats", "reminders.repeat_every_days"
    }  # fmt: skip
    assert "distinct whole numbers of days from 1 to 90" in said["reminders.days_before_window"]
    assert "from 0 to 10" in said["reminders.repeats"]
    _, problems = parse_policy({"repeats": 10, "repeat_every_days": 30})
    assert [p.field for p in problems] == ["reminders.repeats"]
    assert "reach past 90 days" in problems[0].message
    for wrong in (True, 2.5, [1.5], "14"):
        _, problems = parse_policy({"days_before_window": wrong})
        assert [p.field for p in problems] == ["reminders.days_before_window"], wrong
