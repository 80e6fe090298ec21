"""Jinja rendering of everything a person reads outside the web pages: reminder messages and
calendar-feed text. One environment factory, StrictUndefined everywhere, so a missing variable
is an error rather than an empty hole in a message to a patient.
"""

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from surveil.render.i18n import DEFAULT_LANGUAGE, format_day_in, translations
from surveil.resources import resource_dir


def make_environment(
    templates: Path | None = None, language: str = DEFAULT_LANGUAGE
) -> jinja2.Environment:
    """A Jinja environment over ``templates/``; HTML is autoescaped, text keeps its layout.

    ``{% trans %}`` blocks are translated into ``language`` (``render/i18n.py``; English is the
    templates' own text). One environment per language: installing a catalogue changes the
    environment, so it is never switched under a render in progress.
    """
    root = resource_dir("templates", templates)
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # Templates are read once per process: without this, every lookup stat()s the file,
        # about a third of the time it takes to word a calendar event. Edits to templates
        # therefore take effect when the web app or daemon restarts.
        auto_reload=False,
    )
    # Whitespace inside {% trans %} is collapsed, so a template may wrap a long sentence.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language, root), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = language
    return env


def render_text(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render one template to text, stripped of the trailing newline editors add."""
    return env.get_template(name).render(**context).strip("\n")


_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def format_day(day: dt.date, language: str = DEFAULT_LANGUAGE) -> str:
    """'31 January 2026': unambiguous for patients anywhere (no 01/02 guessing). English month
    names from a table, not strftime: the server's locale must not change a patient's text.
    Another language: Babel's long date in it ('31 de enero de 2026')."""
    if language != DEFAULT_LANGUAGE:
        return format_day_in(day, language)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
