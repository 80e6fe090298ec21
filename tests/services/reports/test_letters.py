"""Patient letters: the plan in plain words, as HTML and as PDF read back with pypdf; no diagnosis
word unless printed for handing over (or the clinic opts in, as for the feed); bulk; audited."""

import datetime as dt
import io
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pypdf import PdfReader
from sqlmodel import Session, select

from surveil.cli import _register, cli
from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import InvalidInput, NotFound
from surveil.render.pdf import BATCH, html_to_pdf
from surveil.services.actor import Actor
from surveil.services.reports.letters import letters_pdf, patient_letters
from tests.web.seed import make_item, make_patient, make_user

NAV = Actor(username="nina", role="navigator", clinic="north")
TODAY = dt.date(2026, 6, 15)
D = dt.date.fromisoformat
# Words that give the condition away: none may appear in a letter that follows the feed's privacy.
DIAGNOSIS_WORDS = (
    "MRI",
    "Chromogranin",
    "neuroendocrine",
    "tumour",
    "pancrea",
    "Somatostatin",
    "Okafor",
)
COVERED = {"surveil.services.reports.letters.patient_letters"}
SHELL_COVERED = {"letter"}
NOT_AUDITED: set[str] = set()


def seed(session: Session) -> list[int]:
    make_user(session, "nina")
    one = make_patient(session, "100", navigator="nina")
    make_item(
        session, one, earliest=D("2026-09-01"), latest=D("2026-10-01"), target=D("2026-09-15")
    )
    make_item(
        session,
        one,
        kind="cga",
        earliest=D("2026-07-01"),
        latest=D("2026-07-20"),
        target=D("2026-07-10"),
    )
    make_item(
        session, one, kind="ct", earliest=D("2028-01-01"), latest=D("2028-02-01")
    )  # beyond 12 months
    two = make_patient(session, "101", family="Berg", given="Ola", navigator="nina")
    make_item(session, two, kind="ssa_injection", earliest=D("2026-06-20"), latest=D("2026-06-27"))
    session.commit()
    return [one.id or 0, two.id or 0]


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_letter_follows_the_feeds_privacy_and_reads_back_from_pdf(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    ids = seed(session)
    (letter,) = patient_letters(
        engine,
        actor=NAV,
        patient_ids=ids[:1],
        months=12,
        handover=False,
        settings=settings,
        today=TODAY,
    )
    assert [line.what for line in letter.lines] == ["Blood test due", "Follow-up scan due"]
    assert letter.lines[0].when == "1 July 2026 to 20 July 2026"
    assert letter.greeting == "Dear patient"
    text = pdf_text(letters_pdf([letter])[0])
    assert "Your follow-up plan" in text and "1 July 2026" in text and "Blood test" in text
    assert not [w for w in DIAGNOSIS_WORDS if w.lower() in text.lower()]
    assert not [w for w in DIAGNOSIS_WORDS if w.lower() in letter.html.lower()]
    (handed,) = patient_letters(
        engine,
        actor=NAV,
        patient_ids=ids[:1],
        months=24,
        handover=True,
        settings=settings,
        today=TODAY,
    )
    text = pdf_text(letters_pdf([handed])[0])
    assert "Dear Ada Okafor" in text and "MRI scan" in text and "Chromogranin A" in text
    assert len(handed.lines) == 3  # the CT in January 2028 is inside 24 months
    printed = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == "letter.printed")
    ).all()
    assert [(e.actor, e.patient_id) for e in printed] == [("nina", ids[0]), ("nina", ids[0])]


