"""The API's bodies: what a client sends (checked for shape here, for meaning by the services,
exactly as a form's fields are) and what it reads back."""

import datetime as dt
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from surveil.services.validate import control_character_problem

T = TypeVar("T")
Text = Annotated[str, Field(max_length=500)]
Number = Annotated[float | str, Field(union_mode="left_to_right")]


class Body(BaseModel):
    """Every request body: unknown fields refused, no control character in any text (a NUL
    would reach PostgreSQL half-way through a transaction)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        if isinstance(value, str) and (found := control_character_problem("text", value)):
            raise ValueError(found.message)
        return value


def text(value: float | str | None) -> str | None:
    """A number or a text as the services take it: the text a person would have typed."""
    if value is None or isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


class PatientFields(Body):
    given_name: Text | None = None
    family_name: Text | None = None
    birth_date: Text | None = Field(default=None, examples=["1962-03-14"])
    sex: Text | None = Field(default=None, examples=["female"])
    timezone: Text | None = Field(default=None, examples=["Europe/London"])
    email: Text | None = None
    phone: Text | None = None
    preferred_channel: Text | None = Field(default=None, examples=["email"])
    hereditary: Text | None = Field(default=None, examples=["none"])
    deceased_on: Text | None = None
    opted_out: bool | None = None
    navigator: Text | None = None


class TumourFields(Body):
    site: Text | None = Field(default=None, examples=["pancreas"])
    differentiation: Text | None = None
    ki67: Number | None = Field(default=None, examples=[2.5])
    mitoses: Number | None = None
    stage: Text | None = None
    size_mm: Number | None = Field(default=None, examples=[12])
    sstr_status: Text | None = None
    sstr_date: Text | None = None
    sstr_method: Text | None = None
    functional: Text | None = None
    diagnosed_on: Text | None = Field(default=None, examples=["2025-03-02"])
    # Pack 2027.1's optional facts, shaped as in the facts contract; "unknown" clears one.
    node_status: Text | None = Field(default=None, examples=["N0"])
    adverse_histology: list[Text] | Text | None = Field(
        default=None, examples=[["lvi"]], description='features; [] reported none; "unknown"'
    )
    carcinoid_type: Text | None = Field(default=None, examples=["atypical"])
    gastric_type: Text | None = Field(default=None, examples=["type_1"])
    carcinoid_heart_disease: bool | Text | None = None


def tumour_text(value: float | str | bool | list[str] | None) -> str | None:
    """A tumour field as the registry service takes it: a list of features as a comma list
    (empty: "none" seen), true/false as yes/no, numbers as typed."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(value) or "none"
    return text(value)


class NewPatient(PatientFields):
    mrn: Text = Field(examples=["100234"])
    tumour: TumourFields | None = None
    state: Text | None = Field(default=None, examples=["active_surveillance"])
    since: Text | None = None
    resection: Text | None = None


class NewState(Body):
    kind: Text = Field(examples=["post_resection"])
    since: Text = Field(examples=["2026-01-10"])
    resection: Text | None = None
    reason: Text = ""


class NewMeasurement(Body):
    lesion: Text = Field(examples=["L1"])
    date: Text = Field(examples=["2026-05-02"])
    diameter_mm: Number = Field(examples=[14])
    modality: Text = Field(examples=["mri"])


class NewMarker(Body):
    name: Text = Field(examples=["cga"])
    value: Number = Field(examples=[120])
    date: Text = Field(examples=["2026-05-02"])
    unit: Text = ""
    uln: Number | None = None
    on_ppi: bool = False


class NewTherapy(Body):
    kind: Text = Field(examples=["ssa"])
    started_on: Text = Field(examples=["2026-01-10"])
    agent: Text | None = None
    ended_on: Text | None = None
    cycles_given: Number | None = None
    last_given_on: Text | None = None


class Note(Body):
    note: Text = ""


class Booking(Body):
    date: Text = Field(examples=["2026-07-01"])
    time: Text = Field(examples=["09:30"])


class Done(Body):
    completed_on: Text | None = None
    lesion: Text | None = None
    diameter_mm: Number | None = None
    modality: Text | None = None
    marker_value: Number | None = None
    marker_unit: Text = ""
    marker_uln: Number | None = None
    on_ppi: bool = False
    note: Text = ""


class Reason(Body):
    reason: Text


class Snooze(Body):
    until: Text = Field(examples=["2026-07-01"])
    reason: Text


class Resolution(Body):
    outcome: Text = Field(examples=["tumour board: continue surveillance"])
    # A coded outcome from the clinic's [reasons] trigger_outcome list (e.g. false_alarm,
    # measurement_error: those revert every consequence the trigger applied).
    outcome_code: Text | None = None
    false_alarm: bool = False


# --------------------------------------------------------------------------- answers


class PatientSummary(BaseModel):
    mrn: str
    name: str
    birth_date: dt.date
    clinic: str
    timezone: str
    site: str | None
    grade: str | None
    state: str | None


class PatientDetail(PatientSummary):
    contact: dict[str, Any]
    deceased_on: dt.date | None
    hereditary: str | None
    tumour: dict[str, Any] | None
    states: list[dict[str, Any]]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


class Changed(BaseModel):
    message: str
    new_triggers: list[str] = []


class PlanItemOut(BaseModel):
    id: int
    kind: str
    region: str | None
    earliest: dt.date
    target: dt.date
    latest: dt.date
    status: str
    urgent: bool
    why: str
    rule_id: str
    source: str
    protocol: str
    booked_at: dt.datetime | None
    completed_on: dt.date | None
    snoozed_until: dt.date | None


class TriggerOut(BaseModel):
    id: int
    mrn: str
    kind: str
    lesion: str | None
    value: float | None
    threshold: float | None
    unit: str
    confounded: bool
    urgent: bool
    action: str
    detected_on: dt.date
    explanation: str
    state: str
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
    outcome: str | None
    item_id: int | None


class WorkRowOut(BaseModel):
    mrn: str
    patient: str
    what: str
    state: str
    urgent: bool
    timing: str
    detail: str
    earliest: dt.date | None
    target: dt.date | None
    latest: dt.date | None
    item_id: int | None
    trigger_id: int | None


class SectionOut(BaseModel):
    key: str
    title: str
    count: int
    capped: bool
    items: list[WorkRowOut]
    next_cursor: str | None


class MeasurementOut(BaseModel):
    id: int
    lesion: str
    date: dt.date
    diameter_mm: float
    modality: str


class MarkerOut(BaseModel):
    id: int
    name: str
    value: float
    unit: str
    uln: float | None
    date: dt.date
    on_ppi: bool


class TherapyOut(BaseModel):
    id: int
    kind: str
    agent: str | None
    started_on: dt.date
    ended_on: dt.date | None
    cycles_given: int | None
    last_given_on: dt.date | None


class AttemptOut(BaseModel):
    status: str  # sending, sent, retry, unknown, failed, suppressed or dry_run
    started_at: dt.datetime
    finished_at: dt.datetime | None
    response: str


class MessageOut(BaseModel):
    """One reminder to the patient: what became of it, every attempt, the patient's reply."""

    id: int
    channel: str
    state: str
    stage: str
    about: str
    template: str
    due_at: dt.datetime
    sent_at: dt.datetime | None
    reason: str
    possible_duplicate: bool
    attempts: list[AttemptOut]
    reply: str | None
