"""The second factor's tables: a user's TOTP secret and their single-use recovery codes.

The TOTP secret is the shared key of RFC 6238: it is never logged (the engine hides SQL
parameters) and never shown again after enrolment. ``last_step`` is the 30-second step of the
last code accepted, so the same code (or an older one) cannot be replayed. Recovery codes are
random (50 bits), so a SHA-256 digest is enough to store them (ASVS 6.5.2: hashed at rest).
"""

import datetime as dt

from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk


class SecondFactor(SQLModel, table=True):
    __tablename__ = "second_factor"

    user_id: int = Field(primary_key=True, foreign_key="user_account.id", ondelete="CASCADE")
    secret: str = Field(max_length=64)  # base32, as authenticator apps take it
    confirmed_at: dt.datetime | None = None  # None while enrolment waits for its first code
    last_step: int | None = None  # unix time // 30 of the last accepted code (replay)
    created_at: dt.datetime = created_field()


class RecoveryCode(SQLModel, table=True):
    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("user_account.id")
    code_hash: str = Field(max_length=64)  # sha256 hex of the normalised code
    used_at: dt.datetime | None = None
    created_at: dt.datetime = created_field()
