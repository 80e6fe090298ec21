import datetime as dt
import tomllib
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveil.core.reminders import (
    Channel,
    ItemState,
    Recipient,
    ReminderItem,
    ReminderPatient,
    ReminderPolicy,
    Stage,
    Suppression,
    is_quiet,
    message_name,
    next_allowed_send_time,
    parse_policy,
    reminder_key,
    select_reminders,
    suppression_reason,
)
from surveil.core.vocab import ItemKind

UTC = dt.UTC
LONDON = "Europe/London"
NEW_YORK = "America/New_York"
POLICY = ReminderPolicy()
D = dt.date


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> dt.datetime:
    wall = dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))
    return wall.astimezone(UTC)


ITEM = ReminderItem("item-1", ItemKind.MRI, D(2024, 6, 1), D(2024, 6, 20), D(2024, 7, 1))
PATIENT = ReminderPatient("pat-1", timezone=LONDON, email="ann@example.org", phone="+447700900123")


def item(**changes: Any) -> ReminderItem:
    return replace(ITEM, **changes)


def patient(**changes: Any) -> ReminderPatient:
    return replace(PATIENT, **changes)


def stages(now: dt.datetime, **changes: Any) -> list[tuple[Stage, Channel]]:
    intents = select_reminders([item(**changes)], patient(), POLICY, now)
    return [(i.stage, i.channel) for i in intents]


BOTH = [Channel.EMAIL, Channel.SMS]


# --- stages at exact days ------------------------------------------------------------------


def test_nothing_before_the_window_opens_at_send_time() -> None:
    assert stages(local(LONDON, 2024, 6, 1, 8, 59)) == []


def test_window_open_reminder_at_send_time_on_the_first_day() -> None:
    now = local(LONDON, 2024, 6, 1, 9, 0)
    intents = select_reminders([item()], patient(), POLICY, now)
    assert [(i.stage, i.channel) for i in intents] == [(Stage.WINDOW_OPEN, c) for c in BOTH]
    assert all(i.send_after == now and i.recipient is Recipient.PATIENT for i in intents)
    assert all(i.message == "window-open" and not i.urgent for i in intents)


def test_before_target_takes_over_seven_days_before_target() -> None:
    assert stages(local(LONDON, 2024, 6, 13, 8, 59)) == [(Stage.WINDOW_OPEN, c) for c in BOTH]
    assert stages(local(LONDON, 2024, 6, 13, 9, 0)) == [(Stage.BEFORE_TARGET, c) for c in BOTH]


def test_a_late_planner_sends_only_the_latest_stage_not_a_backlog() -> None:
    assert stages(local(LONDON, 2024, 6, 30, 12, 0)) == [(Stage.BEFORE_TARGET, c) for c in BOTH]


def test_before_target_is_skipped_when_it_would_not_follow_the_window_opening() -> None:
    narrow = {"earliest": D(2024, 6, 10), "target": D(2024, 6, 17), "latest": D(2024, 6, 24)}
    assert stages(local(LONDON, 2024, 6, 16, 12, 0), **narrow) == [
        (Stage.WINDOW_OPEN, c) for c in BOTH
    ]
    only_before = ReminderPolicy(window_open=False)
    intents = select_reminders(
        [item(**narrow)],
        patient(),
        only_before,
        local(LONDON, 2024, 6, 10, 9),
    )
    assert {i.stage for i in intents} == {Stage.BEFORE_TARGET}


def test_last_day_of_window_still_reminds_the_patient() -> None:
    assert stages(local(LONDON, 2024, 7, 1, 23, 59)) == [(Stage.BEFORE_TARGET, c) for c in BOTH]


def test_overdue_stops_the_patient_and_tells_the_navigator_the_next_morning() -> None:
    assert stages(local(LONDON, 2024, 7, 2, 0, 0)) == []  # patient no longer nagged
    now = local(LONDON, 2024, 7, 2, 9, 0)
    [intent] = select_reminders([item()], patient(), POLICY, now)
    assert (intent.stage, intent.channel, intent.recipient) == (
        Stage.OVERDUE_NAVIGATOR,
        Channel.DIGEST,
        Recipient.NAVIGATOR,
    )
    assert intent.message == "navigator-digest"
    assert not intent.urgent


