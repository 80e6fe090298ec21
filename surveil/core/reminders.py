"""Which reminders a patient's items call for, when they may go out, and why one must not.

Pure: the clock comes in as ``now``/``today``; nothing here touches a database or a network.
The daemon turns the intents returned by ``select_reminders`` into outbox rows (their
``idempotency_key`` is the unique key) and calls ``suppression_reason`` again just before
sending, because an item can be done, or a patient opt out, between planning and sending.

Stages of one item (each at ``policy.send_time`` on its day, or at the start of the patient's
preferred window when they have one, in the patient's time zone, then moved out of quiet hours):

* ``before_window``     each of the clinic's ``days_before_window`` before ``earliest`` (e.g.
                        14 and 3 days before), to the patient;
* ``window_open``       the day the window opens (``earliest``), to the patient;
* ``repeat``            up to ``repeats`` more, ``repeat_every_days`` apart after ``earliest``,
                        while the item is open and its window has not closed, to the patient;
* ``before_target``     ``before_target_days`` before the target, to the patient; skipped when
                        that day is not after ``earliest`` (the window-open reminder said it);
* ``overdue_navigator`` the day after ``latest``: the patient is no longer nagged, the item goes
                        on the navigators' digest, *urgent* for ``urgent_kinds`` (a missed
                        somatostatin-analogue dose risks a carcinoid crisis).

Only the most recent patient stage that is due is returned, so a daemon that was down for a
week sends one reminder per item, not a backlog of stale ones.
"""

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from surveil.core.reminder_policy import PATIENT_CHANNELS, Channel, ReminderPolicy, parse_policy
from surveil.core.vocab import STAFF_MEETING_KINDS, ItemKind, ItemState

__all__ = [
    "CLOSED_STATES",
    "NAVIGATOR_ONLY_KINDS",
    "PATIENT_CHANNELS",
    "Channel",
    "ItemState",
    "Recipient",
    "ReminderIntent",
    "ReminderItem",
    "ReminderPatient",
    "ReminderPolicy",
    "Stage",
    "Suppression",
    "is_quiet",
    "message_name",
    "next_allowed_send_time",
    "parse_policy",
    "patient_channels",
    "reminder_key",
    "select_reminders",
    "send_window_problem",
    "suppression_reason",
    "wait_for_window",
]

UTC = dt.UTC


class Stage(StrEnum):
    BEFORE_WINDOW = "before_window"
    WINDOW_OPEN = "window_open"
    BEFORE_TARGET = "before_target"
    OVERDUE_NAVIGATOR = "overdue_navigator"
    REPEAT = "repeat"


class Recipient(StrEnum):
    PATIENT = "patient"
    NAVIGATOR = "navigator"


class Suppression(StrEnum):
    """Why a reminder was not sent; stored on the delivery row for the audit trail."""

    DONE = "done"
    DECLINED = "declined"
    NOT_NEEDED = "not needed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    DECEASED = "deceased"
    DISCHARGED = "discharged"
    OPTED_OUT = "opted out"
    NO_EMAIL = "no email address"
    NO_PHONE = "no phone number"


CLOSED_STATES: dict[ItemState, Suppression] = {
    ItemState.DONE: Suppression.DONE,
    ItemState.DECLINED: Suppression.DECLINED,
    ItemState.NOT_NEEDED: Suppression.NOT_NEEDED,
    ItemState.CANCELLED: Suppression.CANCELLED,
    ItemState.SUPERSEDED: Suppression.SUPERSEDED,
}

# A tumour board is a meeting of clinicians: the patient has nothing to attend.
NAVIGATOR_ONLY_KINDS = STAFF_MEETING_KINDS

# Bump when the recipe below changes, so old and new keys can never collide.
_KEY_SCHEME = "surveil-reminder-v1"


@dataclass(frozen=True)
class ReminderItem:
    """The slice of a planned item that reminders need; dates are the patient's local dates."""

    id: str
    kind: ItemKind
    earliest: dt.date
    target: dt.date
    latest: dt.date
    state: ItemState = ItemState.PLANNED


@dataclass(frozen=True)
class ReminderPatient:
    """Contact and consent; the id is the registry's opaque id, never an MRN."""

    id: str
    timezone: str = "UTC"
    email: str | None = None
    phone: str | None = None
    # The channels the patient agreed to, in order; empty means every channel the clinic has.
    channels: tuple[Channel, ...] = ()
    opted_out: bool = False
    deceased_on: dt.date | None = None
    discharged: bool = False
    # Preferred hours on the patient's clock, (start, end); None: the clinic's send_time.
    send_window: tuple[dt.time, dt.time] | None = None


@dataclass(frozen=True)
class ReminderIntent:
    item_id: str
    patient_id: str
    stage: Stage
    channel: Channel
    recipient: Recipient
    send_after: dt.datetime  # aware, UTC, outside the patient's quiet hours
    anchor: dt.date  # the item date this stage hangs on (part of the key)
    message: str  # templates/reminders/<message>/
    urgent: bool = False
    idempotency_key: str = field(init=False)

    def __post_init__(self) -> None:
        key = reminder_key(self.item_id, self.stage, self.channel, self.recipient, self.anchor)
        object.__setattr__(self, "idempotency_key", key)


