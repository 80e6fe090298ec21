"""Reminders in the patient's language: gettext catalogues read from ``.po`` files at load.

Shipped catalogues live in ``surveil/locale/<lang>/LC_MESSAGES/messages.po`` (English is the
templates' own text). A clinic adds or corrects a language without code by putting
``locale/<lang>/LC_MESSAGES/messages.po`` in its templates folder (``paths.templates``); its
entries win over the shipped ones. The ``.po`` files are compiled in memory when first used
(``babel.messages``), so an editable install, a wheel and a clean checkout all work with no build
step, and a clinic's edit takes effect when the daemon restarts.

``patient.language`` is a BCP 47 tag ("es", "es-MX", "fr-CA"): the exact catalogue if there is
one, else its language, else English. Dates are written in the language by Babel
(``format_date(..., "long")``: "31 January 2026", "31 de enero de 2026", "31 janvier 2026").
"""

import datetime as dt
import functools
import io
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT_LANGUAGE = "en"
SHIPPED_LOCALE = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
# English dates as the clinic has always written them (day month year), not Babel's US "en".
_DATE_LOCALE = {"en": "en_GB"}


def catalogue_roots(templates: Path) -> tuple[Path, ...]:
    """Where catalogues are looked for, later ones winning: shipped, then the clinic's."""
    return (SHIPPED_LOCALE, templates / "locale")


def _tag(language: str) -> str:
    return language.strip().replace("-", "_")


@functools.cache
def available_languages(templates: Path) -> tuple[str, ...]:
    """English and every language with a catalogue, shipped or the clinic's, sorted."""
    found = {DEFAULT_LANGUAGE}
    for root in catalogue_roots(templates):
        if root.is_dir():
            found |= {p.parent.parent.name for p in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return tuple(sorted(found))


def pick_language(requested: str | None, templates: Path) -> str:
    """The catalogue for a patient's language tag: exact, else the language alone, else English."""
    if not requested:
        return DEFAULT_LANGUAGE
    tag = _tag(requested)
    available = available_languages(templates)
    for candidate in (tag, tag.split("_")[0].lower()):
        if candidate in available:
            return candidate
    return DEFAULT_LANGUAGE


@functools.cache
def translations(language: str, templates: Path) -> NullTranslations:
    """The compiled catalogue for ``language`` (English: none, the templates' text)."""
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    merged: Translations | None = None
    for root in catalogue_roots(templates):
        path = root / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not path.is_file():
            continue
        with path.open("rb") as po:
            catalog = read_po(po, locale=language, domain=DOMAIN)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
        compiled.seek(0)
        loaded = Translations(compiled, domain=DOMAIN)
        if merged is None:
            merged = loaded
        else:
            merged.merge(loaded)  # the clinic's entries replace the shipped ones
    return merged if merged is not None else NullTranslations()


@functools.cache
def _date_locale(language: str) -> Locale:
    try:
        return Locale.parse(_DATE_LOCALE.get(language, language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(_DATE_LOCALE[DEFAULT_LANGUAGE])


# Letters and reminders in bulk write the same few hundred days over and over, and Babel parses
# the locale and the pattern for each afresh: most of what a Spanish or French letter's HTML cost
# more than an English one's (scripts/bench_reports.py, letters_html_cpu_ms_*).
@functools.lru_cache(maxsize=4096)
def format_day_in(day: dt.date, language: str) -> str:
    """A date written out in the language: "31 January 2026", "31 de enero de 2026"."""
    return format_date(day, "long", locale=_date_locale(language))


@functools.lru_cache(maxsize=4096)
def format_full_day_in(day: dt.date, language: str) -> str:
    """The weekday too: "lunes, 30 de marzo de 2026", "lundi 30 mars 2026"."""
    return format_date(day, "full", locale=_date_locale(language))


# Translated templates: the patient's reminder messages, calendar feed, plan letter and the
# pages of the reminders' reply links. (The navigators' digest is for staff and stays in English.)
TRANSLATED = ("reminders/_*", "reminders/window-open/*", "reminders/due-soon/*",
              "reminders/ssa-due/*", "ical/summary.txt", "ical/description.txt",
              "ical/_refresh_note.txt", "ical/calendar.txt",
              "replies/*", "letters/*")  # fmt: skip
_EXTRACT_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true", "trim_blocks": "true"}


def template_msgids(templates: Path) -> set[str]:
    """Every string the translated templates ask a catalogue for: the ``{% trans %}`` blocks,
    and the item names (``ical/_wording.txt``) that ``reminders/_names.txt`` translates."""
    from babel.messages.extract import extract

    found: set[str] = set()
    for pattern in TRANSLATED:
        for path in sorted(templates.glob(pattern)):
            with path.open("rb") as source:
                for _line, message, _comments, _context in extract(
                    "jinja2", source, options=_EXTRACT_OPTIONS
                ):
                    found.add(message if isinstance(message, str) else message[0])
    return found | set(item_names(templates))


def item_names(templates: Path) -> list[str]:
    """The generic and detailed item names a reminder may use, in English."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates))
    wording = env.get_template("ical/_wording.txt").module
    return [*wording.generic.values(), *wording.detailed.values()]  # type: ignore[attr-defined]
