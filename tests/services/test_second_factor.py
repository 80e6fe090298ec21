"""One way in for the second factor and passwords (issue 21): enrolment, login codes, replay,
clock skew, recovery codes, the administrator's resets, password change and the common-password
list, on SQLite and PostgreSQL. Every entry point leaves exactly its audit rows; a refusal leaves
nothing (or, for a wrong login code, only the counted failure)."""

import datetime as dt

import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import SecuritySettings, WebSettings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.second_factor import RecoveryCode, SecondFactor
from surveil.errors import Conflict, InvalidInput, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.users import password_policy, passwords, sessions, totp
from surveil.services.users.passwords import NewPassword
from tests.services.test_one_way_in_accounts import audited, nothing_written
from tests.web.seed import PASSWORD, make_user

COVERED: frozenset[str] = frozenset(
    f"surveil.services.users.{name}"
    for name in (
        "totp.start_enrolment",
        "totp.confirm_enrolment",
        "totp.verify_second_step",
        "totp.reset_second_factor",
        "passwords.change_password",
        "passwords.choose_new_password",
        "passwords.reset_password",
    )
)

NOW = dt.datetime(2026, 6, 10, 12, 0, 5, tzinfo=dt.UTC)
ADA = Actor(username="ada", role="admin", clinic="north", channel=Channel.CLI, os_user="ops")
CARL = Actor(username="carl", role="clinician", clinic="north", ip="10.0.0.8")
NINA = Actor(username="nina", role="navigator", clinic="north", ip="10.0.0.7")
WEB = WebSettings(secret_key="x" * 40, login_attempts=3)
NEW = "a brand new passphrase"


@pytest.fixture
def ids(engine: sa.Engine) -> dict[str, int]:
    with Session(engine) as session:
        users = {name: make_user(session, name, role=role, clinic="north")
                 for name, role in (("ada", "admin"), ("carl", "clinician"),
                                    ("nina", "navigator"))}  # fmt: skip
        session.commit()
        return {name: user.id for name, user in users.items() if user.id}


