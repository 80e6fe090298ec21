"""The words of a patient's plan letter (``templates/letters/``), in the patient's language.

Every sentence goes through the language's catalogue (``render/i18n.py``): the template's own,
the short texts of ``letters/_words.txt`` (why each date matters, the greeting, a window), and
each date's name and details, worded as in the calendar feed (``render/feedtext.py``). Dates are
written in the language by Babel. English is the templates' own text.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

from surveil.core.feed import wording_for
from surveil.core.vocab import ItemKind
from surveil.render.feedtext import local_time_text, render_event_text
from surveil.render.templating import format_day


@dataclass(frozen=True)
class PlanDate:
    """One open date of the plan: its kind, its window and, if booked, the aware instant."""

    kind: ItemKind
    earliest: dt.date
    latest: dt.date
    booked_at: dt.datetime | None


@dataclass(frozen=True)
class LetterLine:
    when: str
    what: str
    details: str
    why: str


@dataclass(frozen=True)
class LetterText:
    greeting: str
    lines: tuple[LetterLine, ...]
    html: str


@dataclass(frozen=True)
class LetterHeading:
    """What the letter says besides the dates: who writes, to whom, for which months."""

    clinic_name: str
    clinic_phone: str
    name: str | None  # the patient's name, only on a letter handed over in person
    timezone: str
    today: dt.date
    until: dt.date
    months: int


def word_letter(
    env: jinja2.Environment,
    language: str,
    dates: Sequence[PlanDate],
    heading: LetterHeading,
    *,
    detailed: bool,
) -> LetterText:
    """The letter in ``language`` (``env`` is that language's environment): its greeting, one
    line per date and the HTML to print. ``detailed`` names the tests (else as the feed)."""
    words = env.get_template("letters/_words.txt").module
    lines = []
    for date in dates:
        booked = (
            local_time_text(date.booked_at, heading.timezone, language) if date.booked_at else None
        )
        what, details = render_event_text(
            env,
            date.kind,
            detailed=detailed,
            clinic_phone=heading.clinic_phone,
            window=(date.earliest, date.latest),
            booked_at_local=booked,
            language=language,
            calendar_note=False,
        )
        when = booked or (
            words.window(format_day(date.earliest, language), format_day(date.latest, language))  # type: ignore[attr-defined]
            if date.earliest != date.latest
            else format_day(date.earliest, language)
        )
        # A line starts with its date: "lunes, 30 de marzo" opens it with a capital.
        when = when[:1].upper() + when[1:]
        why = str(words.why(wording_for(date.kind).value))  # type: ignore[attr-defined]
        lines.append(LetterLine(when, what, details, why))
    greeting = str(words.greeting(heading.name or ""))  # type: ignore[attr-defined]
    html = env.get_template("letters/plan.html").render(
        greeting=greeting,
        lines=lines,
        clinic_name=heading.clinic_name,
        clinic_phone=heading.clinic_phone,
        today=format_day(heading.today, language),
        until=format_day(heading.until, language),
        months=heading.months,
    )
    return LetterText(greeting=greeting, lines=tuple(lines), html=html)
