"""CSV import on SQLite and PostgreSQL: every problem of every row at once and nothing written
(more than twenty kinds of bad rows), BOM and ';' and a local date format, a dry run that writes
nothing, idempotent re-import, the batch audited on channel import, rollback refused while
something newer depends on it, and ``surveil import csv|rollback``."""

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, select

from surveil.cli import _register, cli
from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.imports import batch
from surveil.services.records import results
from tests.web.seed import make_patient, make_user

COVERED = frozenset(
    {"surveil.services.imports.batch.import_csv", "surveil.services.imports.batch.rollback_import"}
)
SHELL_COVERED = frozenset({"import csv", "import rollback"})

NINA = Actor(username="nina", role="navigator", clinic="north", channel=Channel.CLI)
CLARA = Actor(username="clara", role="clinician", clinic="north", channel=Channel.CLI)
TODAY = dt.date(2026, 6, 10)


@pytest.fixture(autouse=True)
def world(engine: sa.Engine) -> None:
    with Session(engine) as session:
        make_user(session, "nina", role="navigator", clinic="north")
        make_user(session, "clara", role="clinician", clinic="north")
        make_user(session, "sam", role="navigator", clinic="south")
        make_patient(session, "N-100", clinic="north", navigator="nina")
        make_patient(session, "S-200", clinic="south", navigator="sam")
        session.commit()


