"""Short words a nurse reads on screen for item and trigger kinds and disease states (web pages,
CLI, CSV): "RECIST progression", never "Recist"; "SSA injection overdue", never "Ssa overdue"."""

from surveil.core.findings import TriggerKind
from surveil.core.vocab import ItemKind, StateKind

ITEM_LABELS: dict[str, str] = {
    ItemKind.MRI: "MRI",
    ItemKind.CT: "CT",
    ItemKind.CT_OR_MRI: "CT or MRI",
    ItemKind.SSTR_PET: "SSTR PET",
    ItemKind.FDG_PET: "FDG PET",
    ItemKind.EUS: "Endoscopic ultrasound",
    ItemKind.ENDOSCOPY: "Endoscopy",
    ItemKind.ECHOCARDIOGRAM: "Echocardiogram",
    ItemKind.CGA: "Chromogranin A",
    ItemKind.NSE: "NSE",
    ItemKind.HIAA5: "Urinary 5-HIAA",
    ItemKind.GASTRIN: "Gastrin",
    ItemKind.INSULIN: "Insulin",
    ItemKind.GLUCOSE: "Fasting glucose",
    ItemKind.GLUCAGON: "Glucagon",
    ItemKind.VIP: "VIP",
    ItemKind.ACTH: "ACTH",
    ItemKind.PP: "Pancreatic polypeptide",
    ItemKind.CALCIUM: "Calcium",
    ItemKind.PTH: "PTH",
    ItemKind.PROLACTIN: "Prolactin",
    ItemKind.IGF1: "IGF-1",
    ItemKind.NTPROBNP: "NT-proBNP",
    ItemKind.LABS: "Blood tests",
    ItemKind.SSA_INJECTION: "SSA injection",
    ItemKind.PRRT_CYCLE: "PRRT cycle",
    ItemKind.CLINIC_VISIT: "Clinic visit",
    ItemKind.TUMOUR_BOARD: "Tumour board",
}

TRIGGER_LABELS: dict[str, str] = {
    TriggerKind.GROWTH_RATE: "Growth rate",
    TriggerKind.SIZE: "Size threshold",
    TriggerKind.RECIST: "RECIST progression",
    TriggerKind.MARKER_RISE: "Marker rise",
    TriggerKind.GRADE_CHANGE: "Grade change",
    TriggerKind.SYMPTOMS: "New symptoms",
    TriggerKind.SSA_OVERDUE: "SSA injection overdue",
}

STATE_LABELS: dict[str, str] = {
    StateKind.ACTIVE_SURVEILLANCE: "active surveillance",
    StateKind.RESECTED: "resected",
    StateKind.ADVANCED: "advanced disease",
    StateKind.DISCHARGED: "discharged",
}


def kind_label(kind: str) -> str:
    return ITEM_LABELS.get(kind, kind.replace("_", " ").capitalize())


def trigger_label(kind: str) -> str:
    return TRIGGER_LABELS.get(kind, kind.replace("_", " ").capitalize())


def state_label(kind: str | None) -> str:
    if not kind:
        return "no state recorded"
    return STATE_LABELS.get(kind, kind.replace("_", " "))
