"""Every code the FHIR export sends, in one table: standard codes where one was checked, local
codes always.

A LOINC or SNOMED CT code goes out only where its meaning matches what surveil knows: a CgA
result reported in ug/L gets LOINC 9811-1 (mass concentration), one in nmol/L gets 25587-7
(substance concentration), and one in a unit surveil cannot place gets the local code alone.
Each coding also carries surveil's own code (``urn:surveil:*``), so a receiver can always map
it. ``docs/fhir.md`` lists the same table with where each code was checked, and which were
looked for and not found (no code here is a guess).
"""

from dataclasses import dataclass
from enum import StrEnum

from surveil.core.vocab import Grade, ItemKind, ItemState, Site, Stage

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"

# surveil's own code systems and identifier namespaces (URNs: no web address is implied).
ITEM_KIND = "urn:surveil:item-kind"
ITEM_STATE = "urn:surveil:item-state"
RULE = "urn:surveil:rule"
SITE = "urn:surveil:site"
REGION = "urn:surveil:region"
TUMOUR = "urn:surveil:tumour"
WHO_GRADE = "urn:surveil:who-grade"
EXTENT = "urn:surveil:extent"
STAGE_TYPE = "urn:surveil:stage-type"
OBSERVATION = "urn:surveil:observation"
MODALITY = "urn:surveil:modality"
MRN = "urn:surveil:mrn"
USER = "urn:surveil:user"
PROTOCOL = "urn:surveil:protocol"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


class Dimension(StrEnum):
    """LOINC's property axis: one analyte has a different code per kind of quantity."""

    MASS_CONC = "MCnc"  # ug/L, ng/mL
    SUBSTANCE_CONC = "SCnc"  # nmol/L, mmol/L
    ARBITRARY_CONC = "ACnc"  # U/L, IU/L
    MASS_RATE = "MRat"  # mg/24 h
    SUBSTANCE_RATE = "SRat"  # umol/24 h


def loinc(code: str, display: str) -> Code:
    return Code(LOINC, code, display)


def snomed(code: str, display: str) -> Code:
    return Code(SNOMED, code, display)


# Tumour markers: the LOINC code per dimension, the marker's usual one first (it is also the
# code a ServiceRequest carries, since the unit of a result not yet taken is unknown).
MARKER_CODES: dict[ItemKind, dict[Dimension, Code]] = {
    ItemKind.CGA: {
        Dimension.MASS_CONC: loinc("9811-1", "Chromogranin A [Mass/volume] in Serum or Plasma"),
        Dimension.SUBSTANCE_CONC: loinc(
            "25587-7", "Chromogranin A [Moles/volume] in Serum or Plasma"
        ),
    },
    ItemKind.HIAA5: {
        Dimension.MASS_RATE: loinc("1695-6", "5-Hydroxyindoleacetate [Mass/time] in 24 hour Urine"),
        Dimension.SUBSTANCE_RATE: loinc(
            "14573-0", "5-Hydroxyindoleacetate [Moles/time] in 24 hour Urine"
        ),
    },
    ItemKind.NSE: {
        Dimension.MASS_CONC: loinc(
            "15060-7", "Enolase.neuron specific [Mass/volume] in Serum or Plasma"
        ),
    },
    ItemKind.GASTRIN: {
        Dimension.MASS_CONC: loinc("2333-3", "Gastrin [Mass/volume] in Serum or Plasma"),
    },
    ItemKind.INSULIN: {
        Dimension.ARBITRARY_CONC: loinc("20448-7", "Insulin [Units/volume] in Serum or Plasma"),
    },
    ItemKind.GLUCOSE: {
        Dimension.MASS_CONC: loinc("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma"),
        Dimension.SUBSTANCE_CONC: loinc(
            "14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma"
        ),
    },
    ItemKind.GLUCAGON: {
        Dimension.MASS_CONC: loinc("2338-2", "Glucagon [Mass/volume] in Serum or Plasma"),
    },
    ItemKind.VIP: {
        Dimension.MASS_CONC: loinc(
            "3125-2", "Vasoactive intestinal peptide [Mass/volume] in Serum or Plasma"
        ),
    },
    ItemKind.ACTH: {
        Dimension.MASS_CONC: loinc("2141-0", "Corticotropin [Mass/volume] in Plasma"),
        Dimension.SUBSTANCE_CONC: loinc("14674-6", "Corticotropin [Moles/volume] in Plasma"),
    },
    ItemKind.CALCIUM: {
        Dimension.MASS_CONC: loinc("17861-6", "Calcium [Mass/volume] in Serum or Plasma"),
        Dimension.SUBSTANCE_CONC: loinc("2000-8", "Calcium [Moles/volume] in Serum or Plasma"),
    },
    ItemKind.PTH: {
        Dimension.MASS_CONC: loinc("2731-8", "Parathyrin.intact [Mass/volume] in Serum or Plasma"),
        Dimension.SUBSTANCE_CONC: loinc(
            "14866-8", "Parathyrin.intact [Moles/volume] in Serum or Plasma"
        ),
    },
    ItemKind.PROLACTIN: {
        Dimension.MASS_CONC: loinc("2842-3", "Prolactin [Mass/volume] in Serum or Plasma"),
        Dimension.ARBITRARY_CONC: loinc("15081-3", "Prolactin [Units/volume] in Serum or Plasma"),
    },
    ItemKind.IGF1: {
        Dimension.MASS_CONC: loinc(
            "2484-4", "Insulin-like growth factor-I [Mass/volume] in Serum or Plasma"
        ),
    },
    ItemKind.NTPROBNP: {
        Dimension.MASS_CONC: loinc(
            "33762-6",
            "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
        ),
    },
    # Pancreatic polypeptide: no LOINC code found (docs/fhir.md).
}