def _snapshot(engine: sa.Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.name: session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


def _import(
    engine: sa.Engine, settings: Settings, kind: str, text: str | bytes, **kw: object
) -> batch.ImportReport:
    content = text.encode() if isinstance(text, str) else text
    fields: dict[str, object] = {"actor": NINA, "kind": kind, "content": content,
                                 "filename": f"{kind}.csv", "clinic": "north", "dry_run": False,
                                 "settings": settings, "today": TODAY}  # fmt: skip
    fields.update(kw)
    return batch.import_csv(engine, **fields)  # type: ignore[arg-type]


def _rollback(engine: sa.Engine, settings: Settings, actor: Actor, batch_id: int) -> int:
    now = dt.datetime.now(dt.UTC)
    return batch.rollback_import(
        engine, actor=actor, batch_id=batch_id, now=now, settings=settings, today=TODAY
    )


BAD_MEASUREMENTS = "\n".join((
    "mrn,lesion,date,diameter_mm,modality",
    "N-100,L1,2026-01-10,10,mri",          # row 2: good, stored first by the test
    "N-999,L1,2026-01-10,10,mri",          # 3 unknown MRN
    ",L1,2026-01-10,10,mri",               # 4 no MRN
    "N-100,L2,2025-13-01,10,mri",          # 5 not a real date
    "N-100,L2,2027-01-01,10,mri",          # 6 in the future
    "N-100,L2,1950-01-01,10,mri",          # 7 before the birth date
    "N-100,L2,2026-01-10,abc,mri",         # 8 not a number
    "N-100,L2,2026-01-11,-3,mri",          # 9 negative
    "N-100,L2,2026-01-12,0,mri",           # 10 zero
    "N-100,L2,2026-01-13,900,mri",         # 11 implausibly large
    "N-100,L2,2026-01-14,10,xray",         # 12 unknown modality
    "N-100,,2026-01-15,10,mri",            # 13 no lesion
    "N-100,L\x01,2026-01-16,10,mri",       # 14 control character
    "N-100,L2,31.12.2025,10,mri",          # 15 a date in no accepted format
    "N-100,L1,2026-01-10,11,mri",          # 16 differs from the stored value for this key
    "S-200,L1,2026-01-10,10,mri",          # 17 another clinic's patient
    "N-100," + "L" * 40 + ",2026-01-17,10,mri",  # 18 label too long
    "N-100,L3",                            # 19 short row: date, diameter, modality missing
))  # fmt: skip
BAD_MARKERS = "\n".join((
    "mrn,marker,date,value,unit,uln",
    "N-100,mri,2026-01-10,10,ng/mL,100",   # 2 not a marker
    "N-100,cga,2026-01-10,-5,ng/mL,100",   # 3 negative value
    "N-100,cga,2026-01-11,50,ng/mL,0",     # 4 upper limit not positive
    "N-100,foo,2026-01-12,50,ng/mL,",      # 5 unknown name
    "N-100,cga,2026-01-13,,ng/mL,",        # 6 no value
))  # fmt: skip
BAD_PATIENTS = "\n".join((
    "mrn,given_name,family_name,birth_date,site,ki67,state,since",
    "N-100,Someone,Else,1960-02-29,pancreas,2,active_surveillance,2024-01-10",  # 2 other name
    "N-300,Lin,Cho,1970-05-01,liver,2,active_surveillance,2024-01-10",  # 3 not a NET site
    "N-301,Lin,Cho,1970-05-01,pancreas,140,active_surveillance,2024-01-10",  # 4 Ki-67 > 100
    "N-302,Lin,Cho,1970-05-01,pancreas,2,sleeping,2024-01-10",  # 5 unknown state
    "N-303,,Cho,1970-05-01,pancreas,2,active_surveillance,2024-01-10",  # 6 no given name
))  # fmt: skip


def test_every_bad_row_is_reported_at_once_and_nothing_is_written(
    engine: sa.Engine, settings: Settings
) -> None:
    _import(engine, settings, "measurements", BAD_MEASUREMENTS.splitlines()[0] + "\n"
            + BAD_MEASUREMENTS.splitlines()[1])  # fmt: skip
    for kind, text, bad_rows in (
        ("measurements", BAD_MEASUREMENTS, range(3, 20)),
        ("markers", BAD_MARKERS, range(2, 7)),
        ("patients", BAD_PATIENTS, range(2, 7)),
    ):
        before = _snapshot(engine)
        with pytest.raises(InvalidInput) as raised:
            _import(engine, settings, kind, text)
        fields = [p.field for p in raised.value.problems]
        rows = {int(f.split(",")[0].removeprefix("row ")) for f in fields}
        assert rows == set(bad_rows), (kind, fields)
        assert all(", column " in f for f in fields)
        assert _snapshot(engine) == before, kind
    # 17 + 5 + 5 = 27 bad rows of more than twenty kinds; a few words checked:
    with pytest.raises(InvalidInput) as raised:
        _import(engine, settings, "measurements", BAD_MEASUREMENTS)
    said = {p.field: p.message for p in raised.value.problems}
    assert "no patient with this MRN" in said["row 3, column mrn"]
    assert "no patient with this MRN" in said["row 17, column mrn"]  # not "another clinic's"
    assert "differs from the value already stored" in said["row 16, column diameter_mm"]
    assert "xray" in said["row 12, column modality"]
    assert "U+0001" in said["row 14, column lesion"]


def test_file_level_problems_are_named(engine: sa.Engine, settings: Settings) -> None:
    for content, field in (
        (b"mrn,lesion\xff\n", "file"),
        (b"", "file"),
        (b"mrn,lesion,date,diameter_mm\n", "modality"),
        (b"mrn,lesion,date,diameter_mm,modality,colour\n", "colour"),
        (b"mrn,mrn,lesion,date,diameter_mm,modality\n", "mrn"),
    ):
        with pytest.raises(InvalidInput) as raised:
            _import(engine, settings, "measurements", content)
        assert field in [p.field for p in raised.value.problems], raised.value


def test_bom_semicolons_local_dates_dry_run_idempotence_and_audit(
    engine: sa.Engine, settings: Settings
) -> None:
    text = "\ufeffmrn;lesion;date;diameter_mm;modality\nN-100;L1;02/01/2026;10;mri\n"
    text += "N-100;L1;10/05/2026;16;mri\n"
    before = _snapshot(engine)
    preview = _import(engine, settings, "measurements", text, dry_run=True,
                      date_format="%d/%m/%Y")  # fmt: skip
    assert (preview.created, preview.skipped, preview.batch_id) == (2, 0, None)
    assert "growth_rate" in preview.new_triggers  # 10 → 16 mm in four months
    assert _snapshot(engine) == before
    done = _import(engine, settings, "measurements", text, date_format="%d/%m/%Y")
    assert done.created == 2 and done.batch_id is not None
    with Session(engine) as session:
        days = session.exec(select(m.Measurement.date).order_by(m.Measurement.date)).all()
        assert days == [dt.date(2026, 1, 2), dt.date(2026, 5, 10)]
        events = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "import.committed")
        ).all()
        assert {(e.actor, e.channel) for e in events} == {("nina", "import")}
        assert len(events) == 2  # the batch, and the one patient it touched
        stored = session.get(m.ImportBatch, done.batch_id)
        assert stored is not None and stored.created == 2 and stored.file_sha256 == done.file_sha256
    after = _snapshot(engine)
    again = _import(engine, settings, "measurements", text, date_format="%d/%m/%Y")
    assert (again.created, again.skipped, again.batch_id) == (0, 2, None)
    assert _snapshot(engine) == after  # re-importing the same file changes nothing


