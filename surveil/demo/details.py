"""Pack 2027.1's tumour facts for the demo patients (issue 15): node status, adverse histology,
lung and thymic carcinoid type, gastric type, carcinoid heart disease, in plausible shares, so the
demo registry shows the 2027.1 rules (rectal and appendiceal adverse histology, node-positive and
atypical carcinoids, gastric types 1-3, echocardiography for carcinoid heart disease).

Drawn from a stream of their own, seeded by (seed, number), after the course is written: adding
them left every other value of every demo patient as it was. Some facts stay unrecorded (None),
as in a real registry, so the rules for an unrecorded type are shown too.

Shares (demonstration data drawn from the clinical notes, not epidemiology):

* node status, on resected tumours, recorded for ~80%: N1 when the stage is regional, else N0;
* adverse histology, rectal and appendiceal resections, recorded for ~75%: lymphovascular
  invasion ~12%, muscularis propria ~8% (rectum), mesoappendix over 3 mm ~15% (appendix), else
  "reported, none seen"; small discharged ones are reported clear;
* carcinoid type, lung and thymus, recorded for ~85%: typical for most G1 lung carcinoids,
  atypical for G2 and most thymic NETs;
* gastric type: the watched gastric scenario is type 1; resected stomach NETs mostly type 3, some
  type 1, a few type 2 (the MEN1 or gastrinoma picture); ~10% unrecorded;
* carcinoid heart disease, with carcinoid syndrome: echo recorded for ~70%, present in ~25% of
  those.
"""

import random

from surveil.core.vocab import (
    AdverseHistology,
    CarcinoidType,
    Functional,
    GastricType,
    Grade,
    NodeStatus,
    Site,
    Stage,
)
from surveil.demo.story import Pathway, Row, Story, pick

P = Pathway
_NO_DETAILS: Row = {
    "node_status": None,
    "adverse_histology": None,
    "carcinoid_type": None,
    "gastric_type": None,
    "carcinoid_heart_disease": None,
}


def tumour_details(seed: int, number: int, story: Story) -> Row:
    """The 2027.1 columns of ``story``'s tumour row (all None where not recorded)."""
    tumour = story.draft.tumour
    out = dict(_NO_DETAILS)
    if tumour is None or story.site is None:
        return out
    rng = random.Random(f"surveil-demo/{seed}/{number}/2027.1")
    pathway, site = story.scenario.pathway, story.site
    if pathway is P.RESECTED and rng.random() < 0.8:
        regional = tumour.get("stage") == Stage.REGIONAL.value
        out["node_status"] = (NodeStatus.N1 if regional else NodeStatus.N0).value
    if site in (Site.RECTUM, Site.APPENDIX):
        out["adverse_histology"] = _adverse(rng, site, pathway)
    if site in (Site.LUNG, Site.THYMUS) and rng.random() < 0.85:
        out["carcinoid_type"] = _carcinoid(rng, site, story.grade).value
    if site is Site.STOMACH and rng.random() < 0.9:
        out["gastric_type"] = _gastric(rng, story).value
    if tumour.get("functional") == Functional.CARCINOID_SYNDROME.value and rng.random() < 0.7:
        out["carcinoid_heart_disease"] = rng.random() < 0.25
    return out


def _adverse(rng: random.Random, site: Site, pathway: Pathway) -> str | None:
    """The stored form: sorted features joined by commas, "" for reported and none seen."""
    if pathway is P.DISCHARGED:
        return "" if rng.random() < 0.8 else None  # small, clear margins: why they left
    if pathway is not P.RESECTED or rng.random() >= 0.75:
        return None
    seen = set()
    if rng.random() < 0.12:
        seen.add(AdverseHistology.LVI)
    if site is Site.RECTUM and rng.random() < 0.08:
        seen.add(AdverseHistology.MUSCULARIS)
    if site is Site.APPENDIX and rng.random() < 0.15:
        seen.add(AdverseHistology.MESOAPPENDIX)
    return ",".join(sorted(a.value for a in seen))


def _carcinoid(rng: random.Random, site: Site, grade: Grade | None) -> CarcinoidType:
    atypical = 0.6 if site is Site.THYMUS else (0.1 if grade is Grade.G1 else 0.8)
    return CarcinoidType.ATYPICAL if rng.random() < atypical else CarcinoidType.TYPICAL


def _gastric(rng: random.Random, story: Story) -> GastricType:
    if story.scenario.pathway is P.WATCHED:  # the "gastric type 1, watched" picture
        return GastricType.TYPE_1
    weights = {GastricType.TYPE_3: 0.7, GastricType.TYPE_1: 0.2, GastricType.TYPE_2: 0.1}
    return pick(rng, weights)
