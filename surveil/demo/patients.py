"""Synthetic NET patients for ``surveil demo``, in plausible proportions.

``SCENARIOS`` below is the whole mix: each clinical picture, its share of patients, where the
primary sits and how it is graded. The shares make a plausible referral-centre registry (small
bowel and pancreas most common, then rectum, lung, appendix, stomach; mostly G1/G2, some G3 and
NEC; a few MEN1 families) — demonstration data drawn from the clinical notes, not epidemiology.

Every patient comes from its own random stream seeded by (seed, number), so D000123 is the same
patient whatever the batch size and however many patients are made around it. The rows carry no
ids: the writer (generate.py) numbers them. How each picture unfolds over the years (states,
treatments, scans, markers) is in courses.py, built from the pieces in story.py.
"""

import datetime as dt
import random

from dateutil.relativedelta import relativedelta

from surveil.core.grading import highest_grade, who_grade
from surveil.core.names import search_keys
from surveil.core.vocab import Differentiation, Functional, Grade, Hereditary, Site, Sstr, Stage
from surveil.demo import people
from surveil.demo.courses import BUILDERS
from surveil.demo.details import tumour_details
from surveil.demo.story import (
    Draft,
    Pathway,
    Row,
    Scenario,
    Story,
    pathology_counts,
    pick,
)

S, P = Site, Pathway


def _grades(g1: float, g2: float = 0.0, g3: float = 0.0) -> dict[Grade, float]:
    return {g: w for g, w in ((Grade.G1, g1), (Grade.G2, g2), (Grade.G3, g3)) if w}


NEC_SITES = {
    S.PANCREAS: 0.25,
    S.COLON: 0.2,
    S.UNKNOWN: 0.2,
    S.STOMACH: 0.1,
    S.RECTUM: 0.1,
    S.LUNG: 0.1,
    S.SMALL_BOWEL: 0.05,
}
GASTRODUODENAL = {S.STOMACH: 0.5, S.DUODENUM: 0.5}
MEN1_SITES = {S.PANCREAS: 0.8, S.DUODENUM: 0.2}
APPENDIX_OR_RECTUM = {S.APPENDIX: 0.5, S.RECTUM: 0.5}

SCENARIOS = (
    # name, share of all patients, pathway, primary site(s), WHO grades
    Scenario("small pNET, watched", 0.10, P.WATCHED, {S.PANCREAS: 1}, _grades(0.85, 0.15)),
    Scenario("pNET, resected", 0.07, P.RESECTED, {S.PANCREAS: 1}, _grades(0.45, 0.48, 0.07)),
    Scenario("pNET, metastatic", 0.06, P.METASTATIC, {S.PANCREAS: 1}, _grades(0.2, 0.65, 0.15)),
    Scenario("small-bowel NET, resected", 0.17, P.RESECTED, {S.SMALL_BOWEL: 1}, _grades(0.6, 0.4)),
    Scenario(
        "small-bowel NET, metastatic", 0.11, P.METASTATIC, {S.SMALL_BOWEL: 1}, _grades(0.45, 0.55)
    ),
    Scenario("rectal NET, resected", 0.09, P.RESECTED, {S.RECTUM: 1}, _grades(0.85, 0.15)),
    Scenario("lung carcinoid, resected", 0.08, P.RESECTED, {S.LUNG: 1}, _grades(0.7, 0.3)),
    Scenario("lung carcinoid, metastatic", 0.02, P.METASTATIC, {S.LUNG: 1}, _grades(0.3, 0.7)),
    Scenario("appendiceal NET, resected", 0.05, P.RESECTED, {S.APPENDIX: 1}, _grades(0.85, 0.15)),
    Scenario("gastric type 1, watched", 0.04, P.WATCHED, {S.STOMACH: 1}, _grades(0.9, 0.1)),
    Scenario("gastric/duodenal, resected", 0.04, P.RESECTED, GASTRODUODENAL, _grades(0.6, 0.4)),
    Scenario(
        "unknown primary, metastatic", 0.03, P.METASTATIC, {S.UNKNOWN: 1}, _grades(0.25, 0.6, 0.15)
    ),
    Scenario("colonic NET, resected", 0.01, P.RESECTED, {S.COLON: 1}, _grades(0.5, 0.5)),
    Scenario("thymic NET, resected", 0.01, P.RESECTED, {S.THYMUS: 1}, _grades(0.3, 0.7)),
    Scenario("neuroendocrine carcinoma", 0.05, P.CARCINOMA, NEC_SITES, {Grade.NEC: 1}),
    Scenario("small NET, discharged", 0.04, P.DISCHARGED, APPENDIX_OR_RECTUM, _grades(1)),
    Scenario("MEN1, small pNET", 0.02, P.WATCHED, MEN1_SITES, _grades(0.85, 0.15), men1=True),
    Scenario("MEN1 carrier, screening", 0.01, P.CARRIER, {}, {}, men1=True),
)
_SCENARIO_WEIGHTS = [s.share for s in SCENARIOS]

