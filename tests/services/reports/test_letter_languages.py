"""Issue 20 point 3: the plan letter in the patient's language.

Every letter renders in every shipped language for every item kind (window, single day and
booked; generic and detailed; an empty plan) through a catalogue that *raises* on a msgid it does
not have, so a sentence added to the letter without its translation fails here. Through the
service on SQLite and PostgreSQL: each patient's letter is in their own language (English when
there is no catalogue), dates in the language, the PDF reads back in each language and names no
diagnosis in any language unless handed over; bulk PDFs of mixed languages come out in order."""

import datetime as dt
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pypdf import PdfReader
from sqlmodel import Session

from surveil.cli import _register, cli
from surveil.config import Settings
from surveil.core.vocab import ItemKind
from surveil.render.letter import LetterHeading, PlanDate, word_letter
from surveil.render.pdf import BATCH, html_to_pdf, many_pdfs
from surveil.render.templating import make_environment
from surveil.services.actor import Actor
from surveil.services.reports.letters import letters_in_one_pdf, letters_pdf, patient_letters
from tests.test_reminder_languages import SHIPPED, strict_env
from tests.web.seed import make_item, make_patient, make_user

NAV = Actor(username="nina", role="navigator", clinic="north")
TODAY = dt.date(2026, 6, 15)
JULY = dt.date(2026, 7, 1)
BOOKED = dt.datetime(2026, 8, 3, 8, 30, tzinfo=dt.UTC)
# Words that give the condition away, in every shipped language (whole words or their start).
DIAGNOSIS = re.compile(
    r"\b(mri|irm|resonancia|chromogranin|cromogranina|neuroendocrin|tumou?r|tumeur|pancr[eé]a|"
    r"páncrea|somatostatin|pet|tep|prrt|okafor|endoscop|ecoendoscop|écho-endoscop)",
    re.IGNORECASE,
)
TITLE = {"en": "Your follow-up plan", "es": "Su plan de seguimiento", "fr": "Votre plan de suivi"}
JULY_FIRST = {"en": "1 July 2026", "es": "1 de julio de 2026", "fr": "1 juillet 2026"}
SAME_WORD = {("fr", "Injection")}  # a booked injection's name, the same word in French
GENERIC = {"en": "Dear patient,", "es": "Estimado/a paciente:", "fr": "Madame, Monsieur,"}


def every_kind() -> list[PlanDate]:
    """A date of every kind, in turn a window, a single day and a booked appointment."""
    dates = []
    for n, kind in enumerate(ItemKind):
        start = JULY + dt.timedelta(days=7 * n)
        shape = n % 3
        latest = start if shape == 1 else start + dt.timedelta(days=20)
        dates.append(PlanDate(kind, start, latest, BOOKED if shape == 2 else None))
    return dates


def heading(name: str | None) -> LetterHeading:
    return LetterHeading(
        clinic_name="St Elsewhere Hospital",
        clinic_phone="020 7946 0000",
        name=name,
        timezone="Europe/Madrid",
        today=TODAY,
        until=dt.date(2027, 6, 15),
        months=12,
    )


@pytest.mark.parametrize("language", SHIPPED)
@pytest.mark.parametrize("detailed", [False, True], ids=["generic", "detailed"])
def test_every_letter_renders_in_every_language_for_every_kind(
    language: str, detailed: bool
) -> None:
    env, strict = strict_env(language)
    english = make_environment(None, "en")
    name = "Zoë Núñez" if detailed else None
    letter = word_letter(env, language, every_kind(), heading(name), detailed=detailed)
    original = word_letter(english, "en", every_kind(), heading(name), detailed=detailed)
    assert f'<html lang="{language}">' in letter.html and f'<main lang="{language}">' in letter.html
    assert f"<title>{TITLE[language]}</title>" in letter.html
    assert letter.greeting != original.greeting
    for line, english_line in zip(letter.lines, original.lines, strict=True):
        for field in ("when", "what", "details", "why"):
            ours, theirs = getattr(line, field), getattr(english_line, field)
            assert ours != theirs or (language, ours) in SAME_WORD, (language, field, ours)
    # A letter is not a calendar: no note about calendar apps, no "date shown".
    assert "Calendar apps" not in original.html and "date shown" not in original.html
    assert "Europe/Madrid" in letter.html
    empty = word_letter(env, language, [], heading(None), detailed=detailed)
    english_empty = word_letter(english, "en", [], heading(None), detailed=detailed)
    assert empty.html.count("<p>") == english_empty.html.count("<p>")
    # Every paragraph of the empty letter differs from the English one.
    ours = re.findall(r"<p[^>]*>(.*?)</p>", empty.html, re.S)
    theirs = re.findall(r"<p[^>]*>(.*?)</p>", english_empty.html, re.S)
    assert [a for a, b in zip(ours, theirs, strict=True) if a == b and "Hospital" not in a] == []
    assert strict.asked >= {"Dear patient", "Your follow-up plan", "%(first)s to %(last)s"}


