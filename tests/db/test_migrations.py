"""The migrated schema matches the models on both backends, and migrations reverse cleanly."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.db import migrate
from surveil.db import models as m


def test_migrated_schema_matches_models(engine: sa.Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.pending_changes(engine) == []


def test_upgrade_downgrade_upgrade(engine: sa.Engine) -> None:
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert "patient" not in sa.inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.pending_changes(engine) == []


def _patient(session: Session, mrn: str = "M1", clinic: str = "A") -> m.Patient:
    row = m.Patient(
        clinic=clinic, mrn=mrn, given_name="T", family_name="P", birth_date=dt.date(1970, 1, 1)
    )
    session.add(row)
    session.commit()
    return row


@pytest.mark.parametrize(
    "values",
    [{"ki67": 101.0}, {"ki67": -1.0}, {"site": "liver"}, {"grade": "G9"}, {"mitoses": -2.0}],
)
def test_database_refuses_impossible_tumours(session: Session, values: dict[str, object]) -> None:
    patient = _patient(session)
    session.add(m.Tumour(**{"patient_id": patient.id, "site": "pancreas", **values}))
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


def test_database_refuses_zero_diameter_and_orphans(session: Session) -> None:
    patient = _patient(session)
    lesion = m.Lesion(patient_id=patient.id, label="L1")
    session.add(lesion)
    session.commit()
    session.add(
        m.Measurement(lesion_id=lesion.id, date=dt.date(2025, 1, 1), modality="mri", diameter_mm=0)
    )
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()
    session.rollback()
    session.add(
        m.Measurement(lesion_id=999_999, date=dt.date(2025, 1, 1), modality="mri", diameter_mm=3)
    )
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


def test_mrn_unique_per_clinic_only(session: Session) -> None:
    _patient(session, "M1", "A")
    _patient(session, "M1", "B")  # the same MRN in another clinic is a different patient
    with pytest.raises(sa.exc.IntegrityError):
        _patient(session, "M1", "A")


def test_window_must_be_ordered(session: Session) -> None:
    patient = _patient(session)
    session.add(
        m.FollowUpItem(
            patient_id=patient.id,
            kind="mri",
            earliest=dt.date(2026, 5, 1),
            target=dt.date(2026, 4, 1),
            latest=dt.date(2026, 6, 1),
            rule_id="r",
            pack_id="p",
            pack_version="1",
            profile="default",
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


def test_timestamps_are_aware_utc(session: Session) -> None:
    patient = _patient(session)
    session.expire_all()
    loaded = session.get(m.Patient, patient.id)
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == dt.timedelta(0)


def test_every_foreign_key_has_an_index_that_starts_with_it() -> None:
    """A foreign key without an index makes every delete of its target scan the whole table
    (ON DELETE checks), which on a large registry takes minutes."""
    from sqlmodel import SQLModel

    missing = []
    for table in SQLModel.metadata.sorted_tables:
        leading = {index.columns[0].name for index in table.indexes if len(index.columns)}
        leading |= {
            constraint.columns[0].name
            for constraint in table.constraints
            if isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint)
            and len(constraint.columns)
        }
        missing += [
            f"{table.name}.{fk.parent.name}"
            for fk in table.foreign_keys
            if fk.parent.name not in leading
        ]
    assert not missing, f"foreign keys without an index: {missing}"


def test_a_migration_leaves_planner_statistics_behind(db_url: str) -> None:
    """After `surveil init` PostgreSQL's planner has statistics (pg_stat_user_tables shows an
    analyze), so the first worklist is not planned blind; SQLite is left without them on
    purpose (its statements are written for the planner without statistics)."""
    from surveil.db.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                tables = connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"
                ).all()
                assert not tables
            else:
                analysed = connection.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'patient' "
                    "AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"
                ).scalar_one()
                assert analysed == 1
    finally:
        engine.dispose()


def test_upgrade_fills_the_search_keys_of_patients_already_there(engine: sa.Engine) -> None:
    """0003 folds the names of patients enrolled before it, as the registry folds new ones."""
    migrate.downgrade(engine, "0002")
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO patient (clinic, mrn, given_name, family_name, birth_date, sex,"
                " timezone, preferred_channel, consent_reminders, opted_out, hereditary,"
                " plan_note, created_at, updated_at) VALUES (:clinic, :mrn, :given, :family,"
                " '1970-01-01', 'unknown', 'UTC', 'email', true, false, 'none', '',"
                " :at, :at)"
            ),
            [
                {"clinic": "A", "mrn": "M1", "given": "Zoë", "family": "Ørsted-Núñez", "at": at},
                {"clinic": "A", "mrn": "M2", "given": "Seán", "family": "O’Brien", "at": at},
            ],
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        keys = connection.execute(
            sa.text("SELECT mrn, search_name, search_given, language FROM patient ORDER BY mrn")
        ).all()
    assert [tuple(k) for k in keys] == [
        ("M1", "orsted nunez zoe", "zoe orsted nunez", None),
        ("M2", "obrien sean", "sean obrien", None),
    ]


def test_0016_marks_applied_only_what_its_command_replanned(engine: sa.Engine) -> None:
    """An activation in force the day it was recorded was replanned by its command: applied. One
    dated later stays pending, for the daemon's leader to apply on its day."""
    migrate.downgrade(engine, "0015")
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO user_account (username, display_name, role, clinic, password_hash,"
                " active, created_at) VALUES ('dr', 'Dr', 'clinician', 'A', '!', true, :at)"
            ),
            {"at": at},
        )
        user = connection.execute(sa.text("SELECT id FROM user_account")).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO protocol_activation (clinic, pack_id, version, profile,"
                " effective_on, action, approved_by_id, recorded_by, recorded_at)"
                " VALUES ('A', 'net-default', :version, 'default', :on, 'activate', :user,"
                " 'ann', :at)"
            ),
            [
                {"version": "2027.1", "on": dt.date(2026, 12, 1), "user": user, "at": at},
                {"version": "2027.2", "on": dt.date(2027, 1, 4), "user": user, "at": at},
            ],
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT version, applied_by, applied_at IS NOT NULL FROM protocol_activation"
                " ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("2027.1", "ann", True), ("2027.2", None, False)]
