"""The registry: SQLModel tables with database-level constraints.

Clinical dates are ``date``; instants are aware UTC ``datetime``. Vocabularies are stored as text
and guarded by CHECK constraints, so a bad value is refused by the database itself, not only by
the application. Table names are singular nouns; constraints follow base.py's naming convention.
"""

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.core.vocab import (
    Differentiation,
    Functional,
    Grade,
    Hereditary,
    ItemKind,
    Resection,
    Site,
    Sstr,
    Stage,
    StateKind,
    TherapyKind,
)
from surveil.core.vocab import (
    ItemState as ItemState,  # re-exported: services say m.ItemState
)
from surveil.db.base import created_field, fk, one_of
from surveil.db.models_care import Correctable
from surveil.db.models_care import OutreachContact as OutreachContact  # re-exported
from surveil.db.models_care import TherapyDose as TherapyDose  # re-exported


class Role(StrEnum):
    NAVIGATOR = "navigator"
    CLINICIAN = "clinician"
    ADMIN = "admin"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    NONE = "none"


OPEN_ITEM_STATES = (ItemState.PLANNED, ItemState.ORDERED, ItemState.BOOKED)


class TriggerState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_TRIGGER_STATES = (TriggerState.OPEN, TriggerState.ACKNOWLEDGED)  # waiting for a clinician


