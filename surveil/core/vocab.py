"""The controlled vocabularies shared by facts, protocols, the registry and the CLI."""

from enum import StrEnum


class Site(StrEnum):
    PANCREAS = "pancreas"
    SMALL_BOWEL = "small_bowel"
    RECTUM = "rectum"
    APPENDIX = "appendix"
    STOMACH = "stomach"
    DUODENUM = "duodenum"
    COLON = "colon"
    LUNG = "lung"
    THYMUS = "thymus"
    UNKNOWN = "unknown"


class NodeStatus(StrEnum):
    """Regional lymph nodes on the resection specimen (pN)."""

    N0 = "N0"
    N1 = "N1"


class CarcinoidType(StrEnum):
    """Lung and thymic carcinoids (WHO): typical or atypical."""

    TYPICAL = "typical"
    ATYPICAL = "atypical"


class GastricType(StrEnum):
    """Gastric NET types: 1 (atrophic gastritis), 2 (gastrinoma, MEN1), 3 (sporadic)."""

    TYPE_1 = "type_1"
    TYPE_2 = "type_2"
    TYPE_3 = "type_3"


class AdverseHistology(StrEnum):
    """Adverse features on the pathology report that change follow-up (rectum, appendix)."""

    LVI = "lvi"  # lymphovascular invasion
    MUSCULARIS = "muscularis"  # invasion of the muscularis propria
    MESOAPPENDIX = "mesoappendix"  # mesoappendiceal invasion over 3 mm


class Differentiation(StrEnum):
    WELL = "well"
    POOR = "poor"


class Grade(StrEnum):
    """WHO 2019 category. ``GX`` means well differentiated but not yet gradable."""

    G1 = "G1"
    G2 = "G2"
    G3 = "G3"
    NEC = "NEC"
    GX = "GX"


class Stage(StrEnum):
    LOCALIZED = "localized"
    REGIONAL = "regional"
    DISTANT = "distant"


class Functional(StrEnum):
    NONE = "none"
    CARCINOID_SYNDROME = "carcinoid_syndrome"
    INSULINOMA = "insulinoma"
    GASTRINOMA = "gastrinoma"
    GLUCAGONOMA = "glucagonoma"
    VIPOMA = "vipoma"
    ACTH = "acth"


class Sstr(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    UNKNOWN = "unknown"


class Hereditary(StrEnum):
    NONE = "none"
    MEN1 = "MEN1"
    VHL = "VHL"
    NF1 = "NF1"
    TSC = "TSC"


class Resection(StrEnum):
    R0 = "R0"
    R1 = "R1"
    R2 = "R2"


class TherapyKind(StrEnum):
    SURGERY = "surgery"
    SSA = "ssa"
    PRRT = "prrt"
    EVEROLIMUS = "everolimus"
    SUNITINIB = "sunitinib"
    CHEMOTHERAPY = "chemotherapy"
    LIVER_DIRECTED = "liver_directed"


class StateKind(StrEnum):
    ACTIVE_SURVEILLANCE = "active_surveillance"
    RESECTED = "resected"
    ADVANCED = "advanced"
    DISCHARGED = "discharged"


class ItemKind(StrEnum):
    MRI = "mri"
    CT = "ct"
    CT_OR_MRI = "ct_or_mri"
    SSTR_PET = "sstr_pet"
    FDG_PET = "fdg_pet"
    EUS = "eus"
    ENDOSCOPY = "endoscopy"
    ECHOCARDIOGRAM = "echocardiogram"
    CGA = "cga"
    NSE = "nse"
    HIAA5 = "5hiaa"
    GASTRIN = "gastrin"
    INSULIN = "insulin"
    GLUCOSE = "glucose"
    GLUCAGON = "glucagon"
    VIP = "vip"
    ACTH = "acth"
    PP = "pp"
    CALCIUM = "calcium"
    PTH = "pth"
    PROLACTIN = "prolactin"
    IGF1 = "igf1"
    NTPROBNP = "ntprobnp"
    LABS = "labs"
    SSA_INJECTION = "ssa_injection"
    PRRT_CYCLE = "prrt_cycle"
    CLINIC_VISIT = "clinic_visit"
    TUMOUR_BOARD = "tumour_board"


IMAGING_KINDS = frozenset(
    {
        ItemKind.MRI,
        ItemKind.CT,
        ItemKind.CT_OR_MRI,
        ItemKind.SSTR_PET,
        ItemKind.FDG_PET,
        ItemKind.EUS,
    }
)

MARKER_KINDS = frozenset(
    {
        ItemKind.CGA,
        ItemKind.NSE,
        ItemKind.HIAA5,
        ItemKind.GASTRIN,
        ItemKind.INSULIN,
        ItemKind.GLUCOSE,
        ItemKind.GLUCAGON,
        ItemKind.VIP,
        ItemKind.ACTH,
        ItemKind.PP,
        ItemKind.CALCIUM,
        ItemKind.PTH,
        ItemKind.PROLACTIN,
        ItemKind.IGF1,
        ItemKind.NTPROBNP,
    }
)

# Meetings of the care team about a patient (a tumour board, the MDT): the patient attends
# nothing, so no reminder or calendar entry ever calls one their appointment.
STAFF_MEETING_KINDS = frozenset({ItemKind.TUMOUR_BOARD})

# What a completed item of one kind satisfies besides itself.
SATISFIES: dict[ItemKind, frozenset[ItemKind]] = {
    ItemKind.MRI: frozenset({ItemKind.CT_OR_MRI}),
    ItemKind.CT: frozenset({ItemKind.CT_OR_MRI}),
}


class ItemState(StrEnum):
    """Where a stored follow-up item is in its life (its time-derived status is ItemStatus).

    Only ``planned`` items are re-derived by replanning; ordered and booked ones have a person
    acting on them; the rest are history.
    """

    PLANNED = "planned"
    ORDERED = "ordered"
    BOOKED = "booked"
    DONE = "done"
    DECLINED = "declined"
    NOT_NEEDED = "not_needed"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


class ItemStatus(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"


class Channel(StrEnum):
    """The way a change came in, recorded on its audit event."""

    WEB = "web"
    CLI = "cli"
    DAEMON = "daemon"
    IMPORT = "import"
    API = "api"
    HL7 = "hl7"
    SMS = "sms"  # a patient's text message (a reply to a reminder)
