"""Patient letters: the plan for the next 12 to 24 months in plain words, as HTML to print and as
PDF (``templates/letters/plan.html``), one patient or many (issue 20, point 3).

Privacy follows the calendar feed (``clinic.detailed_messages``): by default a letter names no
diagnosis, body site or test that gives the condition away, and no patient name, as it may be
read by anyone who finds it. ``handover=True`` (printed to give to the patient in person) uses
the tests' own names and greets the patient by name. Each letter is worded in the patient's
language (``patient.language``: its catalogue, else English; ``render/letter.py``).
"""

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import ItemKind
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, Problem
from surveil.render.i18n import pick_language
from surveil.render.letter import LetterHeading, LetterLine, PlanDate, word_letter
from surveil.render.pdf import html_to_pdf, many_pdfs
from surveil.render.templating import make_environment
from surveil.resources import resource_dir
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.registry.access import patient_by_mrn
from surveil.services.users.accounts import visible_patient

MONTHS = (12, 24)
MAX_LETTERS = 500


@dataclass(frozen=True)
class Letter:
    patient_id: int
    language: str
    greeting: str
    lines: tuple[LetterLine, ...]
    html: str


@audited_read("letter.printed")
def patient_letters(
    engine: sa.Engine,
    *,
    actor: Actor,
    patient_ids: list[int] | None = None,
    mrns: list[str] | None = None,
    clinic: str | None = None,
    months: int,
    handover: bool,
    settings: Settings,
    today: dt.date,
) -> list[Letter]:
    """Each patient's letter (HTML), named by id or by MRN in ``clinic`` (the actor's by
    default), in the order asked; each printing is audited."""
    if months not in MONTHS:
        raise InvalidInput(Problem("months", "must be 12 or 24"), what="letter")
    wanted = len(patient_ids or []) + len(mrns or [])
    if not wanted or wanted > MAX_LETTERS:
        raise InvalidInput(Problem("patients", f"name 1 to {MAX_LETTERS} patients"), what="letter")
    words = _Languages(settings)
    letters = []
    with session_scope(engine) as session:
        home = clinic or actor.clinic
        found = [visible_patient(session, actor=actor, patient_id=p) for p in patient_ids or []]
        found += [patient_by_mrn(session, actor=actor, mrn=mrn, clinic=home) for mrn in mrns or []]
        for patient in found:
            pid = patient.id or 0
            letter = _letter(session, patient, months, handover, settings, today, words)
            letters.append(letter)
            audit(
                session,
                actor=actor,
                action="letter.printed",
                patient_id=pid,
                subject=f"patient:{pid}",
                detail=f"plan letter, {months} months{', handed over' if handover else ''}",
            )
    return letters


def letters_pdf(
    letters: list[Letter],
    *,
    jobs: int = 1,
    on_done: Callable[[int], None] | None = None,
) -> list[bytes]:
    """One PDF per letter, each with only its own pages; laid out in batches (``many_pdfs``),
    in ``jobs`` worker processes, telling ``on_done(n)`` as each n more are ready."""
    return many_pdfs([letter.html for letter in letters], jobs=jobs, on_done=on_done)


def letters_in_one_pdf(letters: list[Letter]) -> bytes:
    """Every letter in one PDF, each starting on a new page (one document to lay out, so much
    faster per letter than a PDF each). Each letter is the ``<main>`` of its own page."""
    head = letters[0].html.partition("<main")[0]
    bodies = [
        "<main" + one.html.partition("<main")[2].partition("</main>")[0] + "</main>"
        for one in letters
    ]
    return html_to_pdf(head + "".join(bodies) + "</body></html>")


class _Languages:
    """The Jinja environment of each language a run meets (installing a catalogue changes an
    environment, so languages never share one)."""

    def __init__(self, settings: Settings) -> None:
        self.root = resource_dir("templates", settings.paths.templates)

    def of(self, requested: str | None) -> tuple[str, jinja2.Environment]:
        language = pick_language(requested, self.root)
        return language, _environment(self.root, language)


@functools.lru_cache(maxsize=16)
def _environment(root: Path, language: str) -> jinja2.Environment:
    """Kept for the process, as the feeds' are: a new environment compiles the letter's five
    templates again, which cost more than the letters themselves in a web request for one letter
    and in each bulk run (templates take effect on restart, as everywhere)."""
    return make_environment(root, language)


def _letter(
    session: Session,
    patient: m.Patient,
    months: int,
    handover: bool,
    settings: Settings,
    today: dt.date,
    words: _Languages,
) -> Letter:
    until = today + relativedelta(months=months)
    items = session.exec(
        select(m.FollowUpItem)
        .where(
            m.FollowUpItem.patient_id == patient.id,
            col(m.FollowUpItem.state).in_(m.OPEN_ITEM_STATES),
            m.FollowUpItem.earliest <= until,
        )
        .order_by(col(m.FollowUpItem.target), col(m.FollowUpItem.id))
    ).all()
    dates = [
        PlanDate(
            ItemKind(item.kind),
            item.earliest,
            item.latest,
            _aware(item.booked_at) if item.booked_at else None,
        )
        for item in items
    ]
    clinic = settings.clinic
    heading = LetterHeading(
        clinic_name=clinic.patient_facing_name,
        clinic_phone=clinic.phone,
        name=f"{patient.given_name} {patient.family_name}" if handover else None,
        timezone=patient.timezone,
        today=today,
        until=until,
        months=months,
    )
    language, env = words.of(patient.language)
    text = word_letter(env, language, dates, heading, detailed=handover or clinic.detailed_messages)
    return Letter(
        patient_id=patient.id or 0,
        language=language,
        greeting=text.greeting,
        lines=text.lines,
        html=text.html,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