# How long ago the story began (diagnosis, or the start of MEN1 screening), in years.
YEARS_SINCE_DIAGNOSIS = {
    P.WATCHED: (0.3, 7.0),
    P.RESECTED: (0.2, 12.0),
    P.METASTATIC: (0.3, 12.0),
    P.CARCINOMA: (0.1, 3.0),
    P.DISCHARGED: (1.0, 15.0),
    P.CARRIER: (0.5, 8.0),
}
# Chance of having died (NEC mostly; a few from other causes).
DEATH_SHARE = {P.METASTATIC: 0.07, P.CARCINOMA: 0.35, P.CARRIER: 0.0}
OTHER_DEATH_SHARE = 0.004
PPI_SHARE = 0.15  # patients on a proton-pump inhibitor: their CgA reads high
CHILD_CARRIER_SHARE = 0.5  # MEN1 screening starts at 5: half the carriers are children

SSTR_METHODS = ("68Ga-DOTATATE PET/CT", "68Ga-DOTATOC PET/CT", "64Cu-DOTATATE PET/CT")
SSTR_POSITIVE = {Grade.G1: 0.85, Grade.G2: 0.8, Grade.G3: 0.5, Grade.NEC: 0.0}


def synthesise(seed: int, number: int, *, today: dt.date, timezone: str) -> Draft:
    """Patient ``number`` of the demo registry made with ``seed``, as it stands on ``today``."""
    rng = random.Random(f"surveil-demo/{seed}/{number}")
    scenario = rng.choices(SCENARIOS, weights=_SCENARIO_WEIGHTS)[0]
    site = pick(rng, scenario.sites) if scenario.sites else None
    grade = pick(rng, scenario.grades) if scenario.grades else None
    years = rng.uniform(*YEARS_SINCE_DIAGNOSIS[scenario.pathway])
    diagnosed = today - dt.timedelta(days=round(years * 365.25))
    born = _birth_date(rng, scenario, site, diagnosed=diagnosed, today=today)
    if scenario.pathway is P.CARRIER:
        diagnosed = max(diagnosed, born + relativedelta(years=6))
    died = _death(rng, scenario.pathway, diagnosed=diagnosed, today=today)
    draft = Draft(number, scenario, _patient(rng, number, scenario, born, died, timezone, today))
    story = Story(rng, draft, site, grade, born, diagnosed, died or today, rng.random() < PPI_SHARE)
    if site is not None and grade is not None:
        draft.tumour = tumour_row(story)
    BUILDERS[scenario.pathway](story)
    if draft.tumour is not None:
        draft.tumour["grade"] = recorded_grade(draft.tumour, draft.pathology).value
        draft.tumour.update(tumour_details(seed, number, story))
    return draft


def _birth_date(
    rng: random.Random, scenario: Scenario, site: Site | None, *, diagnosed: dt.date, today: dt.date
) -> dt.date:
    if scenario.pathway is P.CARRIER:
        child = rng.random() < CHILD_CARRIER_SHARE
        age_now = rng.uniform(6, 17.5) if child else rng.uniform(20, 55)
        return people.birth_date_for(rng, age=age_now, on=today)
    if scenario.men1:
        mean, spread, low = 38.0, 10.0, 18.0
    elif site is Site.APPENDIX:
        mean, spread, low = 40.0, 14.0, 18.0
    else:
        mean, spread, low = 61.0, 12.0, 25.0
    age = min(max(rng.gauss(mean, spread), low), 90.0)
    return people.birth_date_for(rng, age=age, on=diagnosed)


def _death(
    rng: random.Random, pathway: Pathway, *, diagnosed: dt.date, today: dt.date
) -> dt.date | None:
    span = (today - diagnosed).days
    if span < 90 or rng.random() >= DEATH_SHARE.get(pathway, OTHER_DEATH_SHARE):
        return None
    return diagnosed + dt.timedelta(days=rng.randrange(60, span))


def _patient(
    rng: random.Random,
    number: int,
    scenario: Scenario,
    born: dt.date,
    died: dt.date | None,
    timezone: str,
    today: dt.date,
) -> Row:
    sex = people.pick_sex(rng)
    given, family = people.pick_name(rng, sex)
    adult = (today - born).days >= 18 * 365.25
    search_name, search_given = search_keys(family, given)
    return {
        "mrn": f"D{number:06d}",
        "given_name": given,
        "family_name": family,
        "search_name": search_name,
        "search_given": search_given,
        "birth_date": born,
        "sex": sex.value,
        "timezone": people.pick_timezone(rng, timezone),
        **people.contact_details(rng, number=number, given=given, family=family, adult=adult),
        "deceased_on": died,
        "hereditary": (Hereditary.MEN1 if scenario.men1 else Hereditary.NONE).value,
    }


