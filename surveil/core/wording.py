"""Words a nurse reads: item labels and the one-line reason of a planned item."""

import datetime as dt

from surveil.core.protocol import Interval, Pack, Rule
from surveil.core.vocab import ItemKind

LABELS: dict[ItemKind, str] = {
    ItemKind.MRI: "MRI",
    ItemKind.CT: "CT",
    ItemKind.CT_OR_MRI: "CT or MRI",
    ItemKind.SSTR_PET: "SSTR PET",
    ItemKind.FDG_PET: "FDG PET",
    ItemKind.EUS: "endoscopic ultrasound",
    ItemKind.ENDOSCOPY: "endoscopy",
    ItemKind.ECHOCARDIOGRAM: "echocardiogram",
    ItemKind.CGA: "chromogranin A",
    ItemKind.NSE: "NSE",
    ItemKind.HIAA5: "24-h urinary 5-HIAA",
    ItemKind.GASTRIN: "fasting gastrin",
    ItemKind.INSULIN: "insulin",
    ItemKind.GLUCOSE: "fasting glucose",
    ItemKind.GLUCAGON: "glucagon",
    ItemKind.VIP: "VIP",
    ItemKind.ACTH: "ACTH",
    ItemKind.PP: "pancreatic polypeptide",
    ItemKind.CALCIUM: "calcium",
    ItemKind.PTH: "PTH",
    ItemKind.PROLACTIN: "prolactin",
    ItemKind.IGF1: "IGF-1",
    ItemKind.NTPROBNP: "NT-proBNP",
    ItemKind.LABS: "blood tests",
    ItemKind.SSA_INJECTION: "somatostatin analogue injection",
    ItemKind.PRRT_CYCLE: "PRRT cycle",
    ItemKind.CLINIC_VISIT: "clinic visit",
    ItemKind.TUMOUR_BOARD: "tumour board review",
}


def label(kind: ItemKind, region: str | None = None) -> str:
    text = LABELS[kind]
    return f"{region} {text}" if region else text


def citation(pack: Pack, source_id: str, evidence: str) -> str:
    """``ESMO 2020 via S4 [S]``: the source's short title, its register id and evidence class."""
    source = pack.sources.get(source_id)
    title = f"{source.title} via " if source else ""
    return f"{title}{source_id} [{evidence}]"


def reason(
    *,
    pack: Pack,
    rule: Rule,
    what: str,
    interval: Interval,
    first: bool,
    source: str,
    evidence: str,
    anchor_event: str,
    anchor_date: dt.date,
    extra: str = "",
) -> str:
    """One line: what, how often, for whom, which rule and source, and the anchoring event.

    e.g. "MRI every 6–12 months on active surveillance of a small G1 pNET (rule
    pnet-small-surveillance, ENETS 2016 via S39 [S]); last MRI 2025-03-02".
    """
    described, cited = _fixed_words(pack, rule, interval, source, evidence)
    day = anchor_date.isoformat()
    if first:
        text = f"{what} {described} after {anchor_event} on {day}{cited}"
    else:
        text = f"{what} every {described}{cited}; {anchor_event} {day}"
    return f"{text}; {extra}" if extra else text


def _fixed_words(
    pack: Pack, rule: Rule, interval: Interval, source: str, evidence: str
) -> tuple[str, str]:
    """The parts of a reason that only the pack gives: the interval in words and
    `` — <rule title> (rule <id>, <citation>)``. Remembered by the identity of the pack, rule and
    interval (kept with the words, so their ids stay their own): every planned item of every
    patient asks for one of a pack's few combinations."""
    key = (id(pack), id(rule), id(interval), source, evidence)
    found = _FIXED.get(key)
    if found is not None and found[0] is pack and found[1] is rule and found[2] is interval:
        return found[3]
    cite = citation(pack, source, evidence)
    words = (interval.describe(), f" — {rule.title} (rule {rule.id}, {cite})")
    if len(_FIXED) >= 4096:
        _FIXED.clear()  # bounded: many packs loaded in one process (the tests) refill it
    _FIXED[key] = (pack, rule, interval, words)
    return words


_FIXED: dict[tuple[int, int, int, str, str], tuple[Pack, Rule, Interval, tuple[str, str]]] = {}