def code_at(secret: str, when: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def enrol(engine: sa.Engine, actor: Actor, when: dt.datetime = NOW) -> tuple[str, list[str]]:
    started = totp.start_enrolment(engine, actor=actor, issuer="surveil test")
    codes = totp.confirm_enrolment(
        engine, actor=actor, code=code_at(started.secret, when), now=when
    )
    return started.secret, codes


def second(engine: sa.Engine, user_id: int, code: str, when: dt.datetime = NOW) -> None:
    totp.verify_second_step(engine, user_id=user_id, code=code, ip="10.0.0.8", now=when,
                            settings=WEB)  # fmt: skip


def test_enrolment_is_audited_and_yields_ten_hashed_recovery_codes(
    engine: sa.Engine, ids: dict[str, int]
) -> None:
    subject = f"user:{ids['carl']}"
    with audited(engine, [("second_factor.enrolment_started", "carl", "web", None, subject)]):
        started = totp.start_enrolment(engine, actor=CARL, issuer="North NET")
    assert started.uri.startswith("otpauth://totp/North%20NET:carl?secret=")
    assert len(started.secret) == 32  # 160 bits (RFC 4226 recommends at least 128)
    again = totp.pending_enrolment(engine, actor=CARL, issuer="North NET")
    assert again is not None and again.secret == started.secret
    with nothing_written(engine), pytest.raises(InvalidInput, match="code: is not the current"):
        totp.confirm_enrolment(engine, actor=CARL, code="000000", now=NOW)
    with audited(engine, [("second_factor.enrolled", "carl", "web", None, subject)]) as events:
        codes = totp.confirm_enrolment(
            engine, actor=CARL, code=code_at(started.secret, NOW), now=NOW
        )
    assert events[0].after == '{"recovery_codes": 10, "second_factor": "totp"}'
    assert len(codes) == 10 and len(set(codes)) == 10
    with Session(engine) as session:
        stored = [r.code_hash for r in session.exec(select(RecoveryCode))]
        factor = session.get(SecondFactor, ids["carl"])
    assert len(stored) == 10 and not {c.replace("-", "") for c in codes} & set(stored)
    assert factor is not None and factor.confirmed_at is not None
    with nothing_written(engine), pytest.raises(Conflict, match="already set up"):
        totp.start_enrolment(engine, actor=CARL, issuer="x")
    status = totp.status(engine, username="carl", settings=SecuritySettings())
    assert (status.enrolled, status.required, status.recovery_codes_left) == (True, True, 10)


def test_login_code_accepts_skew_refuses_replay_and_counts_failures(
    engine: sa.Engine, ids: dict[str, int]
) -> None:
    secret, _ = enrol(engine, CARL, NOW - dt.timedelta(minutes=5))
    carl, subject = ids["carl"], f"user:{ids['carl']}"
    # One step behind (a phone 30 s slow) is accepted ...
    behind = code_at(secret, NOW - dt.timedelta(seconds=30))
    with audited(engine, [("login.second_factor_passed", "carl", "web", None, subject)]):
        second(engine, carl, behind)
    # ... the same code again is a replay, and so is an older one; two steps off is refused.
    for stale in (behind, code_at(secret, NOW - dt.timedelta(seconds=60)),
                  code_at(secret, NOW + dt.timedelta(seconds=90))):  # fmt: skip
        failed = [("login.second_factor_failed", "carl", "web", None, subject)]
        with audited(engine, failed), pytest.raises(totp.SecondStepRefused, match="not right"):
            second(engine, carl, stale)
    # Three failures (login_attempts) throttle the account from that address, codes or not;
    # a right password does not reset the count of wrong codes (else the password's holder
    # could guess codes without end), and another address does not either.
    with pytest.raises(totp.SecondStepRefused, match="Too many") as refused:
        second(engine, carl, code_at(secret, NOW))
    assert refused.value.throttled
    sessions.log_in(engine, username="carl", password=PASSWORD, ip="10.9.9.9", now=NOW,
                    settings=WEB)  # fmt: skip
    with pytest.raises(totp.SecondStepRefused, match="Too many"):
        totp.verify_second_step(engine, user_id=carl, code=code_at(secret, NOW), ip="10.9.9.9",
                                now=NOW, settings=WEB)  # fmt: skip
    with Session(engine) as session:
        attempts = session.exec(select(m.LoginAttempt).where(m.LoginAttempt.username == "carl"))
        assert [a.success for a in attempts] == [False, False, False, True]


def test_a_recovery_code_works_once(engine: sa.Engine, ids: dict[str, int]) -> None:
    _, codes = enrol(engine, CARL)
    subject = f"user:{ids['carl']}"
    with audited(engine, [("second_factor.recovery_code_used", "carl", "web", None, subject)]):
        second(engine, ids["carl"], codes[3].upper())  # typed in capitals: still the code
    failed = [("login.second_factor_failed", "carl", "web", None, subject)]
    with audited(engine, failed), pytest.raises(totp.SecondStepRefused):
        second(engine, ids["carl"], codes[3])
    assert (
        totp.status(engine, username="carl", settings=SecuritySettings()).recovery_codes_left == 9
    )


def test_who_must_enrol_and_the_login_steps(engine: sa.Engine, ids: dict[str, int]) -> None:
    rules = SecuritySettings()
    assert totp.login_step(engine, user_id=ids["carl"], settings=rules) == "enrol"
    assert totp.login_step(engine, user_id=ids["ada"], settings=rules) == "enrol"
    assert totp.login_step(engine, user_id=ids["nina"], settings=rules) is None
    strict = SecuritySettings(totp_for_navigators=True)
    assert totp.login_step(engine, user_id=ids["nina"], settings=strict) == "enrol"
    off = SecuritySettings(totp_required=False)
    assert totp.login_step(engine, user_id=ids["carl"], settings=off) is None
    enrol(engine, NINA)  # a navigator may enrol; then she is always asked
    assert totp.login_step(engine, user_id=ids["nina"], settings=rules) == "second-factor"


def test_admin_resets_a_second_factor(engine: sa.Engine, ids: dict[str, int]) -> None:
    enrol(engine, CARL)
    with nothing_written(engine), pytest.raises(PermissionDenied, match="only an administrator"):
        totp.reset_second_factor(engine, actor=NINA, username="carl")
    subject = f"user:{ids['carl']}"
    with audited(engine, [("second_factor.reset", "ada", "cli", None, subject)]):
        totp.reset_second_factor(engine, actor=ADA, username="carl")
    with Session(engine) as session:
        assert session.get(SecondFactor, ids["carl"]) is None
        assert not list(session.exec(select(RecoveryCode)))
    assert totp.login_step(engine, user_id=ids["carl"], settings=SecuritySettings()) == "enrol"


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("eleven char", "at least 12 characters"),
        ("1qaz2wsx3edc", "one of the most common passwords"),
        ("  Q1W2E3R4T5Y6 ", "one of the most common passwords"),  # case and spaces ignored
        ("x" * 257, "at most 256 characters"),
    ],
)
def test_password_policy(password: str, problem: str) -> None:
    found = password_policy.password_problems(password, field="new_password")
    assert [str(p) for p in found] == [f"new_password: must be {problem}"] or problem in str(found)