def test_rollback_undoes_a_batch_unless_something_newer_depends_on_it(
    engine: sa.Engine, settings: Settings
) -> None:
    patients = "mrn,given_name,family_name,birth_date,site,ki67,state,since\n"
    patients += "N-300,Lin,Cho,1970-05-01,pancreas,2,active_surveillance,2024-01-10\n"
    first = _import(engine, settings, "patients", patients)
    markers = "mrn,marker,date,value\nN-300,cga,2026-01-10,50\nN-100,cga,2026-01-10,60\n"
    second = _import(engine, settings, "markers", markers)
    assert first.batch_id and second.batch_id
    with pytest.raises(Conflict, match="roll it back first"):
        _rollback(engine, settings, NINA, first.batch_id)
    with pytest.raises(PermissionDenied):
        _rollback(engine, settings, CLARA, second.batch_id)
    deleted = _rollback(engine, settings, NINA, second.batch_id)
    assert deleted == 2
    with Session(engine) as session:
        assert session.exec(select(m.MarkerResult)).all() == []
    with pytest.raises(Conflict, match="already rolled back"):
        _rollback(engine, settings, NINA, second.batch_id)
    # A person's change to the imported patient since: the patient batch stays.
    results.record_marker(
        engine, actor=NINA, mrn="N-300", clinic="north", name="cga", value="55",
        date="2026-02-01", settings=settings, today=TODAY,
    )  # fmt: skip
    with pytest.raises(Conflict, match="changed since"):
        _rollback(engine, settings, NINA, first.batch_id)


