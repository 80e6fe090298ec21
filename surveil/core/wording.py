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
    # Remembered per pack (by identity, the pack kept beside it so its id stays its own): every
    # planned item cites one of the pack's few (source, evidence) pairs.
    key = (id(pack), source_id, evidence)
    found = _CITED.get(key)
    if found is not None and found[0] is pack:
        return found[1]
    source = pack.sources.get(source_id)
    title = f"{source.title} via " if source else ""
    text = f"{title}{source_id} [{evidence}]"
    if len(_CITED) >= 4096:
        _CITED.clear()  # bounded: many packs loaded in one process (the tests) refill it
    _CITED[key] = (pack, text)
    return text


_CITED: dict[tuple[int, str, str], tuple[Pack, str]] = {}


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
    how = f"{interval.describe()} after {anchor_event}" if first else f"every {interval.describe()}"
    cite = citation(pack, source, evidence)
    since = "" if first else f"; {anchor_event} {anchor_date.isoformat()}"
    when = f" on {anchor_date.isoformat()}" if first else ""
    text = f"{what} {how}{when} — {rule.title} (rule {rule.id}, {cite}){since}"
    return f"{text}; {extra}" if extra else text