def reminder_key(
    item_id: str, stage: Stage, channel: Channel, recipient: Recipient, anchor: dt.date
) -> str:
    """The outbox's unique key, Message-ID local part and provider ``Idempotency-Key``.

    Item × stage × channel × recipient, plus the item date the stage hangs on: when a replan
    moves the target, the ``before_target`` reminder gets a new key (and is sent again for the
    new date) while the ``window_open`` one, whose ``earliest`` did not move, keeps its key.
    Hashed so that it is opaque (it ends up in mail headers and logs) and safe in a Message-ID.
    """
    recipe = "|".join((_KEY_SCHEME, item_id, stage, channel, recipient, anchor.isoformat()))
    return hashlib.sha256(recipe.encode()).hexdigest()[:32]


def message_name(stage: Stage, kind: ItemKind) -> str:
    """The template folder for a stage of an item of this kind."""
    if stage is Stage.OVERDUE_NAVIGATOR:
        return "navigator-digest"
    if kind is ItemKind.SSA_INJECTION:
        return "ssa-due"
    # A repeat says again what the window-open message said; the earlier stages say "coming up".
    return "window-open" if stage in (Stage.WINDOW_OPEN, Stage.REPEAT) else "due-soon"


def is_quiet(local: dt.time, quiet_start: dt.time, quiet_end: dt.time) -> bool:
    """Whether a wall-clock time falls in quiet hours; ``start == end`` means none."""
    local = local.replace(tzinfo=None, fold=0)
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= local < quiet_end
    return local >= quiet_start or local < quiet_end  # the usual case: across midnight


def next_allowed_send_time(
    at_utc: dt.datetime, tz: str | ZoneInfo, quiet_start: dt.time, quiet_end: dt.time
) -> dt.datetime:
    """``at_utc`` itself, or the end of the quiet hours it falls in, on the patient's clock.

    The end of quiet hours is built as a wall-clock time in the patient's zone and converted
    to UTC, so 08:00 on the day the clocks change is 08:00 there, not 07:00 or 09:00. If the
    end falls in a spring-forward gap (only a quiet end between 01:00 and 03:00 can), fold=0
    reads it with the pre-gap offset: a moment just after the jump, never one inside quiet hours.
    """
    if at_utc.tzinfo is None:
        raise ValueError("at_utc must be an aware datetime")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = at_utc.astimezone(zone)
    if not is_quiet(local.time(), quiet_start, quiet_end):
        return at_utc.astimezone(UTC)
    day = local.date()
    if quiet_start > quiet_end and local.time() >= quiet_start:
        day += dt.timedelta(days=1)  # evening: the quiet hours end tomorrow morning
    return dt.datetime.combine(day, quiet_end, tzinfo=zone).astimezone(UTC)


def wait_for_window(
    at_utc: dt.datetime, tz: str | ZoneInfo, window: tuple[dt.time, dt.time] | None
) -> dt.datetime | None:
    """None if ``at_utc`` is inside the patient's window [start, end) on their clock (or they
    have none); else the window's next start, in UTC. Built as a wall-clock time on the
    patient's day, so it is 17:00 there on the day the clocks change too."""
    if window is None:
        return None
    if at_utc.tzinfo is None:
        raise ValueError("at_utc must be an aware datetime")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = at_utc.astimezone(zone)
    start, end = window
    now = local.time().replace(tzinfo=None, fold=0)
    if start <= now < end:
        return None
    day = local.date() if now < start else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


def send_window_problem(
    start: dt.time, end: dt.time, quiet_start: dt.time, quiet_end: dt.time
) -> str | None:
    """Why a patient's preferred window [start, end) is not allowed, or None.

    It must be a span within one day (start before end) with no minute in the clinic's quiet
    hours: its start is not quiet, and no quiet period begins inside it.
    """
    if start >= end:
        return f"the window must start before it ends ({start:%H:%M}-{end:%H:%M})"
    if quiet_start == quiet_end:
        return None
    if is_quiet(start, quiet_start, quiet_end) or start < quiet_start < end:
        return (
            f"{start:%H:%M}-{end:%H:%M} overlaps the clinic's quiet hours "
            f"({quiet_start:%H:%M}-{quiet_end:%H:%M})"
        )
    return None


def suppression_reason(
    item_state: ItemState, patient: ReminderPatient, channel: Channel, today: dt.date
) -> Suppression | None:
    """Why a reminder on ``channel`` must not go out today, or None if it may.

    Checked at plan time and again at send time. A navigator digest line survives a patient's
    opt-out and missing contact details: opting out of messages is not opting out of care.
    """
    if item_state in CLOSED_STATES:
        return CLOSED_STATES[item_state]
    if patient.deceased_on is not None and patient.deceased_on <= today:
        return Suppression.DECEASED
    if patient.discharged:
        return Suppression.DISCHARGED
    if channel is Channel.DIGEST:
        return None
    if patient.opted_out:
        return Suppression.OPTED_OUT
    if channel is Channel.EMAIL and not patient.email:
        return Suppression.NO_EMAIL
    if channel is Channel.SMS and not patient.phone:
        return Suppression.NO_PHONE
    return None