# Everything else a follow-up item can be. Imaging uses LOINC's "unspecified body region" codes
# with the region as bodySite, because surveil records a region only for a few items (the
# pack implies it from the tumour site otherwise). Kinds absent here have no checked code.
PROCEDURE_CODES: dict[ItemKind, Code] = {
    ItemKind.MRI: loinc("25056-3", "MRI unspecified body region"),
    ItemKind.CT: loinc("25045-6", "CT unspecified body region"),
    ItemKind.SSTR_PET: loinc("44136-0", "PET unspecified body region"),
    ItemKind.FDG_PET: snomed(
        "443271005",
        "Positron emission tomography with computed tomography of whole body using "
        "fluorodeoxyglucose (18-F)",
    ),
    ItemKind.ENDOSCOPY: snomed("423827005", "Endoscopy"),
    ItemKind.ECHOCARDIOGRAM: snomed("40701008", "Echocardiography"),
}

LESION_DIAMETER = loinc("33728-7", "Size.maximum dimension in Tumor")
LOCAL_LESION_DIAMETER = Code(OBSERVATION, "lesion-diameter", "Lesion longest diameter")
LOCAL_GROWTH_RATE = Code(OBSERVATION, "growth-rate", "Lesion growth rate")  # no LOINC found

# Pack 2027.1's tumour facts (issue 15). Node status is the pathological N category (mCODE's
# code for it); the others have no standard code that means exactly what surveil records.
REGIONAL_NODES_PATHOLOGY = loinc("21900-6", "Regional lymph nodes.pathology [Class] Cancer")
LOCAL_NODE_STATUS = Code(OBSERVATION, "node-status", "Regional lymph nodes (pN)")
LOCAL_ADVERSE_HISTOLOGY = Code(OBSERVATION, "adverse-histology", "Adverse histology")
LOCAL_CARCINOID_TYPE = Code(OBSERVATION, "carcinoid-type", "Carcinoid type (lung, thymus)")
LOCAL_GASTRIC_TYPE = Code(OBSERVATION, "gastric-type", "Gastric NET type")
TUMOUR_FACT = "urn:surveil:tumour-fact"  # the values: N0, N1, typical, atypical, type_1...
CARCINOID_HEART = Code(TUMOUR, "carcinoid-heart-disease", "Carcinoid heart disease")

# ServiceRequest.category, from the FHIR example value set of request categories.
IMAGING = snomed("363679005", "Imaging")
LABORATORY = snomed("108252007", "Laboratory procedure")

SITES: dict[Site, Code] = {
    Site.PANCREAS: snomed("15776009", "Pancreas"),
    Site.SMALL_BOWEL: snomed("30315005", "Small intestine"),
    Site.RECTUM: snomed("34402009", "Rectum"),
    Site.APPENDIX: snomed("66754008", "Appendix"),
    Site.STOMACH: snomed("69695003", "Stomach"),
    Site.DUODENUM: snomed("38848004", "Duodenum"),
    Site.COLON: snomed("71854001", "Colon"),
    Site.LUNG: snomed("39607008", "Lung"),
    Site.THYMUS: snomed("9875009", "Thymus"),
}

