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