def test_overdue_injection_is_urgent_and_injections_use_their_own_message() -> None:
    ssa = {"kind": ItemKind.SSA_INJECTION}
    due = select_reminders([item(**ssa)], patient(), POLICY, local(LONDON, 2024, 6, 1, 9))
    assert {i.message for i in due} == {"ssa-due"}
    [late] = select_reminders([item(**ssa)], patient(), POLICY, local(LONDON, 2024, 7, 2, 9))
    assert late.urgent


def test_tumour_board_reaches_only_the_navigator() -> None:
    board = {"kind": ItemKind.TUMOUR_BOARD}
    assert stages(local(LONDON, 2024, 6, 15, 12), **board) == []
    assert stages(local(LONDON, 2024, 7, 3, 12), **board) == [
        (Stage.OVERDUE_NAVIGATOR, Channel.DIGEST)
    ]


def test_a_booked_tumour_board_still_reaches_only_the_navigator() -> None:
    board = {"kind": ItemKind.TUMOUR_BOARD, "state": ItemState.BOOKED}
    for day in (1, 15, 30):
        assert stages(local(LONDON, 2024, 6, day, 12), **board) == []


def test_stages_can_be_turned_off() -> None:
    off = ReminderPolicy(window_open=False, before_target_days=0, overdue_navigator=False)
    for day in (D(2024, 6, 1), D(2024, 6, 15), D(2024, 7, 5)):
        now = dt.datetime.combine(day, dt.time(12), tzinfo=UTC)
        assert select_reminders([item()], patient(), off, now) == []


def test_message_names() -> None:
    assert message_name(Stage.BEFORE_TARGET, ItemKind.CGA) == "due-soon"
    assert message_name(Stage.WINDOW_OPEN, ItemKind.CT) == "window-open"
    assert message_name(Stage.BEFORE_TARGET, ItemKind.SSA_INJECTION) == "ssa-due"
    assert message_name(Stage.OVERDUE_NAVIGATOR, ItemKind.SSA_INJECTION) == "navigator-digest"


# --- channels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clinic", "preferred", "expected"),
    [
        ((Channel.EMAIL, Channel.SMS), (), [Channel.EMAIL, Channel.SMS]),
        ((Channel.EMAIL, Channel.SMS), (Channel.SMS,), [Channel.SMS]),
        ((Channel.EMAIL,), (Channel.SMS, Channel.EMAIL), [Channel.EMAIL]),
        ((Channel.EMAIL,), (Channel.SMS,), []),  # no fallback against the patient's choice
        ((), (), []),
    ],
)
def test_channels_follow_the_patient_within_what_the_clinic_has(
    clinic: tuple[Channel, ...], preferred: tuple[Channel, ...], expected: list[Channel]
) -> None:
    policy = ReminderPolicy(channels=clinic)
    now = local(LONDON, 2024, 6, 1, 9)
    intents = select_reminders([item()], patient(channels=preferred), policy, now)
    assert [i.channel for i in intents] == expected


def test_plan_time_suppression_drops_channels_without_contact() -> None:
    now = local(LONDON, 2024, 6, 1, 9)
    intents = select_reminders([item()], patient(phone=None), POLICY, now)
    assert [i.channel for i in intents] == [Channel.EMAIL]
    assert select_reminders([item(state=ItemState.DONE)], patient(), POLICY, now) == []


# --- quiet hours across DST ----------------------------------------------------------------

