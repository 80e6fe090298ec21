"""The tables of data going in and out (issue 16): bearer tokens for the JSON API, and the
batches of CSV imports with the rows each created. Re-exported by ``surveil.db.models``."""

import datetime as dt
from enum import StrEnum

from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, one_of


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API, acting as one user. Only the SHA-256 of the token is
    stored; ``public_id`` names it in lists and commands. The rate limit is counted here (a
    fixed one-minute window), so every web worker sees the same count."""

    __tablename__ = "api_token"
    __table_args__ = (one_of("scope", TokenScope),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("user_account.id")
    token_hash: str = Field(max_length=64, unique=True)
    public_id: str = Field(max_length=32, unique=True)
    scope: str = Field(max_length=8)
    label: str = Field(default="", max_length=64)
    created_by: str = Field(default="", max_length=64)
    created_at: dt.datetime = created_field()
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    window_start: dt.datetime | None = None
    window_count: int = 0


class ImportBatch(SQLModel, table=True):
    """One CSV import as committed: the file's hash, its counts and who imported it. The rows it
    created are listed in ``import_batch_row`` so that the batch can be rolled back whole."""

    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    filename: str = Field(default="", max_length=200)
    file_sha256: str = Field(max_length=64, index=True)
    clinic: str = Field(max_length=64)
    actor: str = Field(max_length=64)
    created_at: dt.datetime = created_field()
    rows: int = 0
    created: int = 0
    skipped: int = 0
    rolled_back_at: dt.datetime | None = None
    rolled_back_by: str | None = Field(default=None, max_length=64)


class ImportBatchRow(SQLModel, table=True):
    """A row an import created: its table and id (a patient, a measurement, a result...)."""

    __tablename__ = "import_batch_row"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = fk("import_batch.id")
    table_name: str = Field(max_length=32)
    row_id: int
