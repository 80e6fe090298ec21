"""The select fields for pack 2027.1's tumour details (issue #15), shared by the enrolment form
and the patient page's tumour form. Every choice is a value the registry service accepts:
``unknown`` ("not recorded") clears a detail, so a select can take a recorded fact back."""

from itertools import combinations

from surveil.core.vocab import AdverseHistology, CarcinoidType, GastricType, NodeStatus
from surveil.db import models as m
from surveil.services.registry.tumour_details import DETAIL_FIELDS, NONE_SEEN, UNKNOWN
from surveil.web.contexts import Option

__all__ = ["DETAIL_FIELDS", "detail_choices", "detail_form_values"]

NOT_RECORDED = Option(UNKNOWN, "not recorded")
ADVERSE_WORDS = {
    AdverseHistology.LVI: "lymphovascular invasion",
    AdverseHistology.MUSCULARIS: "muscularis propria invasion",
    AdverseHistology.MESOAPPENDIX: "mesoappendiceal invasion over 3 mm",
}


def detail_choices() -> dict[str, tuple[Option, ...]]:
    return {
        "node_status": (NOT_RECORDED, *(Option(n.value, n.value) for n in NodeStatus)),
        "adverse_histology": _adverse_choices(),
        "carcinoid_type": (NOT_RECORDED, *(Option(c.value, c.value) for c in CarcinoidType)),
        "gastric_type": (
            NOT_RECORDED,
            *(Option(g.value, g.value.replace("_", " ")) for g in GastricType),
        ),
        "carcinoid_heart_disease": (NOT_RECORDED, Option("yes", "yes"), Option("no", "no")),
    }


def _adverse_choices() -> tuple[Option, ...]:
    """Every set of features, valued as the service stores it (sorted, comma-separated)."""
    features = sorted(AdverseHistology, key=lambda a: a.value)
    sets = [c for size in range(1, len(features) + 1) for c in combinations(features, size)]
    return (
        NOT_RECORDED,
        Option(NONE_SEEN, "reported: none seen"),
        *(
            Option(",".join(a.value for a in s), " and ".join(ADVERSE_WORDS[a] for a in s))
            for s in sets
        ),
    )


def detail_form_values(tumour: m.Tumour | None) -> dict[str, str]:
    """The selects' current values: ``unknown`` for what is not recorded."""
    if tumour is None:
        return dict.fromkeys(DETAIL_FIELDS, UNKNOWN)
    heart = tumour.carcinoid_heart_disease
    adverse = tumour.adverse_histology
    return {
        "node_status": tumour.node_status or UNKNOWN,
        "adverse_histology": UNKNOWN if adverse is None else adverse or NONE_SEEN,
        "carcinoid_type": tumour.carcinoid_type or UNKNOWN,
        "gastric_type": tumour.gastric_type or UNKNOWN,
        "carcinoid_heart_disease": UNKNOWN if heart is None else "yes" if heart else "no",
    }
