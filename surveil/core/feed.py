"""What goes into a patient's calendar feed, decided purely: which items, on which days, with
which identity and status. No iCalendar encoding here (that is ``surveil.ical``) and no wording
(templates render the text, ``surveil.render.feedtext``): a feed event arrives with its text already
rendered.

Modelling (docs/feeds.md): a due window is shown as a *one-day* all-day event on the target date,
with the whole window in the description; a booked appointment is a timed event in UTC. Items
that are cancelled, superseded or done stay in the feed as cancelled events for a retention
period, because several calendar apps never notice an event that simply disappears.
"""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from surveil.core.vocab import IMAGING_KINDS, MARKER_KINDS, STAFF_MEETING_KINDS, ItemKind
from surveil.errors import InvalidInput, Problem

DEFAULT_RETENTION = dt.timedelta(days=30)
DEFAULT_APPOINTMENT = dt.timedelta(minutes=30)
_ONE_DAY = dt.timedelta(days=1)

# A UID or calendar id travels into every calendar app and every backup of it, so it holds only
# our own opaque ids: no MRN, no name, no token (ICAL.md P12). Hosts and ids are kept to a safe
# alphabet so nothing else can be smuggled in.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class FeedItemStatus(StrEnum):
    """Where a planned item stands, as far as the feed cares."""

    PLANNED = "planned"
    BOOKED = "booked"
    DONE = "done"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class EventStatus(StrEnum):
    """The two RFC 5545 VEVENT statuses a feed uses (TENTATIVE would only confuse patients)."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class Wording(StrEnum):
    """Generic category a patient sees by default: tells them what to do, not what they have."""

    SCAN = "scan"
    BLOOD_TEST = "blood_test"
    URINE_TEST = "urine_test"
    INJECTION = "injection"
    PROCEDURE = "procedure"
    TREATMENT = "treatment"
    APPOINTMENT = "appointment"
    REVIEW = "review"


# Only the kinds that are not obvious from IMAGING_KINDS / MARKER_KINDS. An endoscopy or an EUS
# needs fasting and sedation, so calling it a "scan" would mislead; PRRT is a day-case infusion.
_WORDING_EXCEPTIONS: dict[ItemKind, Wording] = {
    ItemKind.EUS: Wording.PROCEDURE,
    ItemKind.ENDOSCOPY: Wording.PROCEDURE,
    ItemKind.ECHOCARDIOGRAM: Wording.SCAN,
    ItemKind.HIAA5: Wording.URINE_TEST,  # 24-hour urine collection is the usual 5-HIAA sample
    ItemKind.LABS: Wording.BLOOD_TEST,
    ItemKind.SSA_INJECTION: Wording.INJECTION,
    ItemKind.PRRT_CYCLE: Wording.TREATMENT,
    ItemKind.CLINIC_VISIT: Wording.APPOINTMENT,
    ItemKind.TUMOUR_BOARD: Wording.REVIEW,
}


def wording_for(kind: ItemKind) -> Wording:
    """The generic wording category of an item kind (every kind has one)."""
    if kind in _WORDING_EXCEPTIONS:
        return _WORDING_EXCEPTIONS[kind]
    if kind in IMAGING_KINDS:
        return Wording.SCAN
    if kind in MARKER_KINDS:
        return Wording.BLOOD_TEST
    raise ValueError(f"no feed wording for item kind {kind!r}")  # a new ItemKind needs a row


@dataclass(frozen=True)
class FeedItem:
    """The little a feed needs to know about one planned item (filled by the service layer)."""

    id: int | str
    kind: ItemKind
    earliest: dt.date
    target: dt.date
    latest: dt.date
    status: FeedItemStatus
    sequence: int
    updated_at: dt.datetime
    booked_at: dt.datetime | None = None
    duration: dt.timedelta = DEFAULT_APPOINTMENT
    cancelled_on: dt.date | None = None

    def __post_init__(self) -> None:
        problems = _check_item(self)
        if problems:
            raise InvalidInput(problems, what=f"feed item {self.id!r}")


def _check_item(item: FeedItem) -> list[Problem]:
    problems: list[Problem] = []
    if not _ID.match(str(item.id)):
        problems.append(Problem("id", f"{item.id!r} is not a plain id (letters, digits, . _ -)"))
    if not item.earliest <= item.target <= item.latest:
        problems.append(
            Problem("target", f"window {item.earliest}..{item.latest} must contain {item.target}")
        )
    if item.status is FeedItemStatus.BOOKED and item.booked_at is None:
        problems.append(Problem("booked_at", "a booked item needs its appointment time"))
    if item.booked_at is not None and not _is_utc(item.booked_at):
        problems.append(Problem("booked_at", "must be an aware UTC datetime"))
    if item.duration <= dt.timedelta(0):
        problems.append(Problem("duration", "must be positive"))
    problems += _check_stamp(item.sequence, item.updated_at)
    return problems


def _check_stamp(sequence: int, updated_at: dt.datetime) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        problems.append(Problem("sequence", f"must be an integer >= 0, not {sequence!r}"))
    if not _is_utc(updated_at):
        problems.append(Problem("updated_at", "must be an aware UTC datetime"))
    return problems


def _is_utc(value: dt.datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)


def event_date(item: FeedItem) -> dt.date:
    """The day the item shows on: its appointment (UTC date) if booked, else its target date."""
    return item.booked_at.date() if item.booked_at is not None else item.target


def is_withdrawn(item: FeedItem) -> bool:
    """True when the item's event no longer stands and is shown as cancelled.

    A done item that was never booked is withdrawn too: its marker sits on the *target* date,
    which may still be ahead although the test has happened; a done appointment stays as it
    was, because it did take place at that time.
    """
    if item.status in (FeedItemStatus.CANCELLED, FeedItemStatus.SUPERSEDED):
        return True
    return item.status is FeedItemStatus.DONE and item.booked_at is None


def select_feed_items(
    items: Iterable[FeedItem], *, today: dt.date, retention: dt.timedelta = DEFAULT_RETENTION
) -> list[FeedItem]:
    """The items a feed shows today, in the order given, as the patient is to see them.

    Planned and booked items always show (an overdue one included). Withdrawn and done items
    show until ``retention`` after their date, counted from the cancellation instead if that is
    later: a client must get at least one chance to see the cancellation before the event goes.
    A care-team meeting (``STAFF_MEETING_KINDS``) shows as a review around its date, never at
    the meeting's time: the patient has no appointment to keep.
    """
    if retention < dt.timedelta(0):
        raise ValueError(f"retention must not be negative, got {retention}")
    shown = (as_patient_sees(item) for item in items)
    return [item for item in shown if _is_retained(item, today, retention)]


def as_patient_sees(item: FeedItem) -> FeedItem:
    """``item`` without the booking of a meeting the patient does not attend (a tumour board
    booked for 14:00 is a review "around this date", not "Your appointment: 14:00")."""
    if item.kind not in STAFF_MEETING_KINDS or item.booked_at is None:
        return item
    status = FeedItemStatus.PLANNED if item.status is FeedItemStatus.BOOKED else item.status
    return replace(item, booked_at=None, status=status)


def _is_retained(item: FeedItem, today: dt.date, retention: dt.timedelta) -> bool:
    if item.status in (FeedItemStatus.PLANNED, FeedItemStatus.BOOKED):
        return True
    last_relevant = event_date(item)
    if item.cancelled_on is not None:
        last_relevant = max(last_relevant, item.cancelled_on)
    return today <= last_relevant + retention


def feed_uid(item_id: int | str, host: str) -> str:
    """A stable, opaque event UID: ``fu-<item id>@<host>``."""
    if not _ID.match(str(item_id)):
        raise InvalidInput(Problem("id", f"{item_id!r} is not a plain id"), what="feed UID")
    if not _HOST.match(host):
        raise InvalidInput(Problem("host", f"{host!r} is not a host name"), what="feed UID")
    return f"fu-{item_id}@{host}"


@dataclass(frozen=True)
class FeedEvent:
    """One VEVENT, decided and worded: either an all-day span or a timed appointment in UTC."""

    uid: str
    kind: ItemKind
    status: EventStatus
    sequence: int
    updated_at: dt.datetime
    summary: str
    description: str
    start: dt.date | None = None
    end_exclusive: dt.date | None = None
    booked_at: dt.datetime | None = None
    duration: dt.timedelta | None = None

    def __post_init__(self) -> None:
        problems = _check_event(self)
        if problems:
            raise InvalidInput(problems, what=f"feed event {self.uid!r}")

    @property
    def is_timed(self) -> bool:
        return self.booked_at is not None


def _check_event(event: FeedEvent) -> list[Problem]:
    problems = _check_stamp(event.sequence, event.updated_at)
    if not event.uid or any(ch.isspace() for ch in event.uid):
        problems.append(Problem("uid", "must be non-empty without spaces"))
    if not event.summary.strip():
        problems.append(Problem("summary", "must not be empty"))
    start, end = event.start, event.end_exclusive
    booked_at, duration = event.booked_at, event.duration
    if start is not None and end is not None and booked_at is None and duration is None:
        problems += _check_all_day(start, end)
    elif booked_at is not None and duration is not None and start is None and end is None:
        problems += _check_timed(booked_at, duration)
    else:
        problems.append(
            Problem("start", "give either start + end_exclusive or booked_at + duration")
        )
    return problems


def _check_all_day(start: dt.date, end_exclusive: dt.date) -> list[Problem]:
    # datetime is a subclass of date: a datetime here would silently become a timed event.
    if isinstance(start, dt.datetime) or isinstance(end_exclusive, dt.datetime):
        return [Problem("start", "an all-day event takes plain dates, not datetimes")]
    if end_exclusive <= start:
        return [Problem("end_exclusive", "must be after start (the end day is exclusive)")]
    return []


def _check_timed(booked_at: dt.datetime, duration: dt.timedelta) -> list[Problem]:
    problems: list[Problem] = []
    if not _is_utc(booked_at):
        problems.append(Problem("booked_at", "must be an aware UTC datetime"))
    if duration <= dt.timedelta(0):
        problems.append(Problem("duration", "must be positive"))
    return problems


def make_feed_event(item: FeedItem, *, host: str, summary: str, description: str) -> FeedEvent:
    """The feed event for one item, with its text already rendered by the caller."""
    status = EventStatus.CANCELLED if is_withdrawn(item) else EventStatus.CONFIRMED
    uid = feed_uid(item.id, host)
    if item.booked_at is not None:
        return FeedEvent(
            uid=uid, kind=item.kind, status=status, sequence=item.sequence,
            updated_at=item.updated_at, summary=summary, description=description,
            booked_at=item.booked_at, duration=item.duration,
        )  # fmt: skip
    # One day on the target date; the window is spelt out in the description (docs/feeds.md).
    return FeedEvent(
        uid=uid, kind=item.kind, status=status, sequence=item.sequence,
        updated_at=item.updated_at, summary=summary, description=description,
        start=item.target, end_exclusive=item.target + _ONE_DAY,
    )  # fmt: skip


def appointment_instant(day: dt.date, at: dt.time, tz_name: str) -> dt.datetime:
    """The UTC instant of a wall-clock appointment time in a clinic's time zone.

    A time that does not exist (inside the spring-forward gap) is refused rather than guessed;
    an ambiguous one (the autumn repeat) is taken as the first occurrence (``fold=0``).
    """
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(Problem("timezone", f"unknown time zone {tz_name!r}")) from None
    local = dt.datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone)
    instant = local.astimezone(dt.UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput(
            Problem("time", f"{day} {at:%H:%M} does not exist in {tz_name} (clocks go forward)")
        )
    return instant


@dataclass(frozen=True)
class FeedCalendar:
    """The calendar around the events: a fixed identity and neutral, clinic-chosen text."""

    public_id: str  # the feed's public id (never its token): gives the fixed calendar UID
    description: str  # rendered text, incl. the "calendar apps refresh slowly" line
    name: str = "Hospital follow-up"
    refresh: dt.timedelta = dt.timedelta(hours=6)
    alarm_before: dt.timedelta | None = None  # a clinic setting; off by default (docs/feeds.md)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if not _ID.match(self.public_id):
            problems.append(Problem("public_id", f"{self.public_id!r} is not a plain id"))
        if not self.name.strip():
            problems.append(Problem("name", "must not be empty"))
        if "\n" in self.name or "\r" in self.name:
            # NAME is written verbatim (as icalendar writes it): a line break would end the line.
            problems.append(Problem("name", "must be one line"))
        if self.refresh < dt.timedelta(hours=1):
            problems.append(Problem("refresh", "must be at least one hour"))
        if self.alarm_before is not None and self.alarm_before <= dt.timedelta(0):
            problems.append(Problem("alarm_before", "must be positive (time before the event)"))
        if problems:
            raise InvalidInput(problems, what="feed calendar")

    @property
    def uid(self) -> str:
        return f"feed-{self.public_id}"
