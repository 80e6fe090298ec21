"""The log filter (``surveil.logs``) and the hidden SQL parameters (``db.session.make_engine``)."""

import datetime as dt
import io
import logging

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from surveil.db import models as m
from surveil.logs import RedactPatientData, scrub
from tests.web.seed import make_patient

MRN = "PHI123456"


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        ("GET /worklist?q=PHI123456&page=2 HTTP/1.1", "GET /worklist?q=<redacted>&page=2 HTTP/1.1"),
        ("/worklist?section=due&site=pancreas", "/worklist?section=due&site=pancreas"),
        ("/worklist?page=2%20OR%201", "/worklist?page=<redacted>"),
        ("/admin/audit?patient=12&actor=nina", "/admin/audit?patient=<redacted>&actor=<redacted>"),
        ("/login?next=/worklist%3Fq%3DPHI123456", "/login?next=<redacted>"),
        ("/x?flag", "/x?<redacted>"),
        ("/feeds/tok3n.ics?x=1", "/feeds/<redacted>.ics?x=<redacted>"),
        ("is it? yes", "is it? yes"),
        ("Key (clinic, mrn)=(north, PHI123456) already exists.", "Key (clinic, mrn)=(<redacted>)"),
        ("Failing row contains (1, PHI123456, Markerson).", "Failing row contains (<redacted>)"),
        ("[parameters: ('PHI123456', 'Zzphi')]", "[parameters: <redacted>]"),
        ("550 <zzphi@example.org> rejected", "550 <<email>> rejected"),
        ("invalid number +44 7700 900123.", "invalid number <phone>."),
        ("GET /patients/1\x00\r\nINFO forged", "GET /patients/1\\x00\\x0d\\x0aINFO forged"),
        ("bell\x07 csi\x1b[31m c1\x85 ls\u2028", "bell\\x07 csi\\x1b[31m c1\\x85 ls\\x2028"),
    ],
)
def test_scrub(line: str, logged: str) -> None:
    assert scrub(line) == logged


@given(st.text())
def test_scrubbing_twice_changes_nothing(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once


def test_a_traceback_keeps_its_lines_and_loses_the_values() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactPatientData())
    logger = logging.getLogger("tests.logs.traceback")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"Key (mrn)=({MRN}) already exists.\n\x1b[2J")
        except ValueError:
            logger.exception("failed on %s", f"/worklist?q={MRN}\n")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert MRN not in text
    assert "failed on /worklist?q=<redacted>\\x0a\nTraceback (most recent call last):" in text
    assert "\x1b" not in text and "\\x1b[2J" in text


def test_database_errors_carry_no_parameter_values(engine: sa.Engine) -> None:
    """Both backends: the statement's values are hidden by the engine; PostgreSQL's own detail
    (which quotes the duplicate key) is cut by the filter."""
    with Session(engine) as session:
        make_patient(session, MRN, clinic="north", family="Markerson", given="Zzphi")
        session.commit()
    with Session(engine) as session, pytest.raises(sa.exc.IntegrityError) as caught:
        twin = m.Patient(
            clinic="north",
            mrn=MRN,
            given_name="Zzphi-in-a-parameter",
            family_name="Markerson",
            birth_date=dt.date(1960, 1, 1),
        )
        session.add(twin)
        session.commit()
    raw = str(caught.value)
    assert "Zzphi-in-a-parameter" not in raw
    assert "parameters hidden" in raw
    if engine.dialect.name == "postgresql":
        assert MRN in raw  # PostgreSQL's DETAIL line quotes the key: the filter must cut it
    assert MRN not in scrub(raw)


@pytest.mark.usefixtures("keep_logging")
def test_the_entry_points_put_the_filter_on_every_handler() -> None:
    """``surveil daemon`` and ``run-demo`` (``logs.configure_logging``) and ``surveil serve``
    (uvicorn's configuration) leave no handler without the filter, the root logger included,
    so no record reaches an unfiltered handler (or Python's last-resort one)."""
    import logging.config

    from surveil.cli.daemon import configure_logging
    from surveil.logs import uvicorn_log_config

    root = logging.getLogger()
    root.handlers[:] = []
    configure_logging()
    assert root.handlers
    assert all(any(isinstance(f, RedactPatientData) for f in h.filters) for h in root.handlers)
    logging.config.dictConfig(uvicorn_log_config())
    for name in ("", "uvicorn", "uvicorn.access"):
        handlers = logging.getLogger(name).handlers
        assert handlers, name
        assert all(any(isinstance(f, RedactPatientData) for f in h.filters) for h in handlers)
