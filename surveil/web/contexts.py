"""One dataclass per HTML page: the template's whole world is ``page`` (and ``page.frame``).

Templates only loop, branch and format; anything computed (URLs with filters, chart geometry,
labels) is computed here or in the route, where it can be tested.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from surveil.db import models as m
from surveil.services.registry.record import PatientRecord
from surveil.services.registry.search import FoundPatient, PatientList
from surveil.services.reminders.unmatched_replies import UnmatchedSection
from surveil.services.worklist.hl7_waiting import WaitingSection
from surveil.services.worklist.sections import Section, Worklist
from surveil.web.charts import Chart


@dataclass(frozen=True)
class Flash:
    kind: str  # "ok" or "error"
    text: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Frame:
    """What every page shares: who is logged in, the CSRF token, messages, where we are."""

    user: m.User | None
    csrf: str
    flashes: tuple[Flash, ...]
    section: str  # which navigation entry is current
    clinic_name: str
    path: str  # this page, for forms to come back to
    search: str = ""  # what the header's patient search box holds

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.role == m.Role.ADMIN


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool = False


@dataclass(frozen=True)
class LoginPage:
    frame: Frame
    next: str
    username: str = ""
    error: str = ""


@dataclass(frozen=True)
class SectionView:
    section: Section
    focus_url: str  # "show all" / this section alone
    prev_url: str | None = None
    next_url: str | None = None


@dataclass(frozen=True)
class WorklistPage:
    frame: Frame
    worklist: Worklist
    sections: tuple[SectionView, ...]
    today: dt.date
    is_today: bool
    navigators: tuple[Option, ...]
    sites: tuple[Option, ...]
    kinds: tuple[Option, ...]
    clinics: tuple[Option, ...]  # empty unless the user may choose
    search: str
    csv_url: str
    overview_url: str
    snooze_max: dt.date
    snooze_default: dt.date
    mine: bool = False  # the page shows the user's own patients
    scope_url: str = ""  # the same page for the whole clinic (or back to "my patients")
    hl7: WaitingSection | None = None  # HL7 messages waiting (the overview only)
    unknown_senders: UnmatchedSection | None = None  # replies nobody's number matched (same)


@dataclass(frozen=True)
class ItemView:
    item: m.FollowUpItem
    label: str
    status: str  # e.g. "overdue by 12 days", "due now", "opens in 20 days"
    tone: str  # css: overdue / due / soon / later / closed
    is_marker: bool
    is_imaging: bool
    modality: str


@dataclass(frozen=True)
class PatientPage:
    frame: Frame
    record: PatientRecord
    age: int
    grade: str
    open_items: tuple[ItemView, ...]
    closed_items: tuple[ItemView, ...]
    growth_charts: tuple[Chart, ...]
    marker_charts: tuple[Chart, ...]
    today: dt.date
    snooze_max: dt.date
    snooze_default: dt.date
    modalities: tuple[str, ...]
    feeds: Any = None  # filled by the calendar-feed extension (templates/web/patients/_feeds.html)
    channel: str = ""  # the preferred channel in words
    reminders: str = ""  # whether reminders go to the patient now, and if not, why
    forms: Any = None  # the record's small forms, filled (web.record_forms.record_forms)
    care: Any = None  # results, therapies, corrections, outreach (web/result_forms.care_section)
    bookings: tuple[Any, ...] = ()  # booking attempts, newest first (patients/_bookings.html)
    hours: Any = None  # reminder hours and cadence (templates/web/patients/_reminder_hours.html)


@dataclass(frozen=True)
class FoundRow:
    """A patient-list row with its words worked out: state, next item and how it stands."""

    patient: FoundPatient
    state: str
    next_item: str
    next_status: str
    tone: str  # css: overdue / due / soon / later / closed / none


@dataclass(frozen=True)
class PatientListPage:
    frame: Frame
    found: PatientList
    rows: tuple[FoundRow, ...]
    prev_url: str | None
    next_url: str | None


@dataclass(frozen=True)
class UsersPage:
    frame: Frame
    users: tuple[m.User, ...]
    roles: tuple[str, ...]
    form: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditPage:
    frame: Frame
    events: tuple[m.AuditEvent, ...]
    total: int
    page: int
    pages: int
    actor: str
    action: str
    patient_id: str
    prev_url: str | None
    next_url: str | None
    mrn: str = ""
    mrns: dict[int, str] = field(default_factory=dict)  # patient id -> MRN, for the rows


@dataclass(frozen=True)
class ErrorPage:
    frame: Frame
    status: int
    title: str
    message: str