def in_sql(column: str, values: tuple[StrEnum, ...]) -> str:
    """``column IN ('a', 'b')``: the predicate of a partial index. SQLite uses such an index
    only for a query that repeats the term with the same literal values in the same order
    (a bound parameter never matches), so the worklist renders these lists as literals."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def partial_index(name: str, *columns: str | sa.ColumnElement[object], where: str) -> sa.Index:
    """An index over the rows matching ``where`` only, on SQLite and PostgreSQL alike."""
    return sa.Index(name, *columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


OPEN_ITEMS_SQL = in_sql("state", OPEN_ITEM_STATES)


# --------------------------------------------------------------------------- people


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (one_of("role", Role),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    clinic: str = Field(max_length=64, index=True)
    password_hash: str = Field(max_length=256)
    email: str | None = Field(default=None, max_length=254)  # where the daily digest goes
    active: bool = True
    created_at: dt.datetime = created_field()
    # An administrator's password reset sets it: the next login must choose a new password.
    must_change_password: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})


class Patient(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("clinic", "mrn"),
        # The worklist's safety net walks a clinic's living patients: in id order to count them
        # (its probes into followup_item then read that index in order), by name to list them.
        partial_index("ix_patient_living", "clinic", "id", where="deceased_on IS NULL"),
        partial_index(
            "ix_patient_living_by_name",
            "clinic",
            "family_name",
            "given_name",
            "id",
            where="deceased_on IS NULL",
        ),
        # Finding a patient (services.registry.search): a prefix of the folded name is one range
        # over one of these, in order; the clinic rides along so a navigator's search filters
        # inside the index. A birth date is looked up the same way.
        sa.Index("ix_patient_search_name", "search_name", "clinic", "id"),
        sa.Index("ix_patient_search_given", "search_given", "clinic", "id"),
        sa.Index("ix_patient_birth_date", "birth_date", "clinic"),
        # A navigator's own worklist: their living patients in id order. The safety net walks
        # it, and each section's test "is this row's patient one of theirs?" reads only this
        # index, not the patient row: at 1M those probes were most of that page's time.
        partial_index(
            "ix_patient_living_by_navigator",
            *("navigator_id", "clinic", "id"),
            where="deceased_on IS NULL",
        ),
        # The worklist's "no owner" safety net: living patients nobody is assigned to, by name.
        partial_index(
            "ix_patient_no_owner",
            "clinic",
            "family_name",
            "given_name",
            "id",
            where="deceased_on IS NULL AND navigator_id IS NULL",
        ),
        one_of("sex", Sex),
        one_of("preferred_channel", Channel),
        one_of("hereditary", Hereditary),
        sa.CheckConstraint(
            "deceased_on IS NULL OR deceased_on >= birth_date", name="deceased_after_birth"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic: str = Field(max_length=64, index=True)
    mrn: str = Field(max_length=32, index=True)
    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100, index=True)
    birth_date: dt.date
    sex: str = Field(default=Sex.UNKNOWN, max_length=8)
    timezone: str = Field(default="Europe/London", max_length=64)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    preferred_channel: str = Field(default=Channel.EMAIL, max_length=8)
    language: str | None = Field(default=None, max_length=35)  # BCP 47, e.g. "en", "cy", "pt-BR"
    consent_reminders: bool = True
    opted_out: bool = False
    deceased_on: dt.date | None = None
    hereditary: str = Field(default=Hereditary.NONE, max_length=8)
    navigator_id: int | None = fk("user_account.id", nullable=True, ondelete="SET NULL")
    # The planner's verdict, kept so the safety net can tell "nothing needed" from "forgotten".
    no_follow_up_rule: str | None = Field(default=None, max_length=64)
    plan_note: str = Field(default="", max_length=300)
    planned_at: dt.datetime | None = None
    # The name folded for search (core.names.search_keys): family then given, and given then
    # family. Written with the name by the registry service; nobody types it.
    search_name: str = Field(default="", max_length=255)
    search_given: str = Field(default="", max_length=255)
    created_at: dt.datetime = created_field()
    updated_at: dt.datetime = created_field()
    # Issue #18: the patient's preferred hours for reminders, on their clock (both or neither;
    # inside the clinic's allowed hours). None: the clinic's send_time.
    send_window_start: dt.time | None = None
    send_window_end: dt.time | None = None


# --------------------------------------------------------------------------- disease


class Tumour(SQLModel, table=True):
    """The primary tumour. The WHO grade is derived and stored, never typed in."""

    __table_args__ = (
        one_of("site", Site),
        one_of("differentiation", Differentiation),
        one_of("grade", Grade),
        one_of("stage", Stage),
        one_of("sstr_status", Sstr),
        one_of("functional", Functional),
        sa.CheckConstraint("ki67 IS NULL OR (ki67 >= 0 AND ki67 <= 100)", name="ki67_range"),
        sa.CheckConstraint("mitoses IS NULL OR mitoses >= 0", name="mitoses_range"),
        sa.CheckConstraint("size_mm IS NULL OR size_mm > 0", name="size_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", ondelete="CASCADE", unique=True)
    site: str = Field(max_length=16)
    differentiation: str = Field(default=Differentiation.WELL, max_length=8)
    ki67: float | None = None
    mitoses: float | None = None
    grade: str = Field(default=Grade.GX, max_length=4)
    stage: str | None = Field(default=None, max_length=16)
    size_mm: float | None = None
    sstr_status: str = Field(default=Sstr.UNKNOWN, max_length=8)
    sstr_date: dt.date | None = None
    sstr_method: str | None = Field(default=None, max_length=64)
    functional: str = Field(default=Functional.NONE, max_length=24)
    diagnosed_on: dt.date | None = None
    # Optional facts of pack 2027.1 (migration 0015); NULL: not recorded.
    node_status: str | None = Field(default=None, max_length=4)
    adverse_histology: str | None = Field(default=None, max_length=64)  # "lvi,muscularis"; "": none
    carcinoid_type: str | None = Field(default=None, max_length=12)
    gastric_type: str | None = Field(default=None, max_length=8)
    carcinoid_heart_disease: bool | None = None


class PathologyResult(SQLModel, table=True):
    """A Ki-67 or mitotic count from a biopsy or specimen; the highest grade ever stands."""

    __table_args__ = (
        one_of("differentiation", Differentiation),
        sa.CheckConstraint("ki67 IS NULL OR (ki67 >= 0 AND ki67 <= 100)", name="ki67_range"),
        sa.CheckConstraint("mitoses IS NULL OR mitoses >= 0", name="mitoses_range"),
        sa.CheckConstraint("ki67 IS NOT NULL OR mitoses IS NOT NULL", name="has_a_count"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    date: dt.date
    ki67: float | None = None
    mitoses: float | None = None
    differentiation: str | None = Field(default=None, max_length=8)
    created_at: dt.datetime = created_field()


class DiseaseState(SQLModel, table=True):
    """One episode of a disease state; the open one (no end date) is current."""

    __table_args__ = (
        one_of("kind", StateKind),
        one_of("resection", Resection),
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="end_after_start"),
        # Who is discharged now: the worklist's safety net asks this of every patient.
        partial_index(
            "ix_diseasestate_discharged",
            "patient_id",
            where=f"end_date IS NULL AND kind = '{StateKind.DISCHARGED.value}'",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    kind: str = Field(max_length=24)
    start_date: dt.date
    end_date: dt.date | None = None
    resection: str | None = Field(default=None, max_length=4)
    reason: str = Field(default="", max_length=500)
    created_at: dt.datetime = created_field()


class Lesion(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("patient_id", "label"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    label: str = Field(max_length=32)
    location: str = Field(default="", max_length=100)
    created_at: dt.datetime = created_field()


class Measurement(Correctable, table=True):
    __table_args__ = (sa.CheckConstraint("diameter_mm > 0", name="diameter_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    lesion_id: int = fk("lesion.id")
    date: dt.date = Field(index=True)
    modality: str = Field(max_length=16)
    diameter_mm: float
    created_at: dt.datetime = created_field()


class MarkerResult(Correctable, table=True):
    __table_args__ = (
        one_of("name", ItemKind),
        sa.CheckConstraint("value >= 0", name="value_not_negative"),
        sa.CheckConstraint("uln IS NULL OR uln > 0", name="uln_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    name: str = Field(max_length=16)
    value: float
    unit: str = Field(default="", max_length=16)
    uln: float | None = None
    date: dt.date
    on_ppi: bool = False
    created_at: dt.datetime = created_field()


class Therapy(SQLModel, table=True):
    __table_args__ = (
        one_of("kind", TherapyKind),
        sa.CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="end_after_start"),
        sa.CheckConstraint("cycles_given IS NULL OR cycles_given >= 0", name="cycles_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    kind: str = Field(max_length=16)
    agent: str | None = Field(default=None, max_length=64)
    started_on: dt.date
    ended_on: dt.date | None = None
    cycles_given: int | None = None
    last_given_on: dt.date | None = None
    resection: str | None = Field(default=None, max_length=4)  # surgery: R0, R1 or R2
    created_at: dt.datetime = created_field()


class Symptom(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    date: dt.date
    description: str = Field(max_length=500)
    created_at: dt.datetime = created_field()


# --------------------------------------------------------------------------- plan


class FollowUpItem(SQLModel, table=True):
    """One planned follow-up with its due window and the rule that asked for it."""

    __tablename__ = "followup_item"
    __table_args__ = (
        one_of("kind", ItemKind),
        one_of("state", ItemState),
        sa.CheckConstraint("earliest <= target AND target <= latest", name="window_ordered"),
        sa.Index("ix_followup_item_open_target", "state", "target"),
        sa.Index("ix_followup_item_patient_state", "patient_id", "state"),
        sa.Index("ix_followup_item_open_latest", "state", "latest"),
        # What changed since a moment (the worklist as it was: services/reports/as_of.py).
        sa.Index("ix_followup_item_updated_at", "updated_at"),
        # The worklist's sections, each an index over open items in the section's own order, so
        # a page reads its ten rows (and a capped count its 1,001) off the front of the index
        # instead of sorting every open item: overdue and due by urgency then window end (see
        # below the class), lost by window end, opening soon by window start; "no open item at
        # all" probes by patient. After the order come the columns the section tests (patient,
        # state and booking, snooze): a count then reads only the index and the patients.
        partial_index(
            "ix_followup_item_open_by_latest",
            *("latest", "id", "patient_id", "state", "booked_at"),
            where=OPEN_ITEMS_SQL,
        ),
        partial_index(
            "ix_followup_item_open_by_earliest",
            *("earliest", "id", "patient_id", "state", "snoozed_until"),
            where=OPEN_ITEMS_SQL,
        ),
        partial_index("ix_followup_item_open_by_patient", "patient_id", where=OPEN_ITEMS_SQL),
        # The booking sections' (appointment time, id): booked items are a few of the open ones,
        # and walking every open item for them cost ~15-20 ms a statement at 100k patients.
        partial_index(
            "ix_followup_item_booked",
            *("booked_at", "id", "patient_id", "earliest", "latest"),
            where=f"state = '{ItemState.BOOKED.value}'",
        ),
        partial_index(
            "ix_followup_item_superseded_by",
            "superseded_by_id",
            where="superseded_by_id IS NOT NULL",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id", index=False)
    kind: str = Field(max_length=16)
    region: str | None = Field(default=None, max_length=32)  # e.g. pituitary MRI vs pancreas MRI
    earliest: dt.date
    target: dt.date
    latest: dt.date
    state: str = Field(default=ItemState.PLANNED, max_length=12)
    rule_id: str = Field(max_length=64)
    pack_id: str = Field(max_length=64)
    pack_version: str = Field(max_length=16)
    profile: str = Field(max_length=32)
    source: str = Field(default="", max_length=200)
    evidence: str = Field(default="", max_length=16)
    anchor_event: str = Field(default="", max_length=64)
    anchor_date: dt.date | None = None
    reason: str = Field(default="", max_length=500)
    urgent: bool = False
    booked_at: dt.datetime | None = None
    completed_on: dt.date | None = None
    outcome_note: str = Field(default="", max_length=500)
    snoozed_until: dt.date | None = None
    snooze_reason: str = Field(default="", max_length=300)
    # Indexed where set (ix_followup_item_superseded_by): deleting an item must find the rows
    # that point at it without scanning every item ever planned.
    superseded_by_id: int | None = fk(
        "followup_item.id", nullable=True, ondelete="SET NULL", index=False
    )
    superseded_reason: str = Field(default="", max_length=300)
    sequence: int = 0
    created_at: dt.datetime = created_field()
    updated_at: dt.datetime = created_field()


class PlanOverride(SQLModel, table=True):
    """A clinician's per-patient exception to the pack: it wins, and is shown as such."""

    __table_args__ = (
        one_of("kind", ItemKind),
        one_of("interval_unit", ("days", "weeks", "months")),
        sa.CheckConstraint(
            "interval_min IS NULL OR (interval_min > 0 AND interval_max >= interval_min)",
            name="interval_ordered",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    kind: str = Field(max_length=16)
    interval_min: int | None = None
    interval_max: int | None = None
    interval_unit: str | None = Field(default=None, max_length=8)
    modality: str | None = Field(default=None, max_length=16)
    paused_until: dt.date | None = None
    reason: str = Field(max_length=300)
    author: str = Field(max_length=64)
    active: bool = True
    created_at: dt.datetime = created_field()


class Trigger(SQLModel, table=True):
    """A finding that needs a clinician: open → acknowledged → resolved, never silently closed."""

    __table_args__ = (
        one_of("state", TriggerState),
        sa.UniqueConstraint("patient_id", "fingerprint"),
        sa.Index("ix_trigger_state", "state", "detected_on"),
        partial_index("ix_trigger_item", "item_id", where="item_id IS NOT NULL"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    kind: str = Field(max_length=16)
    subject_key: str = Field(max_length=96)  # kind:subject, e.g. growth_rate:L1 (one open each)
    fingerprint: str = Field(max_length=128)  # subject_key:evidence date (one record ever)
    lesion: str | None = Field(default=None, max_length=32)
    value: float | None = None
    threshold: float | None = None
    unit: str = Field(default="", max_length=16)
    confounded: bool = False
    urgent: bool = False
    action: str = Field(default="", max_length=300)
    detected_on: dt.date
    explanation: str = Field(max_length=600)
    state: str = Field(default=TriggerState.OPEN, max_length=12)
    # Indexed where set (ix_trigger_item), for the same reason as superseded_by_id.
    item_id: int | None = fk("followup_item.id", nullable=True, ondelete="SET NULL", index=False)
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledged_at: dt.datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: dt.datetime | None = None
    outcome: str | None = Field(default=None, max_length=300)
    created_at: dt.datetime = created_field()


# Indexes with a descending column, declared on the columns themselves so Alembic compares them
# (it skips text expressions on SQLite). SQLite reads an index only in its declared directions,
# all forwards or all backwards, so "urgent first, then the earliest window end" needs
# ``urgent DESC`` in the index. Triggers: urgent first, open before acknowledged ('open' >
# 'acknowledged', hence ``state DESC``), oldest finding first.
_item, _trigger = FollowUpItem.__table__.c, Trigger.__table__.c  # type: ignore[attr-defined]
partial_index(
    "ix_followup_item_open_by_urgency",
    _item.urgent.desc(),
    *(_item.latest, _item.id),
    *(_item.earliest, _item.patient_id, _item.state, _item.snoozed_until, _item.booked_at),
    where=OPEN_ITEMS_SQL,
)
partial_index(
    "ix_trigger_open_by_urgency",
    _trigger.urgent.desc(),
    _trigger.state.desc(),
    *(_trigger.detected_on, _trigger.id, _trigger.patient_id),
    where=in_sql("state", OPEN_TRIGGER_STATES),
)


# The audit trail (surveil/db/models_audit.py), re-exported: every caller says m.AuditEvent.
# The HL7 message store (issue 17) and the second factor's tables (issue 21) live beside this
# module; importing them here puts them on the metadata wherever the models are loaded (Alembic,
# tests, the app).
from surveil.db import hl7 as _hl7  # noqa: E402, F401
from surveil.db import second_factor as _second_factor  # noqa: E402, F401

# API tokens and CSV import batches (issue 16) live beside this module, which would pass 600
# lines; re-exported here so that every caller says m.ApiToken like any other table.
from surveil.db.interop_models import (  # noqa: E402
    ApiToken as ApiToken,
)
from surveil.db.interop_models import (  # noqa: E402
    ImportBatch as ImportBatch,
)
from surveil.db.interop_models import (  # noqa: E402
    ImportBatchRow as ImportBatchRow,
)
from surveil.db.interop_models import (  # noqa: E402
    TokenScope as TokenScope,
)
from surveil.db.models_audit import AuditEvent as AuditEvent  # noqa: E402

# --------------------------------------------------------------------------- decisions (issue 14)
# In their own module (this one would pass 600 lines); imported here so they share the metadata
# and services keep saying ``m.TriggerConsequence``.
from surveil.db.models_decisions import (  # noqa: E402
    ApplyWhen as ApplyWhen,
)
from surveil.db.models_decisions import (  # noqa: E402
    ConsequenceKind as ConsequenceKind,
)
from surveil.db.models_decisions import (  # noqa: E402
    ConsequenceStatus as ConsequenceStatus,
)
from surveil.db.models_decisions import (  # noqa: E402
    PatientMerge as PatientMerge,
)
from surveil.db.models_decisions import (  # noqa: E402
    TriggerConsequence as TriggerConsequence,
)

# The reminder outbox, the daemon's lease and heartbeat, and the feed tokens (issue 12's
# delivery tables) live beside this module; re-exported so that callers say ``m.Reminder``.
from surveil.db.models_delivery import (  # noqa: E402
    DaemonLease as DaemonLease,
)
from surveil.db.models_delivery import (  # noqa: E402
    DeliveryAttempt as DeliveryAttempt,
)
from surveil.db.models_delivery import (  # noqa: E402
    FeedToken as FeedToken,
)
from surveil.db.models_delivery import (  # noqa: E402
    Heartbeat as Heartbeat,
)
from surveil.db.models_delivery import (  # noqa: E402
    Reminder as Reminder,
)
from surveil.db.models_delivery import (  # noqa: E402
    ReminderState as ReminderState,
)

# Booking attempts and coded reasons (issue 14) live beside this module; imported here so that
# every table is registered on the metadata whoever imports the models.
from surveil.db.models_items import (  # noqa: E402
    BookingAttempt as BookingAttempt,
)
from surveil.db.models_items import (  # noqa: E402
    BookingStatus as BookingStatus,
)
from surveil.db.models_items import (  # noqa: E402
    BookingWindow as BookingWindow,
)
from surveil.db.models_items import (  # noqa: E402
    CodedReason as CodedReason,
)

# Issue 19: the claim table of a replan split between processes.
from surveil.db.models_replan import PlanInputChange as PlanInputChange  # noqa: E402
from surveil.db.models_replan import PlanMemo as PlanMemo  # noqa: E402
from surveil.db.models_replan import ReplanClaim as ReplanClaim  # noqa: E402

# Issue 18: patients' replies and stopped channels (surveil/db/models_replies.py).
from surveil.db.models_replies import ChannelOptOut as ChannelOptOut  # noqa: E402
from surveil.db.models_replies import InboundReply as InboundReply  # noqa: E402
from surveil.db.models_replies import ReplyKind as ReplyKind  # noqa: E402

# Issue 15: the protocol activation log lives in its own module (this one is near 600 lines).
from surveil.db.protocol_models import ProtocolActivation as ProtocolActivation  # noqa: E402

# The web app's sessions, login attempts and rate-limit counters live beside this module
# (surveil/db/web_models.py).
from surveil.db.web_models import LoginAttempt as LoginAttempt  # noqa: E402
from surveil.db.web_models import RateLimit as RateLimit  # noqa: E402
from surveil.db.web_models import WebSession as WebSession  # noqa: E402
