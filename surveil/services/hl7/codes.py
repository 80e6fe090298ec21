"""Which OBX-3 codes are which marker, and which appointment types are which item kind.

LOINC codes for the markers surveil follows (serum/plasma mass concentrations, and 24-hour urine
5-HIAA). Labs differ: a site adds its own codes in ``[hl7] local_codes`` ("CODE=marker, ...")
and its appointment types in ``[hl7] appointment_types`` ("TYPE=kind, ...").
"""

from surveil.core.vocab import MARKER_KINDS, ItemKind
from surveil.errors import InvalidInput, Problem

LOINC_MARKERS: dict[str, ItemKind] = {
    "9811-1": ItemKind.CGA,  # Chromogranin A [Mass/volume] in Serum or Plasma
    "1695-9": ItemKind.HIAA5,  # 5-Hydroxyindoleacetate [Mass/time] in 24 hour Urine
    "1694-2": ItemKind.HIAA5,  # 5-Hydroxyindoleacetate [Mass/volume] in Urine
    "15060-7": ItemKind.NSE,  # Neuron specific enolase [Mass/volume] in Serum or Plasma
    "2333-3": ItemKind.GASTRIN,  # Gastrin [Mass/volume] in Serum or Plasma
    "20448-7": ItemKind.INSULIN,  # Insulin [Units/volume] in Serum or Plasma
    "2345-7": ItemKind.GLUCOSE,  # Glucose [Mass/volume] in Serum or Plasma
    "17861-6": ItemKind.CALCIUM,  # Calcium [Mass/volume] in Serum or Plasma
    "2731-8": ItemKind.PTH,  # Parathyrin.intact [Mass/volume] in Serum or Plasma
}


def pairs(text: str, setting: str, allowed: frozenset[ItemKind] | None) -> dict[str, ItemKind]:
    """'A=cga, B=5hiaa' -> {'A': cga, 'B': 5hiaa}; a bad pair names the setting and the pair."""
    table: dict[str, ItemKind] = {}
    problems: list[Problem] = []
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        code, _, kind = (part.strip() for part in pair.partition("="))
        try:
            item_kind = ItemKind(kind)
        except ValueError:
            problems.append(Problem(setting, f"{pair!r}: {kind!r} is not an item kind"))
            continue
        if not code or (allowed is not None and item_kind not in allowed):
            problems.append(Problem(setting, f"{pair!r} is not CODE=kind with a known kind"))
            continue
        table[code] = item_kind
    if problems:
        raise InvalidInput(problems, what="hl7 settings")
    return table


def marker_codes(local_codes: str) -> dict[str, ItemKind]:
    return LOINC_MARKERS | pairs(local_codes, "hl7.local_codes", MARKER_KINDS)


def appointment_kinds(appointment_types: str) -> dict[str, ItemKind]:
    return pairs(appointment_types, "hl7.appointment_types", None)