def test_the_command_line(
    db_url: str, engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    monkeypatch.setenv("SURVEIL_CLINIC_NAME", "north")
    for name in ("SURVEIL_CONFIG", "SURVEIL_USER"):
        monkeypatch.delenv(name, raising=False)
    file = tmp_path / "markers.csv"
    file.write_text("mrn,marker,date,value\nN-100,cga,2026-01-10,60\n", encoding="utf-8")
    runner = CliRunner()
    preview = runner.invoke(cli, ["--as", "nina", "import", "csv", str(file), "--kind", "markers",
                                  "--dry-run"])  # fmt: skip
    assert preview.exit_code == 0, preview.output
    assert "would add 1" in preview.output
    done = runner.invoke(cli, ["--as", "nina", "import", "csv", str(file), "--kind", "markers"])
    assert done.exit_code == 0 and "batch" in done.output, done.output
    with Session(engine) as session:
        batch_id = session.exec(select(m.ImportBatch.id)).one()
    back = runner.invoke(cli, ["--as", "nina", "import", "rollback", str(batch_id)])
    assert back.exit_code == 0 and "1 rows deleted" in back.output, back.output
    monkeypatch.setenv("SURVEIL_INTEROP_IMPORT_DATE_FORMAT", "%d/%m/%Y")  # the configured format
    file.write_text("mrn,marker,date,value\nN-100,cga,11/01/2026,61\n", encoding="utf-8")
    local = runner.invoke(cli, ["--as", "nina", "import", "csv", str(file), "--kind", "markers"])
    assert local.exit_code == 0, local.output
    with Session(engine) as session:
        assert session.exec(select(m.MarkerResult.date)).all() == [dt.date(2026, 1, 11)]
    file.write_text("mrn,marker,date,value\nN-100,cga,2026-01-10,-1\n", encoding="utf-8")
    bad = runner.invoke(cli, ["--as", "nina", "import", "csv", str(file), "--kind", "markers"])
    assert bad.exit_code == 2 and "row 2, column value" in bad.output


def test_the_documented_templates_import(engine: sa.Engine, settings: Settings) -> None:
    folder = Path(__file__).resolve().parents[2] / "docs" / "import"
    for kind in ("patients", "pathology", "measurements", "markers", "therapies"):
        report = _import(engine, settings, kind, (folder / f"{kind}.csv").read_bytes())
        rows = 2 if kind == "patients" else 1  # a pancreatic NET, a typical lung carcinoid N0
        assert (report.rows, report.created) == (rows, rows), kind
    with Session(engine) as session:
        lung = session.exec(select(m.Tumour).join(m.Patient).where(m.Patient.mrn == "100235")).one()
    assert (lung.site, lung.carcinoid_type, lung.node_status) == ("lung", "typical", "N0")


DETAILS = "\n".join((
    "mrn,given_name,family_name,birth_date,site,size_mm,state,since,resection,node_status,"
    "adverse_histology,carcinoid_type,gastric_type,carcinoid_heart_disease",
    'D-1,Ann,Lee,1970-05-01,rectum,15,resected,2025-02-01,R0,N1,"lvi,muscularis",,,',
    "D-2,Bo,Kim,1965-01-02,stomach,8,active_surveillance,2025-03-01,,,none,,type_1,",
    "D-3,Cy,Ng,1959-07-03,small_bowel,22,resected,2025-04-01,R0,N1,,,,yes",
    "D-4,Di,Ho,1972-09-04,thymus,30,resected,2025-05-01,R0,N0,,atypical,,no",
))  # fmt: skip


def test_the_2027_tumour_facts_import_with_patients(engine: sa.Engine, settings: Settings) -> None:
    report = _import(engine, settings, "patients", DETAILS)
    assert (report.rows, report.created) == (4, 4)
    with Session(engine) as session:
        rows = session.exec(
            select(m.Patient.mrn, m.Tumour).join(m.Tumour).where(m.Patient.mrn.startswith("D-"))
        ).all()
    got = {
        mrn: (t.node_status, t.adverse_histology, t.carcinoid_type, t.gastric_type,
              t.carcinoid_heart_disease)
        for mrn, t in rows
    }  # fmt: skip
    assert got == {
        "D-1": ("N1", "lvi,muscularis", None, None, None),
        "D-2": (None, "", None, "type_1", None),  # "none": reported, none seen
        "D-3": ("N1", None, None, None, True),
        "D-4": ("N0", None, "atypical", None, False),
    }
    # Re-importing the same file changes nothing.
    again = _import(engine, settings, "patients", DETAILS)
    assert (again.rows, again.created) == (4, 0)


def test_a_bad_2027_tumour_fact_names_its_row_and_column(
    engine: sa.Engine, settings: Settings
) -> None:
    before = _snapshot(engine)
    text = "\n".join((
        "mrn,given_name,family_name,birth_date,site,state,since,node_status,gastric_type,"
        "carcinoid_heart_disease,adverse_histology",
        "E-1,Ann,Lee,1970-05-01,stomach,active_surveillance,2025-02-01,N3,type_4,maybe,lvx",
    ))  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        _import(engine, settings, "patients", text)
    message = str(refused.value)
    for column in ("node_status", "gastric_type", "carcinoid_heart_disease", "adverse_histology"):
        assert f"row 2, column {column}" in message, column
    assert _snapshot(engine) == before
