"""Benchmark: a patient-page form submit, end to end over HTTP, against the bare write.

    .venv/bin/python scripts/bench_forms.py sqlite:///.bench/registry-seed7-100000.db

``run(db_url)`` is what ``make bench`` calls. It logs in as the demo navigator (``nurse``) through
the real login form and times, with the real app (``create_app``, TestClient, templates):

- ``form_submit``: ``POST /patients/{id}/contact`` (the contact-details form, CSRF and all) for
  patients of the clinic picked at random (seeded), alternating two phone numbers so every
  submit changes something: the entry point's transaction writes the patient, audits, re-runs
  the triggers and replans that patient, and compares the plan before and after; the response is
  the 303 back to the patient page (not followed);
- ``service_call``: the same change through the entry point (``keeping.update_details``) called
  directly: the price of the one transaction (write, audit, triggers, replan, plan diff) alone;
- ``bare_update``: the same patients' phone set by one ``UPDATE patient`` and a commit on a raw
  DBAPI connection: the floor of "a write reached the database".

Target (issue 13): each form submit p95 < 150 ms. ``ratio_p95`` is form / bare in the same run;
``ratio_service_p95`` is form / service (what HTTP, the session and the shell add).
Side effects on ``db_url``: the chosen patients' phone numbers (one of two fixed numbers), their
audit rows (``patient.updated``) and whatever a replan of them reconciles; one login attempt.
"""

import random
import re
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session
from targets import below

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.services.actor import Actor
from surveil.services.records import keeping
from surveil.services.registry.patients import PatientInput
from surveil.web.app import create_app
from surveil.web.deps import clinic_today

USERNAME, PASSWORD = "nurse", "nurse-demo"  # the demo generator's navigator
ROUNDS = 100
WARMUP = 5
PATIENTS = 100  # distinct patients, cycled through the rounds
PHONES = ("+447700900001", "+447700900002")


def run(db_url: str, *, rounds: int = ROUNDS) -> dict[str, Any]:
    engine = make_engine(db_url)
    # A signing key of this run only: the app refuses to start without one.
    settings = Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key=secrets.token_urlsafe(48)),
    )
    try:
        patients = _patients(engine)
        app = create_app(settings, engine=engine)
        with TestClient(app) as client:
            token = _login(client)
            timed = {"form_submit": _time(_submitter(client, token, patients), rounds)}
        timed["service_call"] = _time(_service(engine, settings, patients), rounds)
        timed["bare_update"] = _time(_bare(engine, patients), rounds)
    finally:
        engine.dispose()
    form, bare = timed["form_submit"], timed["bare_update"]
    return {
        "patients_sampled": len(patients),
        **timed,
        "ratio_p50": round(form["p50"] / bare["p50"], 2),
        "ratio_p95": round(form["p95"] / bare["p95"], 2),
        "ratio_service_p95": round(form["p95"] / timed["service_call"]["p95"], 2),
        "met": {
            "form submit p95": below(
                form["p95"], 150, "ms", ratio=round(form["p95"] / bare["p95"], 2)
            )
        },
    }


def _patients(engine: sa.Engine) -> list[int]:
    """Living patients of the navigator's clinic, picked at random (seeded)."""
    with Session(engine) as session:
        user = session.exec(sa.select(m.User).where(m.User.username == USERNAME)).scalar_one()
        patient = m.Patient.__table__.c  # type: ignore[attr-defined]
        ids = list(
            session.execute(
                sa.select(patient.id).where(
                    patient.clinic == user.clinic, patient.deceased_on.is_(None)
                )
            ).scalars()
        )
    return random.Random(23).sample(ids, min(PATIENTS, len(ids)))


def _login(client: TestClient) -> str:
    """Log in as the demo navigator; returns the session's CSRF token for the forms."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token, "no CSRF field on the login page"
    response = client.post(
        "/login",
        data={"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise RuntimeError(f"cannot log in as the demo navigator {USERNAME!r}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/patients").text)
    assert found, "no CSRF field on the patient list"
    return found.group(1)


def _submitter(client: TestClient, token: str, patients: list[int]) -> Callable[[], None]:
    state = {"n": 0}

    def submit() -> None:
        n = state["n"] = state["n"] + 1
        patient = patients[n % len(patients)]
        response = client.post(
            f"/patients/{patient}/contact",
            data={"csrf_token": token, "phone": PHONES[(n // len(patients)) % 2], "email": ""},
            follow_redirects=False,
        )
        if response.status_code != 303:
            raise RuntimeError(f"POST contact of patient {patient}: {response.status_code}")

    return submit


def _service(engine: sa.Engine, settings: Settings, patients: list[int]) -> Callable[[], None]:
    with Session(engine) as session:
        user = session.exec(sa.select(m.User).where(m.User.username == USERNAME)).scalar_one()
        actor = Actor.of(user)
    state = {"n": 0}
    today = clinic_today(settings)

    def call() -> None:
        n = state["n"] = state["n"] + 1
        keeping.update_details(
            engine,
            actor=actor,
            patient_id=patients[n % len(patients)],
            data=PatientInput(phone=PHONES[(n // len(patients) + 1) % 2], email=""),
            settings=settings,
            today=today,
        )

    return call


def _bare(engine: sa.Engine, patients: list[int]) -> Callable[[], None]:
    state = {"n": 0}

    def update() -> None:
        n = state["n"] = state["n"] + 1
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
            cursor.execute(
                f"UPDATE patient SET phone = {marker} WHERE id = {marker}",
                (PHONES[(n // len(patients)) % 2], patients[n % len(patients)]),
            )
            connection.commit()
        finally:
            connection.close()

    return update


def _time(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50": round(statistics.median(samples), 2),
        "p95": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2),
    }


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    result = run(sys.argv[1])
    for name in ("form_submit", "service_call", "bare_update"):
        print(f"  {name:12} p50 {result[name]['p50']:8.2f} ms   p95 {result[name]['p95']:8.2f} ms")
    print(f"  form / bare  p50 {result['ratio_p50']}x   p95 {result['ratio_p95']}x")
    print(f"  met: {result['met']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
