"""Jinja rendering of everything a person reads outside the web pages: reminder messages and
calendar-feed text. One environment factory, StrictUndefined everywhere, so a missing variable
is an error rather than an empty hole in a message to a patient.
"""

import datetime as dt
import functools
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

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


# Words already rendered, by environment, template and the values of the names it reads.
_MEMO: dict[tuple[Hashable, ...], str] = {}
MEMO_SIZE = 8192


def render_text_memo(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """``render_text``, remembered: the same template given the same values for the names it
    reads gives the same text, so it is rendered once per process.

    Exact by construction: the key holds every context name the template, or any template
    it includes or imports, mentions (read from its source, so a clinic's own templates are
    covered too), and templates are read once per process (``auto_reload=False``). A template
    that picks what it includes at run time, or an unhashable value, is simply rendered.
    Calendar feeds word every event with two templates; this is most of a feed's cost.
    """
    names = referenced_names(env, name)
    if names is None:
        return render_text(env, name, context)
    try:
        key = (env, name, *(context.get(n, _ABSENT) for n in names))
        found = _MEMO.get(key)
    except TypeError:  # an unhashable value
        return render_text(env, name, context)
    if found is None:
        found = render_text(env, name, context)
        if len(_MEMO) >= MEMO_SIZE:
            _MEMO.clear()  # simple bound; a feed's words are cheap to make again
        _MEMO[key] = found
    return found


_ABSENT = object()  # a name the context does not give (a global such as gettext, or an error)


@functools.lru_cache(maxsize=256)  # bounded: it keeps each environment it saw alive
def referenced_names(env: jinja2.Environment, name: str) -> tuple[str, ...] | None:
    """Every name ``name`` and the templates it includes or imports read from outside
    themselves, sorted; None if one of those templates is chosen at run time."""
    assert env.loader is not None
    names: set[str] = set()
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        source, _, _ = env.loader.get_source(env, current)
        tree = env.parse(source)
        names |= jinja2.meta.find_undeclared_variables(tree)
        for referenced in jinja2.meta.find_referenced_templates(tree):
            if referenced is None:
                return None
            pending.append(referenced)
    return tuple(sorted(names))


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
