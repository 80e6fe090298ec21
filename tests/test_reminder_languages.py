"""Issue #18 point 4: reminders in the patient's language.

Every translated template renders in every shipped language for every item kind, generic and
detailed, through a catalogue that *raises* on a msgid it does not have: a string added to a
template without its translation fails here. Dates are written in the language; a clinic adds
a language (or corrects one) with a ``.po`` file in its templates folder, no code."""

import datetime as dt
import gettext
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jinja2
import pytest
from babel.messages.pofile import read_po

from surveil.core.feed import FeedItemStatus
from surveil.core.vocab import ItemKind
from surveil.render.feedtext import local_time_text, render_calendar_description, render_event_text
from surveil.render.i18n import (
    DEFAULT_LANGUAGE,
    SHIPPED_LOCALE,
    available_languages,
    pick_language,
    template_msgids,
    translations,
)
from surveil.render.messages import Clinic, patient_context, render_message
from surveil.render.templating import make_environment
from surveil.resources import resource_dir

TEMPLATES = resource_dir("templates")
SHIPPED = ("es", "fr")
MESSAGES = ("window-open", "due-soon", "ssa-due")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
CLINIC = Clinic(name="St Elsewhere Hospital", phone="020 7946 0000")


class Strict(gettext.NullTranslations):
    """A catalogue that fails on a msgid it lacks, instead of falling back to English."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.table = {
            m.id: m.string
            for m in read_po((SHIPPED_LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb"))
            if m.id and m.string and not m.fuzzy
        }
        self.asked: set[str] = set()

    def gettext(self, message: str) -> str:
        self.asked.add(message)
        if message not in self.table:
            raise AssertionError(f"{self.language}: no translation for {message!r}")
        return str(self.table[message])

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def strict_env(language: str) -> tuple[jinja2.Environment, Strict]:
    env = make_environment(None, language)
    strict = Strict(language)
    env.install_gettext_translations(strict, newstyle=True)  # type: ignore[attr-defined]
    return env, strict


def context(kind: ItemKind, language: str, *, detailed: bool) -> dict[str, object]:
    clinic = Clinic(name=CLINIC.name, phone=CLINIC.phone, detailed=detailed)
    return patient_context(
        clinic=clinic, kind=kind, earliest=dt.date(2026, 6, 1), target=dt.date(2026, 6, 15),
        latest=dt.date(2026, 7, 1), first_name="Zoë", language=language,
    )  # fmt: skip


def test_shipped_languages_are_found() -> None:
    assert set(available_languages(TEMPLATES)) >= {DEFAULT_LANGUAGE, *SHIPPED}


@pytest.mark.parametrize("language", SHIPPED)
def test_every_msgid_of_the_templates_is_translated_with_the_same_placeholders(
    language: str,
) -> None:
    wanted = template_msgids(TEMPLATES)
    assert len(wanted) > 50  # the extraction found the templates' strings and item names
    table = Strict(language).table
    missing = sorted(wanted - set(table))
    assert not missing, f"{language}: untranslated {missing}"
    for msgid in wanted:
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(str(table[msgid]))), (
            f"{language}: placeholders differ in {msgid!r}"
        )


@pytest.mark.parametrize("language", SHIPPED)
@pytest.mark.parametrize("detailed", [False, True], ids=["generic", "detailed"])
def test_every_message_renders_in_every_language_for_every_kind(
    language: str, detailed: bool
) -> None:
    env, strict = strict_env(language)
    english = make_environment(None, DEFAULT_LANGUAGE)
    for name in MESSAGES:
        for kind in ItemKind:
            rendered = render_message(env, name, context(kind, language, detailed=detailed))
            original = render_message(english, name, context(kind, "en", detailed=detailed))
            assert rendered.subject != original.subject
            assert rendered.text != original.text and rendered.sms != original.sms
            assert f'<html lang="{language}">' in rendered.html
            assert "Zoë" in rendered.text and "020 7946 0000" in rendered.sms
    assert strict.asked  # the templates really went through the catalogue


def test_dates_are_written_in_the_language() -> None:
    for language, june in (("en", "1 June 2026"), ("es", "1 de junio de 2026"),
                           ("fr", "1 juin 2026")):  # fmt: skip
        env = make_environment(None, language)
        message = render_message(
            env, "window-open", context(ItemKind.MRI, language, detailed=False)
        )
        assert june in message.text and june in message.sms and june in message.html


def test_a_language_tag_picks_its_catalogue_or_english() -> None:
    assert pick_language("es-MX", TEMPLATES) == "es"
    assert pick_language("fr", TEMPLATES) == "fr"
    assert pick_language("FR-ca", TEMPLATES) == "fr"
    assert pick_language("de", TEMPLATES) == DEFAULT_LANGUAGE  # none shipped
    assert pick_language(None, TEMPLATES) == DEFAULT_LANGUAGE


def test_a_clinic_adds_a_language_and_corrects_one_without_code(tmp_path: Path) -> None:
    own = tmp_path / "templates"
    shutil.copytree(TEMPLATES, own)
    german = own / "locale" / "de" / "LC_MESSAGES"
    german.mkdir(parents=True)
    (german / "messages.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Reminder from %(clinic_name)s"\nmsgstr "Erinnerung von %(clinic_name)s"\n',
        encoding="utf-8",
    )
    spanish = own / "locale" / "es" / "LC_MESSAGES"
    spanish.mkdir(parents=True)
    (spanish / "messages.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Reminder from %(clinic_name)s"\nmsgstr "Aviso de %(clinic_name)s"\n',
        encoding="utf-8",
    )
    assert "de" in available_languages(own) and pick_language("de-AT", own) == "de"
    german_env = make_environment(own, "de")
    message = render_message(german_env, "due-soon", context(ItemKind.CGA, "de", detailed=False))
    assert message.subject == "Erinnerung von St Elsewhere Hospital"
    assert "Juni 2026" in message.text  # the date in German, from Babel
    spanish_env = make_environment(own, "es")
    corrected = render_message(spanish_env, "due-soon", context(ItemKind.CGA, "es", detailed=False))
    assert corrected.subject == "Aviso de St Elsewhere Hospital"  # the clinic's entry wins
    assert "Le recordamos" in corrected.text  # the rest still shipped
    assert translations("es", own).gettext("What:") == "Qué:"


def test_the_wheel_carries_the_catalogues_inside_the_package(tmp_path: Path) -> None:
    """Compiled at load, the .po files are all a wheel needs; they sit in the package, where
    ``SHIPPED_LOCALE`` looks in an installed copy too."""
    repo = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path),
         str(repo)],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("surveil-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for language in SHIPPED:
        assert f"surveil/locale/{language}/LC_MESSAGES/messages.po" in names
    assert SHIPPED_LOCALE.parent.name == "surveil"


@pytest.mark.parametrize("language", SHIPPED)
def test_every_feed_text_renders_in_every_language_for_every_kind_and_state(
    language: str,
) -> None:
    env, strict = strict_env(language)
    english = make_environment(None, DEFAULT_LANGUAGE)
    booked_at = dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC)
    for status in FeedItemStatus:
        for kind in ItemKind:
            for detailed in (False, True):
                for booked in (None, local_time_text(booked_at, "Europe/Madrid", language)):
                    words = {
                        "detailed": detailed, "clinic_phone": CLINIC.phone,
                        "window": (dt.date(2026, 6, 1), dt.date(2026, 7, 1)),
                        "booked_at_local": booked, "status": status,
                    }  # fmt: skip
                    summary, text = render_event_text(env, kind, **words, language=language)
                    original = render_event_text(english, kind, **words)
                    assert text != original[1]
                    assert summary and "\n" not in summary
    described = render_calendar_description(env, clinic_phone=CLINIC.phone)
    assert described != render_calendar_description(english, clinic_phone=CLINIC.phone)
    assert CLINIC.phone in described
    assert strict.asked


def test_appointment_times_are_written_in_the_language() -> None:
    at = dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC)
    assert local_time_text(at, "Europe/London") == (
        "Monday 30 March 2026 at 09:30 (Europe/London time)"
    )
    assert local_time_text(at, "Europe/Madrid", "es") == (
        "lunes, 30 de marzo de 2026, 10:30 (Europe/Madrid)"
    )
    assert local_time_text(at, "Europe/Paris", "fr") == "lundi 30 mars 2026, 10:30 (Europe/Paris)"