def test_shipped_list_has_ten_thousand_entries() -> None:
    common = password_policy.common_passwords()
    assert len(common) == 10_000 and "password" in common and "123456" in common
    assert not password_policy.is_common(PASSWORD)


def test_user_changes_their_password(engine: sa.Engine, ids: dict[str, int]) -> None:
    subject = f"user:{ids['nina']}"
    with nothing_written(engine), pytest.raises(InvalidInput) as refused:
        passwords.change_password(engine, actor=NINA, current_password="not it",
                                  new=NewPassword("1qaz2wsx3edc", "password12345"))  # fmt: skip
    assert [p.field for p in refused.value.problems] == [
        "current_password", "new_password", "confirm_password"]  # fmt: skip
    with audited(engine, [("user.password_changed", "nina", "web", None, subject)]) as events:
        passwords.change_password(engine, actor=NINA, current_password=PASSWORD,
                                  new=NewPassword(NEW, NEW))  # fmt: skip
    assert events[0].before is None and events[0].after is None  # never a hash in the audit
    sessions.log_in(engine, username="nina", password=NEW, ip="10.0.0.7", now=NOW, settings=WEB)
    with pytest.raises(sessions.accounts.LoginRefused):
        sessions.log_in(engine, username="nina", password=PASSWORD, ip="10.0.0.7", now=NOW,
                        settings=WEB)  # fmt: skip


def test_admin_reset_forces_a_change_at_next_login(engine: sa.Engine, ids: dict[str, int]) -> None:
    subject = f"user:{ids['nina']}"
    with nothing_written(engine), pytest.raises(PermissionDenied):
        passwords.reset_password(engine, actor=CARL, username="nina", temporary_password=NEW)
    with nothing_written(engine), pytest.raises(InvalidInput, match="most common"):
        passwords.reset_password(engine, actor=ADA, username="nina",
                                 temporary_password="1qaz2wsx3edc")  # fmt: skip
    with nothing_written(engine), pytest.raises(PermissionDenied, match="account page"):
        passwords.choose_new_password(engine, actor=NINA, new=NewPassword("another passphrase"))
    with audited(engine, [("user.password_reset", "ada", "cli", None, subject)]):
        passwords.reset_password(engine, actor=ADA, username="nina", temporary_password=NEW)
    rules = SecuritySettings()
    assert totp.login_step(engine, user_id=ids["nina"], settings=rules) == "new-password"
    with nothing_written(engine), pytest.raises(InvalidInput, match="differ from the temporary"):
        passwords.choose_new_password(engine, actor=NINA, new=NewPassword(NEW, NEW))
    with audited(engine, [("user.password_changed", "nina", "web", None, subject)]):
        passwords.choose_new_password(engine, actor=NINA, new=NewPassword("my own passphrase"))
    assert totp.login_step(engine, user_id=ids["nina"], settings=rules) is None


@pytest.mark.parametrize("typed", ["¹²³⁴⁵⁶", "١٢٣٤٥٦", "12345¹", "①②③④⑤⑥"])
def test_a_code_of_other_scripts_digits_is_a_wrong_code(
    engine: sa.Engine, ids: dict[str, int], typed: str
) -> None:
    """str.isdigit() accepts these and hmac.compare_digest refuses non-ASCII text with a
    TypeError: a code like this must be refused as wrong, and counted, not crash the login."""
    enrol(engine, CARL, NOW - dt.timedelta(minutes=5))
    subject = f"user:{ids['carl']}"
    failed = [("login.second_factor_failed", "carl", "web", None, subject)]
    with audited(engine, failed), pytest.raises(totp.SecondStepRefused, match="not right"):
        second(engine, ids["carl"], typed)


def test_the_right_code_in_fullwidth_digits_is_accepted(
    engine: sa.Engine, ids: dict[str, int]
) -> None:
    """A phone keyboard in a Japanese input mode types "１２３４５６"; it is the same code."""
    secret, _ = enrol(engine, CARL, NOW - dt.timedelta(minutes=5))
    wide = code_at(secret, NOW).translate({ord("0") + d: ord("０") + d for d in range(10)})
    assert not wide.isascii()
    subject = f"user:{ids['carl']}"
    with audited(engine, [("login.second_factor_passed", "carl", "web", None, subject)]):
        second(engine, ids["carl"], wide)