Q = (dt.time(20), dt.time(8))


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        # London springs forward at 01:00 UTC on 31 March 2024: 08:00 BST is 07:00 UTC.
        (LONDON, utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 7, 0)),
        (LONDON, utc(2024, 3, 30, 21, 0), utc(2024, 3, 31, 7, 0)),  # evening before the change
        (LONDON, utc(2024, 3, 30, 5, 0), utc(2024, 3, 30, 8, 0)),  # still GMT the day before
        # London falls back at 01:00 UTC on 27 October 2024: 08:00 GMT is 08:00 UTC.
        (LONDON, utc(2024, 10, 26, 22, 0), utc(2024, 10, 27, 8, 0)),
        # New York springs forward on 10 March 2024: 08:00 EDT is 12:00 UTC.
        (NEW_YORK, utc(2024, 3, 10, 6, 0), utc(2024, 3, 10, 12, 0)),
        (NEW_YORK, utc(2024, 3, 10, 1, 30), utc(2024, 3, 10, 12, 0)),  # 20:30 EST on the 9th
        # New York falls back on 3 November 2024: 08:00 EST is 13:00 UTC.
        (NEW_YORK, utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 13, 0)),
    ],
)
def test_quiet_hours_end_at_the_local_wall_clock_across_dst(
    zone: str, at: dt.datetime, expected: dt.datetime
) -> None:
    got = next_allowed_send_time(at, zone, *Q)
    assert got == expected
    assert got.tzinfo is UTC
    assert got.astimezone(ZoneInfo(zone)).time() == dt.time(8)


def test_a_time_outside_quiet_hours_is_kept() -> None:
    at = utc(2024, 3, 31, 12, 0)
    assert next_allowed_send_time(at, LONDON, *Q) == at
    assert next_allowed_send_time(at, LONDON, dt.time(13), dt.time(14)) == utc(2024, 3, 31, 13)
    assert next_allowed_send_time(at, LONDON, dt.time(9), dt.time(9)) == at  # no quiet hours


def test_quiet_end_inside_a_spring_forward_gap_lands_after_the_jump() -> None:
    # 02:30 does not exist in New York on 10 March 2024; the answer must not be quiet.
    got = next_allowed_send_time(utc(2024, 3, 10, 4), NEW_YORK, dt.time(22), dt.time(2, 30))
    assert got > utc(2024, 3, 10, 7)  # the clocks jumped at 07:00 UTC
    assert not is_quiet(got.astimezone(ZoneInfo(NEW_YORK)).time(), dt.time(22), dt.time(2, 30))


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed_send_time(dt.datetime(2024, 1, 1), LONDON, *Q)  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        select_reminders([], patient(), POLICY, dt.datetime(2024, 1, 1))  # noqa: DTZ001


def test_reminders_wait_for_the_end_of_quiet_hours_on_the_dst_morning() -> None:
    early = ReminderPolicy(send_time=dt.time(6, 30))
    spring = item(earliest=D(2024, 3, 31), target=D(2024, 4, 20), latest=D(2024, 5, 1))
    ny = patient(timezone=NEW_YORK)
    ny_spring = item(earliest=D(2024, 3, 10), target=D(2024, 4, 1), latest=D(2024, 4, 10))
    assert select_reminders([spring], patient(), early, utc(2024, 3, 31, 6, 59)) == []
    [first, _] = select_reminders([spring], patient(), early, utc(2024, 3, 31, 7, 0))
    assert first.send_after == utc(2024, 3, 31, 7, 0)
    [first, _] = select_reminders([ny_spring], ny, early, utc(2024, 3, 10, 12, 0))
    assert first.send_after == utc(2024, 3, 10, 12, 0)


# --- suppression at send time --------------------------------------------------------------

TODAY = D(2024, 6, 1)


