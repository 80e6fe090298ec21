"""The words in a patient's calendar feed, rendered from ``templates/ical/`` with Jinja.

Kept apart from ``surveil.ical`` so the iCalendar encoder never imports Jinja: a service renders
the text here and hands it, ready-made, to ``surveil.core.feed.make_feed_event`` and
``surveil.ical.build_feed``. By default the text names no diagnosis, body site or test that
gives the condition away ("Follow-up scan due", "Blood test due"); ``detailed=True`` is a clinic's
opt-in and uses the kind's own name ("MRI scan due").
"""

import datetime as dt
from zoneinfo import ZoneInfo

import jinja2

from surveil.core.feed import FeedItem, FeedItemStatus, wording_for
from surveil.core.vocab import ItemKind
from surveil.render.i18n import DEFAULT_LANGUAGE, format_full_day_in
from surveil.render.templating import format_day, render_text, render_text_memo

_STATE = {
    FeedItemStatus.PLANNED: "due",
    FeedItemStatus.BOOKED: "booked",
    FeedItemStatus.DONE: "done",
    FeedItemStatus.CANCELLED: "cancelled",
    FeedItemStatus.SUPERSEDED: "superseded",
}


def render_event_text(
    env: jinja2.Environment,
    kind: ItemKind,
    *,
    detailed: bool,
    clinic_phone: str,
    window: tuple[dt.date, dt.date] | None,
    booked_at_local: str | None,
    status: FeedItemStatus = FeedItemStatus.PLANNED,
    language: str = DEFAULT_LANGUAGE,
    calendar_note: bool = True,
) -> tuple[str, str]:
    """(SUMMARY, DESCRIPTION) for one event; ``window`` is (earliest, latest), inclusive.
    ``env`` is ``language``'s environment; the dates are written in that language. A letter
    asks for no ``calendar_note`` (how slowly calendar apps refresh is no news on paper)."""
    if window is None and booked_at_local is None:
        raise ValueError("an event needs its due window or its booked time to be described")
    context = {
        "wording": wording_for(kind).value,
        "kind": kind.value,
        "detailed": detailed,
        "state": _STATE[status],
        "booked": booked_at_local is not None,
        "booked_at_local": booked_at_local or "",
        "window_from": format_day(window[0], language) if window else "",
        "window_to": format_day(window[1], language) if window else "",
        "clinic_phone": clinic_phone,
        "calendar_note": calendar_note,
    }
    # A summary is one line whatever the template's layout.
    summary = " ".join(render_text_memo(env, "ical/summary.txt", context).split())
    return summary, render_text_memo(env, "ical/description.txt", context)


def render_item_text(
    env: jinja2.Environment,
    item: FeedItem,
    *,
    detailed: bool,
    clinic_phone: str,
    tz_name: str,
    language: str = DEFAULT_LANGUAGE,
) -> tuple[str, str]:
    """(SUMMARY, DESCRIPTION) for a feed item, appointment times shown in ``tz_name``."""
    booked = local_time_text(item.booked_at, tz_name, language) if item.booked_at else None
    return render_event_text(
        env,
        item.kind,
        detailed=detailed,
        clinic_phone=clinic_phone,
        window=(item.earliest, item.latest),
        booked_at_local=booked,
        status=item.status,
        language=language,
    )


def render_calendar_description(env: jinja2.Environment, *, clinic_phone: str) -> str:
    """The calendar's own description, with the "calendar apps refresh slowly" warning."""
    return render_text(env, "ical/calendar.txt", {"clinic_phone": clinic_phone})


def local_time_text(instant: dt.datetime, tz_name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """'Monday 30 March 2026 at 09:30 (Europe/London time)' for an aware instant; in another
    language Babel's full date and the 24-hour time ('lunes, 30 de marzo de 2026, 09:30
    (Europe/London)').

    The feed carries the instant in UTC and the calendar app shows it in the device's zone;
    the description names the clinic's wall time too, for a patient reading it abroad.
    """
    if instant.tzinfo is None:
        raise ValueError("local_time_text needs an aware datetime")
    local = instant.astimezone(ZoneInfo(tz_name))
    if language != DEFAULT_LANGUAGE:
        return f"{format_full_day_in(local.date(), language)}, {local:%H:%M} ({tz_name})"
    return f"{local:%A} {format_day(local.date())} at {local:%H:%M} ({tz_name} time)"
