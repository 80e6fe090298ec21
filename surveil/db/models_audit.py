"""The audit trail: one row per change to the registry, who made it, how it came in, and the
values before and after where they matter (``services.audit`` writes it). Beside ``models.py``
(near its 600-line limit) and re-exported there."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import fk, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    patient_id: int | None = fk("patient.id", nullable=True, ondelete="SET NULL")
    detail: str = Field(default="", max_length=1000)
    ip: str | None = Field(default=None, max_length=64)
    # How the change came in (web, cli, daemon, import, api, hl7), and for the CLI the operating
    # system account that ran the command beside the surveil user it acted as.
    channel: str = Field(default="web", max_length=16)
    os_user: str | None = Field(default=None, max_length=64)
    # The record changed ("measurement 12"), and its values before and after where it matters.
    subject: str | None = Field(default=None, max_length=64)
    before: str | None = Field(default=None, max_length=1000)
    after: str | None = Field(default=None, max_length=1000)