# --------------------------------------------------------------------------- tumour


def tumour_row(story: Story) -> Row:
    assert story.site is not None and story.grade is not None
    differentiation, ki67, mitoses = pathology_counts(story.rng, story.grade)
    sstr = _sstr(story)
    sstr_date = None
    if sstr is not Sstr.UNKNOWN:
        sstr_date = min(story.diagnosed + story.days(7, 60), story.end)
    return {
        "site": story.site.value,
        "differentiation": differentiation.value,
        "ki67": ki67,
        "mitoses": mitoses,
        "grade": who_grade(differentiation, ki67, mitoses).value,
        "stage": _stage(story).value,
        "size_mm": _primary_size(story),
        "sstr_status": sstr.value,
        "sstr_date": sstr_date,
        "sstr_method": story.rng.choice(SSTR_METHODS) if sstr_date else None,
        "functional": _functional(story).value,
        "diagnosed_on": story.diagnosed,
    }


def recorded_grade(tumour: Row, pathology: list[Row]) -> Grade:
    """The highest grade ever recorded, as the registry keeps it (a later lower count never
    downgrades)."""
    differentiation = Differentiation(tumour["differentiation"])
    grades = [who_grade(differentiation, tumour["ki67"], tumour["mitoses"])]
    for row in pathology:
        own = row["differentiation"]
        grades.append(
            who_grade(Differentiation(own) if own else differentiation, row["ki67"], row["mitoses"])
        )
    return highest_grade(grades)


def _sstr(story: Story) -> Sstr:
    assert story.grade is not None
    if story.rng.random() < 0.12:
        return Sstr.UNKNOWN
    positive = story.rng.random() < SSTR_POSITIVE.get(story.grade, 0.8)
    return Sstr.POSITIVE if positive else Sstr.NEGATIVE


def _stage(story: Story) -> Stage:
    pathway, rng = story.scenario.pathway, story.rng
    if pathway is P.METASTATIC:
        return Stage.DISTANT if rng.random() < 0.9 else Stage.REGIONAL
    if pathway is P.CARCINOMA:
        return Stage.DISTANT if rng.random() < 0.7 else Stage.REGIONAL
    if pathway is P.RESECTED:
        nodes = 0.7 if story.site is Site.SMALL_BOWEL else 0.3
        return Stage.REGIONAL if rng.random() < nodes else Stage.LOCALIZED
    return Stage.LOCALIZED


# Largest diameter of the primary, in mm, by site (a discharged small NET is under 10 mm).
PRIMARY_SIZE_MM = {
    Site.PANCREAS: (12, 45),
    Site.SMALL_BOWEL: (8, 30),
    Site.RECTUM: (4, 18),
    Site.APPENDIX: (3, 25),
    Site.LUNG: (10, 40),
    Site.STOMACH: (4, 15),
    Site.DUODENUM: (5, 15),
    Site.COLON: (20, 60),
    Site.THYMUS: (30, 80),
}


def _primary_size(story: Story) -> float | None:
    if story.site is None or story.site is Site.UNKNOWN:
        return None
    low, high = PRIMARY_SIZE_MM[story.site]
    if story.scenario.pathway is P.DISCHARGED:
        high = 9
    elif story.scenario.pathway is P.WATCHED and story.site is Site.PANCREAS:
        low, high = 6, 16
    return float(story.rng.randint(low, high))


def _functional(story: Story) -> Functional:
    rng, site, pathway = story.rng, story.site, story.scenario.pathway
    if site in (Site.SMALL_BOWEL, Site.UNKNOWN) and pathway is P.METASTATIC:
        return Functional.CARCINOID_SYNDROME if rng.random() < 0.4 else Functional.NONE
    if site is Site.DUODENUM and story.scenario.men1:
        return Functional.GASTRINOMA if rng.random() < 0.6 else Functional.NONE
    if site is Site.PANCREAS and pathway in (P.RESECTED, P.METASTATIC):
        return pick(
            rng,
            {
                Functional.NONE: 0.9,
                Functional.INSULINOMA: 0.05,
                Functional.GASTRINOMA: 0.03,
                Functional.GLUCAGONOMA: 0.01,
                Functional.VIPOMA: 0.01,
            },
        )
    if site is Site.LUNG and rng.random() < 0.02:
        return Functional.ACTH
    return Functional.NONE