# Regions that follow-up items name (schedules/*.toml ``region``).
REGIONS: dict[str, Code] = {
    "pituitary": snomed("56329008", "Pituitary"),
    "thoracic": snomed("816094009", "Chest"),
}

GRADES: dict[Grade, str] = {
    Grade.G1: "WHO 2019 grade 1 (Ki-67 < 3 %, mitoses < 2 per 2 mm²)",
    Grade.G2: "WHO 2019 grade 2 (Ki-67 3–20 %, mitoses 2–20 per 2 mm²)",
    Grade.G3: "WHO 2019 grade 3 (Ki-67 > 20 %, mitoses > 20 per 2 mm²)",
    Grade.NEC: "Neuroendocrine carcinoma (poorly differentiated)",
    Grade.GX: "Well differentiated, grade not yet assessable",
}

EXTENTS: dict[Stage, str] = {
    Stage.LOCALIZED: "Localized",
    Stage.REGIONAL: "Regional",
    Stage.DISTANT: "Distant metastases",
}

# A stored item's state, as the navigator's Task and the ServiceRequest say it. Only open items
# are exported; surveil's own state goes along as Task.businessStatus.
TASK_STATUS: dict[ItemState, str] = {
    ItemState.PLANNED: "requested",  # someone has to arrange it; nothing done yet
    ItemState.ORDERED: "in-progress",  # the navigator has ordered it
    ItemState.BOOKED: "in-progress",  # and it has a date
}
SERVICE_REQUEST_STATUS: dict[ItemState, str] = {
    ItemState.PLANNED: "active",
    ItemState.ORDERED: "active",
    ItemState.BOOKED: "active",
}


@dataclass(frozen=True)
class Unit:
    ucum: str
    dimension: Dimension | None


# Units as people type them (compared in lower case, µ as u) and their UCUM code. A unit not
# listed is sent as text only, and the result gets no LOINC code (its dimension is unknown).
UNITS: dict[str, Unit] = {
    "ug/l": Unit("ug/L", Dimension.MASS_CONC),
    "ng/ml": Unit("ng/mL", Dimension.MASS_CONC),
    "ng/l": Unit("ng/L", Dimension.MASS_CONC),
    "pg/ml": Unit("pg/mL", Dimension.MASS_CONC),
    "mg/l": Unit("mg/L", Dimension.MASS_CONC),
    "mg/dl": Unit("mg/dL", Dimension.MASS_CONC),
    "g/l": Unit("g/L", Dimension.MASS_CONC),
    "pmol/l": Unit("pmol/L", Dimension.SUBSTANCE_CONC),
    "nmol/l": Unit("nmol/L", Dimension.SUBSTANCE_CONC),
    "umol/l": Unit("umol/L", Dimension.SUBSTANCE_CONC),
    "mmol/l": Unit("mmol/L", Dimension.SUBSTANCE_CONC),
    "u/l": Unit("U/L", Dimension.ARBITRARY_CONC),
    "mu/l": Unit("mU/L", Dimension.ARBITRARY_CONC),
    "iu/l": Unit("[IU]/L", Dimension.ARBITRARY_CONC),
    "miu/l": Unit("m[IU]/L", Dimension.ARBITRARY_CONC),
    "uiu/ml": Unit("u[IU]/mL", Dimension.ARBITRARY_CONC),
    "mg/24h": Unit("mg/(24.h)", Dimension.MASS_RATE),
    "mg/d": Unit("mg/d", Dimension.MASS_RATE),
    "umol/24h": Unit("umol/(24.h)", Dimension.SUBSTANCE_RATE),
    "umol/d": Unit("umol/d", Dimension.SUBSTANCE_RATE),
    "mm": Unit("mm", None),
}
GROWTH_UNIT = Unit("mm/a", None)  # UCUM's year 'a' is the Julian year, 365.25 days


def unit_of(text: str) -> Unit | None:
    key = text.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")
    return UNITS.get(key)


def marker_code(kind: ItemKind, unit: str) -> Code | None:
    """The LOINC code of a marker result reported in ``unit``, if one matches its dimension."""
    known = unit_of(unit)
    if known is None or known.dimension is None:
        return None
    return MARKER_CODES.get(kind, {}).get(known.dimension)


def order_code(kind: ItemKind) -> Code | None:
    """The standard code of a follow-up item of this kind, if one was checked."""
    if kind in PROCEDURE_CODES:
        return PROCEDURE_CODES[kind]
    return next(iter(MARKER_CODES.get(kind, {}).values()), None)