def patient_channels(patient: ReminderPatient, policy: ReminderPolicy) -> tuple[Channel, ...]:
    """The patient's agreed channels that the clinic has, in the patient's order.

    No fallback to another channel: a patient who agreed to SMS only is not emailed because the
    clinic has no SMS gateway. The overdue stage still reaches a navigator, so nothing is lost.
    """
    wanted = patient.channels or policy.channels
    return tuple(c for c in wanted if c in policy.channels and c in PATIENT_CHANNELS)


def select_reminders(
    items: Iterable[ReminderItem],
    patient: ReminderPatient,
    policy: ReminderPolicy,
    now: dt.datetime,
) -> list[ReminderIntent]:
    """The reminders that are due at ``now`` for one patient's items, sorted and deduplicated.

    Calling it again later returns the same intents (same keys) until a later stage takes
    over, so the planner can run every few minutes and insert with ON CONFLICT DO NOTHING.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    zone = ZoneInfo(patient.timezone)
    today = now.astimezone(zone).date()
    intents: list[ReminderIntent] = []
    for item in items:
        intents += _item_intents(item, patient, policy, now, zone, today)
    return sorted(set(intents), key=_order)


def _item_intents(
    item: ReminderItem,
    patient: ReminderPatient,
    policy: ReminderPolicy,
    now: dt.datetime,
    zone: ZoneInfo,
    today: dt.date,
) -> list[ReminderIntent]:
    send_time = patient.send_window[0] if patient.send_window else policy.send_time

    def when(day: dt.date) -> dt.datetime:
        # A wall-clock time on the patient's day, converted once: 17:00 stays 17:00 local
        # across a clock change (the UTC hour moves instead).
        at = dt.datetime.combine(day, send_time, tzinfo=zone).astimezone(UTC)
        return next_allowed_send_time(at, zone, policy.quiet_start, policy.quiet_end)

    intents: list[ReminderIntent] = []
    stage_day = _latest_due_patient_stage(item, policy, now, when)
    if stage_day is not None and today <= item.latest and item.kind not in NAVIGATOR_ONLY_KINDS:
        stage, day = stage_day
        for channel in patient_channels(patient, policy):
            if suppression_reason(item.state, patient, channel, today) is None:
                intents.append(_intent(item, patient, stage, channel, day, when(day), policy))
    overdue_day = item.latest + dt.timedelta(days=1)
    if (
        policy.overdue_navigator
        and when(overdue_day) <= now
        and suppression_reason(item.state, patient, Channel.DIGEST, today) is None
    ):
        intents.append(
            _intent(item, patient, Stage.OVERDUE_NAVIGATOR, Channel.DIGEST, overdue_day,
                    when(overdue_day), policy)
        )  # fmt: skip
    return intents


def _latest_due_patient_stage(
    item: ReminderItem,
    policy: ReminderPolicy,
    now: dt.datetime,
    when: Callable[[dt.date], dt.datetime],
) -> tuple[Stage, dt.date] | None:
    stages = [
        (Stage.BEFORE_WINDOW, item.earliest - dt.timedelta(days=days))
        for days in policy.days_before_window
    ]
    if policy.window_open:
        stages.append((Stage.WINDOW_OPEN, item.earliest))
    if policy.before_target_days > 0:
        day = item.target - dt.timedelta(days=policy.before_target_days)
        if not (policy.window_open and day <= item.earliest):
            stages.append((Stage.BEFORE_TARGET, day))
    for number in range(1, policy.repeats + 1):
        day = item.earliest + dt.timedelta(days=number * policy.repeat_every_days)
        if day <= item.latest:  # nothing is repeated once the window has closed
            stages.append((Stage.REPEAT, day))
    due = [s for s in stages if when(s[1]) <= now]
    # On a tie the stage listed first wins: a repeat gives way to window_open / before_target.
    return max(due, key=lambda s: s[1]) if due else None


def _intent(
    item: ReminderItem,
    patient: ReminderPatient,
    stage: Stage,
    channel: Channel,
    anchor: dt.date,
    send_after: dt.datetime,
    policy: ReminderPolicy,
) -> ReminderIntent:
    navigator = stage is Stage.OVERDUE_NAVIGATOR
    return ReminderIntent(
        item_id=item.id,
        patient_id=patient.id,
        stage=stage,
        channel=channel,
        recipient=Recipient.NAVIGATOR if navigator else Recipient.PATIENT,
        send_after=send_after,
        anchor=anchor,
        message=message_name(stage, item.kind),
        urgent=navigator and item.kind in policy.urgent_kinds,
    )


def _order(intent: ReminderIntent) -> tuple[dt.datetime, str, int, int]:
    stages = list(Stage)
    channels = list(Channel)
    return (
        intent.send_after,
        intent.item_id,
        stages.index(intent.stage),
        channels.index(intent.channel),
    )
