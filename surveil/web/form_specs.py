"""The fields of the patient page's record-keeping forms, declared once: the page draws them
empty, and a refused post draws them again with what was typed and each problem beside its field
(a 422 page). The names are the services' field names, so a problem's field finds its input."""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from surveil.core.vocab import MARKER_KINDS, Resection, TherapyKind
from surveil.db.models_care import OutreachChannel, OutreachResult
from surveil.errors import Problem
from surveil.services.labels import kind_label
from surveil.services.outreach_words import RESULT_WORDS
from surveil.services.registry.patients import MODALITIES

Options = tuple[tuple[str, str], ...]  # (value, words)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = "text"  # text, decimal, date, select, check
    options: Options = ()
    required: bool = False
    hint: str = ""
    value: str = ""
    error: str = ""
    max_length: int = 100
    wide: bool = False


@dataclass(frozen=True)
class FormSpec:
    key: str  # e.g. "measurement": the form's id and test hook
    title: str
    action: str
    submit: str
    fields: tuple[FieldSpec, ...]
    problems: tuple[str, ...] = ()  # problems no field owns

    def refilled(self, values: Mapping[str, str], problems: Sequence[Problem]) -> "FormSpec":
        """The form as it was posted, each problem beside its field (the rest above the form)."""
        names = {f.name for f in self.fields}
        errors: dict[str, list[str]] = {}
        for p in problems:
            errors.setdefault(p.field if p.field in names else "", []).append(p.message)
        fields = tuple(
            replace(f, value=values.get(f.name, ""), error="; ".join(errors.get(f.name, ())))
            for f in self.fields
        )
        return replace(self, fields=fields, problems=tuple(errors.get("", ())))


def _opts(values: Sequence[str], words: Mapping[str, str] | None = None) -> Options:
    return tuple((v, (words or {}).get(v, v.replace("_", " "))) for v in values)


def measurement_form(pid: int, today: dt.date) -> FormSpec:
    return FormSpec(
        "measurement",
        "Record a lesion measurement",
        f"/patients/{pid}/measurements",
        "Save measurement",
        (
            FieldSpec("lesion", "Lesion", required=True, hint="e.g. L1; new labels are added"),
            FieldSpec("date", "Scan date", "date", required=True, value=str(today)),
            FieldSpec("diameter_mm", "Longest diameter (mm)", "decimal", required=True),
            FieldSpec("modality", "Modality", "select", _opts(MODALITIES), value="mri"),
        ),
    )


def marker_form(pid: int, today: dt.date) -> FormSpec:
    names = sorted(k.value for k in MARKER_KINDS)
    return FormSpec(
        "marker",
        "Record a marker result",
        f"/patients/{pid}/markers",
        "Save marker result",
        (
            FieldSpec(
                "name", "Marker", "select", tuple((n, kind_label(n)) for n in names), value="cga"
            ),
            FieldSpec("value", "Value", "decimal", required=True),
            FieldSpec("unit", "Unit", hint="e.g. ng/mL", max_length=16),
            FieldSpec("uln", "Upper limit of normal", "decimal"),
            FieldSpec("date", "Sample date", "date", required=True, value=str(today)),
            FieldSpec("on_ppi", "Taken on a proton-pump inhibitor", "check"),
        ),
    )


def therapy_form(pid: int, today: dt.date) -> FormSpec:
    return FormSpec(
        "therapy",
        "Record a therapy",
        f"/patients/{pid}/therapies",
        "Save therapy",
        (
            FieldSpec("kind", "Therapy", "select", _opts([k.value for k in TherapyKind])),
            FieldSpec("agent", "Drug or procedure", hint="e.g. lanreotide 120 mg", max_length=64),
            FieldSpec("started_on", "Started on", "date", required=True, value=str(today)),
            FieldSpec("ended_on", "Ended on", "date", hint="empty if ongoing"),
            FieldSpec("cycles_given", "Doses or cycles given so far", "decimal"),
            FieldSpec("last_given_on", "Last dose or cycle on", "date"),
            FieldSpec(
                "resection",
                "Surgery: resection margin",
                "select",
                (("", "not surgery / unknown"), *_opts([r.value for r in Resection])),
            ),
        ),
    )


def dose_form(pid: int, therapy_id: int, label: str, today: dt.date) -> FormSpec:
    return FormSpec(
        f"dose-{therapy_id}",
        f"Dose given: {label}",
        f"/patients/{pid}/therapies/{therapy_id}/doses",
        "Save dose",
        (
            FieldSpec("given_on", "Given on", "date", required=True, value=str(today)),
            FieldSpec("note", "Note", hint="e.g. site, batch", max_length=300),
        ),
    )


def symptom_form(pid: int, today: dt.date) -> FormSpec:
    return FormSpec(
        "symptom",
        "Record a symptom",
        f"/patients/{pid}/symptoms",
        "Save symptom",
        (
            FieldSpec("date", "Since", "date", required=True, value=str(today)),
            FieldSpec(
                "description", "What the patient reports", required=True, max_length=500, wide=True
            ),
        ),
    )


def strike_form(pid: int, what: str, row_id: int) -> FormSpec:
    plural = "measurements" if what == "measurement" else "markers"
    return FormSpec(
        f"strike-{what}-{row_id}",
        f"Strike out this {what.replace('marker', 'marker result')}",
        f"/patients/{pid}/{plural}/{row_id}/strike",
        "Strike out",
        (FieldSpec("reason", "Reason", required=True, max_length=250, hint="kept in history"),),
    )


def correct_form(pid: int, what: str, row_id: int) -> FormSpec:
    plural, field, label = (
        ("measurements", "diameter_mm", "Right diameter (mm)")
        if what == "measurement"
        else ("markers", "value", "Right value")
    )
    return FormSpec(
        f"correct-{what}-{row_id}",
        f"Correct this {what.replace('marker', 'marker result')}",
        f"/patients/{pid}/{plural}/{row_id}/correct",
        "Save correction",
        (
            FieldSpec(field, label, "decimal", required=True),
            FieldSpec("reason", "Reason", required=True, max_length=250, hint="kept in history"),
        ),
    )


def outreach_form(pid: int, items: Options) -> FormSpec:
    return FormSpec(
        "outreach",
        "Log a call, letter or message",
        f"/patients/{pid}/outreach",
        "Save contact",
        (
            FieldSpec("channel", "How", "select", _opts([c.value for c in OutreachChannel])),
            FieldSpec(
                "result",
                "Outcome",
                "select",
                _opts([r.value for r in OutreachResult], RESULT_WORDS),
            ),
            FieldSpec("item_id", "About", "select", (("", "nothing in particular"), *items)),
            FieldSpec("note", "Note", max_length=500, wide=True),
        ),
    )