@pytest.mark.parametrize(
    ("state", "changes", "channel", "reason"),
    [
        (ItemState.DONE, {}, Channel.EMAIL, Suppression.DONE),
        (ItemState.CANCELLED, {}, Channel.SMS, Suppression.CANCELLED),
        (ItemState.SUPERSEDED, {}, Channel.DIGEST, Suppression.SUPERSEDED),
        (ItemState.DECLINED, {}, Channel.EMAIL, Suppression.DECLINED),
        (ItemState.NOT_NEEDED, {}, Channel.EMAIL, Suppression.NOT_NEEDED),
        (ItemState.PLANNED, {"deceased_on": D(2024, 5, 1)}, Channel.EMAIL, Suppression.DECEASED),
        (ItemState.PLANNED, {"deceased_on": TODAY}, Channel.DIGEST, Suppression.DECEASED),
        (ItemState.PLANNED, {"discharged": True}, Channel.SMS, Suppression.DISCHARGED),
        (ItemState.PLANNED, {"discharged": True}, Channel.DIGEST, Suppression.DISCHARGED),
        (ItemState.PLANNED, {"opted_out": True}, Channel.EMAIL, Suppression.OPTED_OUT),
        (ItemState.PLANNED, {"email": None}, Channel.EMAIL, Suppression.NO_EMAIL),
        (ItemState.PLANNED, {"email": ""}, Channel.EMAIL, Suppression.NO_EMAIL),
        (ItemState.PLANNED, {"phone": None}, Channel.SMS, Suppression.NO_PHONE),
        # the item closes before anything about the patient is considered
        (ItemState.DONE, {"deceased_on": D(2024, 5, 1)}, Channel.EMAIL, Suppression.DONE),
    ],
)
def test_each_suppression_reason(
    state: ItemState, changes: dict[str, Any], channel: Channel, reason: Suppression
) -> None:
    assert suppression_reason(state, patient(**changes), channel, TODAY) is reason


@pytest.mark.parametrize("state", [ItemState.PLANNED, ItemState.ORDERED, ItemState.BOOKED])
def test_open_items_with_contact_are_sent(state: ItemState) -> None:
    for channel in Channel:
        assert suppression_reason(state, patient(), channel, TODAY) is None


def test_navigator_digest_survives_opt_out_and_missing_contact() -> None:
    quiet = patient(opted_out=True, email=None, phone=None)
    assert suppression_reason(ItemState.PLANNED, quiet, Channel.DIGEST, TODAY) is None
    now = local(LONDON, 2024, 7, 2, 9)
    assert [i.channel for i in select_reminders([item()], quiet, POLICY, now)] == [Channel.DIGEST]


# --- idempotency keys ----------------------------------------------------------------------


def test_keys_are_deterministic_opaque_and_distinct_per_item_stage_channel() -> None:
    args = ("item-1", Stage.WINDOW_OPEN, Channel.EMAIL, Recipient.PATIENT, D(2024, 6, 1))
    key = reminder_key(*args)
    assert key == reminder_key(*args)
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    variants = {
        reminder_key(i, s, c, Recipient.PATIENT, D(2024, 6, 1))
        for i in ("item-1", "item-2")
        for s in Stage
        for c in Channel
    }
    assert len(variants) == 2 * len(Stage) * len(Channel)
    assert reminder_key(*args[:3], Recipient.NAVIGATOR, args[4]) != key


def test_replanned_target_gets_a_new_before_target_key_but_keeps_the_window_key() -> None:
    def keys(target: dt.date, now: dt.datetime) -> dict[Stage, str]:
        intents = select_reminders([item(target=target)], patient(), POLICY, now)
        return {i.stage: i.idempotency_key for i in intents if i.channel is Channel.EMAIL}

    window = local(LONDON, 2024, 6, 2, 9)
    assert keys(D(2024, 6, 20), window) == keys(D(2024, 6, 25), window)
    before = local(LONDON, 2024, 6, 19, 9)
    assert keys(D(2024, 6, 20), before) != keys(D(2024, 6, 25), before)


# --- configuration -------------------------------------------------------------------------


def test_parse_policy_from_toml() -> None:
    raw = tomllib.loads(
        """
        [reminders]
        window_open = false
        before_target_days = 3
        overdue_navigator = true
        urgent_kinds = ["ssa_injection", "prrt_cycle"]
        channels = ["sms"]
        send_time = "10:30"
        quiet_start = 21:00:00
        quiet_end = "07:15"
        """
    )
    policy, problems = parse_policy(raw["reminders"])
    assert problems == []
    assert policy == ReminderPolicy(
        window_open=False,
        before_target_days=3,
        urgent_kinds=frozenset({ItemKind.SSA_INJECTION, ItemKind.PRRT_CYCLE}),
        channels=(Channel.SMS,),
        send_time=dt.time(10, 30),
        quiet_start=dt.time(21),
        quiet_end=dt.time(7, 15),
    )