def seed_languages(session: Session) -> dict[str, int]:
    """A patient per language tag, each with a date of every kind inside 12 months."""
    make_user(session, "nina")
    ids = {}
    for n, tag in enumerate(("es-MX", "fr", "en", "de")):
        patient = make_patient(session, f"30{n}", navigator="nina")
        patient.language = tag if tag != "en" else None
        session.add(patient)
        for date in every_kind():
            make_item(
                session,
                patient,
                kind=date.kind.value,
                earliest=date.earliest,
                latest=date.latest,
                booked_at=date.booked_at,
            )
        ids[tag] = patient.id or 0
    session.commit()
    return ids


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_each_patient_gets_the_letter_in_their_language_and_no_diagnosis_in_any(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    ids = seed_languages(session)
    ask = {"engine": engine, "actor": NAV, "patient_ids": list(ids.values()), "months": 12}
    private = patient_letters(**ask, handover=False, settings=settings, today=TODAY)
    assert [lt.language for lt in private] == ["es", "fr", "en", "en"]  # no German catalogue
    pdfs = letters_pdf(private)
    for letter, pdf in zip(private, pdfs, strict=True):
        text = pdf_text(pdf)
        language = letter.language
        assert TITLE[language] in text and GENERIC[language] in text
        assert JULY_FIRST[language] in " ".join(text.split())
        assert f'<html lang="{language}">' in letter.html
        assert not DIAGNOSIS.findall(text), (language, DIAGNOSIS.findall(text))
        assert not DIAGNOSIS.findall(letter.html)
    assert pdf_text(pdfs[2]) == pdf_text(pdfs[3])  # "de" is written in English
    handed = patient_letters(**ask, handover=True, settings=settings, today=TODAY)
    texts = [" ".join(pdf_text(pdf).split()) for pdf in letters_pdf(handed)]
    assert "Estimado/a Ada Okafor:" in texts[0] and "Resonancia magnética" in texts[0]
    assert "Bonjour Ada Okafor," in texts[1] and "IRM" in texts[1]
    assert "Dear Ada Okafor," in texts[2] and "MRI scan" in texts[2]
    together = pdf_text(letters_in_one_pdf(handed))
    for language in ("es", "fr", "en"):
        assert TITLE[language] in together


def test_bulk_pdfs_of_mixed_languages_are_batched_by_language_and_kept_in_order(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    make_user(session, "nina")
    ids = []
    tags = ["es", "fr", None]
    for n in range(BATCH + 5):
        patient = make_patient(session, f"4{n:03d}", family=f"Family{n:03d}", navigator="nina")
        patient.language = tags[n % 3]
        session.add(patient)
        make_item(session, patient, earliest=JULY, latest=JULY + dt.timedelta(days=9))
        ids.append(patient.id or 0)
    session.commit()
    letters = patient_letters(
        engine,
        actor=NAV,
        patient_ids=ids,
        months=12,
        handover=True,
        settings=settings,
        today=TODAY,
    )
    told: list[int] = []
    pdfs = many_pdfs([lt.html for lt in letters], on_done=told.append)
    assert sorted(told) == [10, 10, 10]  # one batch per language, not one per change of language
    for n, (letter, pdf) in enumerate(zip(letters, pdfs, strict=True)):
        text = pdf_text(pdf)
        assert f"Ada Family{n:03d}" in text and TITLE[letter.language] in text
        assert text == pdf_text(html_to_pdf(letter.html))
    assert [pdf_text(p) for p in letters_pdf(letters, jobs=2)] == [pdf_text(p) for p in pdfs]


def test_surveil_letter_writes_each_patient_in_their_language(
    session: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_languages(session)
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    shown = CliRunner().invoke(
        cli,
        ["--as", "nina", "letter", "300", "301", "302", "--out", str(tmp_path), "--quiet"],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0, shown.output
    for mrn, language in (("300", "es"), ("301", "fr"), ("302", "en")):
        text = pdf_text((tmp_path / f"letter-{mrn}.pdf").read_bytes())
        assert TITLE[language] in text and not DIAGNOSIS.findall(text)