def test_bulk_letters_and_their_speed(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    ids = seed(session)
    letters = patient_letters(
        engine,
        actor=NAV,
        mrns=["101", "100"],
        clinic="north",
        months=12,
        handover=False,
        settings=settings,
        today=TODAY,
    )
    assert [lt.patient_id for lt in letters] == [ids[1], ids[0]]
    assert letters[0].lines[0].what == "Injection due"
    started = time.perf_counter()
    pdfs = letters_pdf(letters * 10)
    rate = len(pdfs) / (time.perf_counter() - started)
    assert all(p.startswith(b"%PDF") for p in pdfs)
    print(f"bulk letters: {rate:.1f} PDFs/s")  # the issue asks for >= 20 on the 100k bench


def seed_many(session: Session, count: int) -> list[int]:
    """``count`` patients, each with a family name of their own and 0 to 11 dates (the longest
    letters run onto a second page), so that a page given to the wrong letter shows."""
    make_user(session, "nina")
    ids = []
    for n in range(count):
        patient = make_patient(session, f"2{n:03d}", family=f"Family{n:03d}", navigator="nina")
        for k in range(n % 12):
            day = D("2026-07-01") + dt.timedelta(days=20 * k)
            make_item(session, patient, earliest=day, latest=day + dt.timedelta(days=14))
        ids.append(patient.id or 0)
    session.commit()
    return ids


def test_bulk_pdfs_are_laid_out_together_and_each_holds_only_its_own_pages(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    ids = seed_many(session, BATCH + 7)  # a full batch and part of another
    ask = {"engine": engine, "actor": NAV, "patient_ids": ids, "months": 12}
    handed = patient_letters(**ask, handover=True, settings=settings, today=TODAY)
    told = []
    pdfs = letters_pdf(handed, on_done=told.append)
    assert told == [BATCH, 7]
    alone = [html_to_pdf(letter.html) for letter in handed]  # the bare library, one by one
    two_pages = 0
    for n, (pdf, own) in enumerate(zip(pdfs, alone, strict=True)):
        pages = PdfReader(io.BytesIO(pdf)).pages
        assert len(pages) == len(PdfReader(io.BytesIO(own)).pages)
        two_pages += len(pages) == 2
        text = pdf_text(pdf)
        assert text == pdf_text(own)
        assert f"Dear Ada Family{n:03d}," in text
        assert text.count("Family") == 1  # nobody else's greeting
        assert text.count("MRI scan due") == n % 12
    assert two_pages  # some letters run over a page, and are split at the right page
    private = patient_letters(**ask, handover=False, settings=settings, today=TODAY)
    for pdf in letters_pdf(private):
        text = pdf_text(pdf).lower()
        assert "dear patient," in text and not [w for w in DIAGNOSIS_WORDS if w.lower() in text]


def test_bulk_pdfs_in_worker_processes_equal_those_made_in_one(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    ids = seed_many(session, BATCH * 2 + 1)
    letters = patient_letters(
        engine,
        actor=NAV,
        patient_ids=ids,
        months=12,
        handover=True,
        settings=settings,
        today=TODAY,
    )
    told = []
    apart = letters_pdf(letters, jobs=2, on_done=told.append)
    assert told == [BATCH, BATCH, 1]
    assert [pdf_text(p) for p in apart] == [pdf_text(p) for p in letters_pdf(letters)]


def test_refusals(engine: sa.Engine, session: Session, settings: Settings) -> None:
    ids = seed(session)
    with pytest.raises(InvalidInput) as bad:
        patient_letters(
            engine,
            actor=NAV,
            patient_ids=ids,
            months=6,
            handover=False,
            settings=settings,
            today=TODAY,
        )
    assert bad.value.problems[0].field == "months"
    south = Actor(username="sam", role="navigator", clinic="south")
    with pytest.raises(NotFound):
        patient_letters(
            engine,
            actor=south,
            patient_ids=ids,
            months=12,
            handover=False,
            settings=settings,
            today=TODAY,
        )


def test_surveil_letter_writes_one_pdf_per_patient(
    session: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(session)
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    runner = CliRunner()
    shown = runner.invoke(
        cli,
        ["--as", "nina", "letter", "100", "101", "--out", str(tmp_path / "letters")],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0, shown.output
    assert sorted(p.name for p in (tmp_path / "letters").iterdir()) == [
        "letter-100.pdf",
        "letter-101.pdf",
    ]
    assert "Your follow-up plan" in pdf_text((tmp_path / "letters" / "letter-100.pdf").read_bytes())
    assert "2/2" in shown.output  # the progress bar, at its end


def test_surveil_letter_in_bulk_with_worker_processes(
    session: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_many(session, BATCH + 2)
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    mrns = [f"2{n:03d}" for n in range(BATCH + 2)]
    shown = CliRunner().invoke(
        cli,
        ["--as", "nina", "letter", *mrns, "--jobs", "2", "--handover", "--out", str(tmp_path)],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0, shown.output
    assert f"{BATCH + 2}/{BATCH + 2}" in shown.output
    for n in (0, BATCH - 1, BATCH + 1):
        text = pdf_text((tmp_path / f"letter-2{n:03d}.pdf").read_bytes())
        assert f"Dear Ada Family{n:03d}," in text and text.count("MRI scan due") == n % 12