def test_parse_policy_defaults() -> None:
    assert parse_policy({}) == (ReminderPolicy(), [])


def test_parse_policy_reports_every_problem_with_its_key() -> None:
    raw = {
        "window_open": "yes",
        "before_target_days": 91,
        "overdue_navigator": 1,
        "urgent_kinds": ["ssa"],
        "channels": ["email", "email"],
        "send_time": "9am",
        "quiet_start": "25:00",
        "quiet_end": "08:00+01:00",
        "quiet_hours": "20-8",
    }
    policy, problems = parse_policy(raw, where="clinic.reminders")
    assert policy == ReminderPolicy()
    fields = sorted(p.field for p in problems)
    assert fields == sorted(f"clinic.reminders.{k}" for k in raw)
    assert any("unknown setting" in p.message for p in problems)


def test_parse_policy_refuses_a_bool_as_days() -> None:
    _, problems = parse_policy({"before_target_days": True})
    assert [p.field for p in problems] == ["reminders.before_target_days"]


# --- properties ----------------------------------------------------------------------------

ZONES = [LONDON, NEW_YORK, "Australia/Sydney", "Asia/Kolkata", "UTC", "Pacific/Chatham"]
times = st.times().map(lambda t: t.replace(microsecond=0, second=0))
days = st.dates(min_value=D(2023, 1, 1), max_value=D(2026, 12, 31))
instants = st.datetimes(
    min_value=dt.datetime(2023, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
    max_value=dt.datetime(2027, 6, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def reminder_items(draw: st.DrawFn) -> ReminderItem:
    earliest = draw(days)
    target = earliest + dt.timedelta(days=draw(st.integers(0, 60)))
    latest = target + dt.timedelta(days=draw(st.integers(0, 60)))
    return ReminderItem(
        id=draw(st.text("abc123-", min_size=1, max_size=6)),
        kind=draw(st.sampled_from(ItemKind)),
        earliest=earliest,
        target=target,
        latest=latest,
        state=draw(st.sampled_from(ItemState)),
    )


policies = st.builds(
    ReminderPolicy,
    window_open=st.booleans(),
    before_target_days=st.integers(0, 30),
    send_time=times,
    quiet_start=times,
    quiet_end=times,
)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(reminder_items(), max_size=5, unique_by=lambda i: i.id),  # ids are keys
    zone=st.sampled_from(ZONES),
    policy=policies,
    now=instants,
)
def test_select_is_deterministic_due_and_never_quiet(
    items: list[ReminderItem], zone: str, policy: ReminderPolicy, now: dt.datetime
) -> None:
    who = patient(timezone=zone)
    intents = select_reminders(items, who, policy, now)
    assert intents == select_reminders(list(reversed(items)), who, policy, now)
    keys = [i.idempotency_key for i in intents]
    assert len(keys) == len(set(keys))
    for intent in intents:
        assert intent.send_after <= now
        assert intent.send_after.tzinfo is UTC
        wall = intent.send_after.astimezone(ZoneInfo(zone)).time()
        assert not is_quiet(wall, policy.quiet_start, policy.quiet_end)


@settings(max_examples=500, deadline=None)
@given(at=instants, zone=st.sampled_from(ZONES), start=times, end=times)
def test_next_allowed_send_time_is_the_first_moment_out_of_quiet_hours(
    at: dt.datetime, zone: str, start: dt.time, end: dt.time
) -> None:
    got = next_allowed_send_time(at, zone, start, end)
    tz = ZoneInfo(zone)
    assert at <= got < at + dt.timedelta(hours=26)
    assert not is_quiet(got.astimezone(tz).time(), start, end)
    if got != at and got.astimezone(tz).time() == end:  # not an end inside a DST gap
        just_before = got - dt.timedelta(minutes=1)
        assert just_before < at or is_quiet(just_before.astimezone(tz).time(), start, end)
