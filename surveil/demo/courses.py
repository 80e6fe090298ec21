"""How each demo patient's story unfolds: disease states, treatments, scans, markers, symptoms.

One builder per pathway (``BUILDERS``). Each writes plausible clinical history into the patient's
draft, never after ``story.end`` (today, or the day the patient died): active surveillance of a
small pNET that is stable, slowly growing or (a few) growing fast; resection with R0/R1 margins;
metastatic disease on a somatostatin analogue, then PRRT, everolimus, sunitinib or liver-directed
therapy at progression; carcinomas on platinum-etoposide; small NETs discharged; MEN1 screening.
"""

import datetime as dt
from collections.abc import Callable

from dateutil.relativedelta import relativedelta

from surveil.core.vocab import (
    Functional,
    Grade,
    ItemKind,
    Resection,
    Site,
    Stage,
    StateKind,
    TherapyKind,
)
from surveil.demo import series
from surveil.demo.series import Course
from surveil.demo.story import (
    Pathway,
    Story,
    add_lesion,
    add_markers,
    add_pathology,
    add_state,
    add_symptom,
    add_therapy,
    cycles_course,
    pick,
    ssa_course,
    surgery,
)

K = ItemKind
YEAR = dt.timedelta(days=365)
IMAGING = ("mri", "ct")
PNET_GROWTH = {"stable": 0.7, "slow": 0.2, "fast": 0.1}
SECOND_LINE = {
    TherapyKind.PRRT: 0.55,
    TherapyKind.EVEROLIMUS: 0.25,
    TherapyKind.SUNITINIB: 0.1,
    TherapyKind.LIVER_DIRECTED: 0.1,
}
AGENTS = {
    TherapyKind.EVEROLIMUS: "everolimus 10 mg daily",
    TherapyKind.SUNITINIB: "sunitinib 37.5 mg daily",
    TherapyKind.LIVER_DIRECTED: "transarterial chemoembolisation",
    TherapyKind.PRRT: "177Lu-DOTATATE 7.4 GBq",
}
YEARLY = (11.0, 13.0)  # months between "annual" tests


def watched(story: Story) -> None:
    """Active surveillance of a small pNET (one or several in MEN1), or of type 1 gastric NETs."""
    if story.site is Site.STOMACH:
        _gastric_type1(story)
        return
    rng = story.rng
    reason = "small non-functioning tumour: watch and wait"
    add_state(story, StateKind.ACTIVE_SURVEILLANCE, story.diagnosed, reason)
    for n in range(1, (rng.randint(1, 3) if story.scenario.men1 else 1) + 1):
        growth = pick(rng, PNET_GROWTH)
        course = _pnet_course(story, growth)
        rows = series.measurements(
            rng, course, end=story.end, months=(6, 12), modalities=("mri", "mri", "eus")
        )
        add_lesion(story, f"pNET-{n}", _pnet_location(story), rows)
        if growth == "fast":
            add_symptom(story, 0.25, "new epigastric discomfort")
    add_markers(story, K.CGA, start=story.diagnosed, level=rng.uniform(0.4, 0.9))
    if story.scenario.men1:
        men1_screening(story)


def _pnet_location(story: Story) -> str:
    if story.site is Site.DUODENUM:
        return "duodenum"
    return "pancreas " + story.rng.choice(("head", "body", "tail"))


def _pnet_course(story: Story, growth: str) -> Course:
    """Stable (jitter only), slowly growing, or quiet then fast enough to cross 5 mm/year and
    reach about 20 mm by now."""
    rng, start = story.rng, story.diagnosed
    years = max(story.years_left(start), 0.1)
    if growth == "stable":
        return series.steady(start, rng.uniform(6, 16), rng.gauss(0, 0.3))
    if growth == "slow":
        start_mm = rng.uniform(6, 12)
        return series.steady(start, start_mm, min(rng.uniform(0.8, 2.0), (19 - start_mm) / years))
    start_mm, end_mm, rate = rng.uniform(7, 12), rng.uniform(17, 24), rng.uniform(5, 8)
    takeoff = story.end - dt.timedelta(days=round((end_mm - start_mm) / rate * 365.25))
    return Course(start, start_mm, ((start, 0.2), (max(takeoff, start), rate)))


def _gastric_type1(story: Story) -> None:
    rng, diagnosed = story.rng, story.diagnosed
    reason = "type 1 gastric NET (atrophic gastritis): endoscopic surveillance"
    add_state(story, StateKind.ACTIVE_SURVEILLANCE, diagnosed, reason)
    course = series.steady(diagnosed, rng.uniform(3, 9), rng.gauss(0.1, 0.2))
    rows = series.measurements(
        rng, course, end=story.end, months=(12, 24), modalities=("endoscopy",), noise_mm=0.3
    )
    add_lesion(story, "gastric-1", "gastric body", rows)
    # Gastrin and CgA run high from the gastritis itself, which is why nobody trends them.
    add_markers(story, K.GASTRIN, start=diagnosed, end=diagnosed, level=rng.uniform(4, 12))
    add_markers(story, K.CGA, start=diagnosed, end=diagnosed, level=rng.uniform(2, 5))


def resected(story: Story) -> None:
    """Resection of the primary (a few small pNETs were watched first, grew, and came out)."""
    rng = story.rng
    on = min(story.diagnosed + story.days(14, 120), story.end)
    watched_first = story.site is Site.PANCREAS and story.years_left(story.diagnosed) > 2.5
    if watched_first and rng.random() < 0.2:
        add_state(story, StateKind.ACTIVE_SURVEILLANCE, story.diagnosed, "small tumour: watch")
        on = story.diagnosed + story.days(365, 700)
    surgery(story, on)
    if rng.random() < 0.12:
        course = series.steady(on + story.days(60, 120), rng.uniform(4, 8), 0.0)
        rows = series.measurements(rng, course, end=story.end, months=(6, 12), modalities=IMAGING)
        add_lesion(story, "liver-1", "liver segment 6 (indeterminate)", rows)
    for name in _follow_up_markers(story):
        add_markers(story, name, start=on + story.days(60, 120), level=rng.uniform(0.3, 0.9))


def _follow_up_markers(story: Story) -> list[ItemKind]:
    if story.site is Site.SMALL_BOWEL:
        return [K.CGA, K.HIAA5]
    if story.site in (Site.PANCREAS, Site.DUODENUM):
        return [K.CGA, K.GASTRIN] if _functional(story) is Functional.GASTRINOMA else [K.CGA]
    return [K.CGA] if story.rng.random() < 0.3 else []


def _functional(story: Story) -> Functional:
    return Functional(story.draft.tumour["functional"]) if story.draft.tumour else Functional.NONE


def metastatic(story: Story) -> None:
    """Advanced well-differentiated disease, de novo or recurring years after resection."""
    rng = story.rng
    since = story.diagnosed
    if story.site is not Site.UNKNOWN and story.years_left(since) > 2.5 and rng.random() < 0.4:
        on = since + story.days(20, 120)
        surgery(story, on)
        if story.draft.tumour is not None:
            story.draft.tumour["stage"] = Stage.REGIONAL.value  # resectable when diagnosed
        since = on + story.days(365, max(400, (story.end - on).days - 120))
    add_state(story, StateKind.ADVANCED, since, "metastatic disease")
    segments = _treatment_lines(story, since)
    courses = []
    for label in ("liver-1", "liver-2", "node-1")[: rng.randint(1, 3)]:
        factor = rng.uniform(0.6, 1.4)  # lesions share a course but not a pace
        course = Course(since, rng.uniform(12, 45), tuple((d, r * factor) for d, r in segments))
        courses.append(course)
        rows = series.measurements(rng, course, end=story.end, months=(3, 6), modalities=IMAGING)
        add_lesion(story, label, "liver" if label.startswith("liver") else "mesentery", rows)
    _advanced_markers(story, since, series.burden(courses))
    if _functional(story) is Functional.CARCINOID_SYNDROME:
        add_symptom(story, 0.5, "flushing and loose stools, about four episodes a day")
    else:
        add_symptom(story, 0.08, "weight loss of 4 kg over three months")


def _treatment_lines(story: Story, since: dt.date) -> list[tuple[dt.date, float]]:
    """First line, and a second at progression; returns how the lesions grow meanwhile
    (segments of mm/year)."""
    rng = story.rng
    segments = [(since, rng.gauss(0.3, 0.5))]
    start = min(since + story.days(14, 60), story.end)
    if story.grade is Grade.G3:
        capecitabine = "capecitabine + temozolomide"
        cycles_course(story, TherapyKind.CHEMOTHERAPY, capecitabine, start, 28, 6)
    years = story.years_left(since)
    progression = None
    if years > 1.5 and rng.random() < 0.45:
        progression = since + dt.timedelta(days=round(rng.uniform(1.0, years - 0.3) * 365.25))
        segments.append((progression - story.days(150, 360), rng.uniform(4, 9)))
    syndrome = _functional(story) is Functional.CARCINOID_SYNDROME
    if _sstr_positive(story) or syndrome:
        # At progression a non-functioning tumour stops the analogue; a syndrome keeps it.
        ssa_course(story, start, None if syndrome else progression)
    if progression is not None:
        _rebiopsy(story, progression)
        segments += _second_line(story, progression + story.days(21, 60))
    return segments


def _sstr_positive(story: Story) -> bool:
    return bool(story.draft.tumour and story.draft.tumour["sstr_status"] == "positive")


def _second_line(story: Story, begin: dt.date) -> list[tuple[dt.date, float]]:
    rng = story.rng
    kind = pick(rng, SECOND_LINE)
    if kind is TherapyKind.PRRT and not _sstr_positive(story):
        kind = TherapyKind.EVEROLIMUS  # PRRT needs SSTR uptake at least that of the liver
    if kind is TherapyKind.SUNITINIB and story.site is not Site.PANCREAS:
        kind = TherapyKind.EVEROLIMUS  # sunitinib is licensed for pNETs only
    if begin > story.end:
        return []
    if kind is TherapyKind.PRRT:
        last = cycles_course(story, kind, AGENTS[kind], begin, 56, 4)
        return [(begin, -rng.uniform(6, 12)), (last + YEAR, rng.gauss(0.3, 0.3))]
    if kind is TherapyKind.LIVER_DIRECTED:
        add_therapy(story, kind, AGENTS[kind], begin, begin, 1, begin)
        return [(begin, -5.0), (begin + YEAR / 2, rng.uniform(0.5, 2))]
    add_therapy(story, kind, AGENTS[kind], begin)
    return [(begin, rng.uniform(0, 1))]


def _rebiopsy(story: Story, on: dt.date) -> None:
    """At progression some are biopsied again; Ki-67 has often crept up (grade migration)."""
    tumour = story.draft.tumour
    if not tumour or tumour["ki67"] is None or story.rng.random() >= 0.3:
        return
    ki67 = round(min(tumour["ki67"] * story.rng.uniform(1.2, 3.0), 60.0), 1)
    add_pathology(story, on, None, ki67, None)


def _advanced_markers(story: Story, since: dt.date, trend: Callable[[dt.date], float]) -> None:
    rng, functional = story.rng, _functional(story)
    syndrome = functional is Functional.CARCINOID_SYNDROME
    add_markers(story, K.CGA, start=since, months=(3, 6), trend=trend, level=rng.uniform(1.5, 8))
    if syndrome or story.site in (Site.SMALL_BOWEL, Site.UNKNOWN):
        level = rng.uniform(1.5, 10)
        add_markers(story, K.HIAA5, start=since, months=(3, 6), trend=trend, level=level)
    if syndrome:  # carcinoid heart disease screening
        add_markers(story, K.NTPROBNP, start=since, months=(11, 13), level=rng.uniform(0.5, 3))
    if functional is Functional.GASTRINOMA:
        level = rng.uniform(3, 20)
        add_markers(story, K.GASTRIN, start=since, months=(3, 6), trend=trend, level=level)


def carcinoma(story: Story) -> None:
    """Poorly differentiated NEC: resected if localised, else platinum-etoposide, a response,
    and an early relapse."""
    rng, diagnosed = story.rng, story.diagnosed
    if rng.random() < 0.3 and story.site is not Site.UNKNOWN:
        on = min(diagnosed + story.days(14, 45), story.end)
        surgery(story, on)
        add_markers(story, K.NSE, start=on, months=(2, 3), level=rng.uniform(0.4, 1))
        return
    add_state(story, StateKind.ADVANCED, diagnosed, "metastatic neuroendocrine carcinoma")
    start = min(diagnosed + story.days(10, 30), story.end)
    chemo = "carboplatin + etoposide"
    cycles_course(story, TherapyKind.CHEMOTHERAPY, chemo, start, 21, rng.randint(4, 6))
    relapse = start + story.days(120, 240)
    segments = ((diagnosed, 2.0), (start, -rng.uniform(20, 35)), (relapse, rng.uniform(15, 30)))
    courses = [Course(diagnosed, rng.uniform(20, 60), segments) for _ in range(rng.randint(1, 2))]
    for n, course in enumerate(courses, start=1):
        rows = series.measurements(rng, course, end=story.end, months=(2, 3), modalities=("ct",))
        add_lesion(story, f"liver-{n}", "liver", rows)
    trend = series.burden(courses)
    add_markers(
        story, K.NSE, start=diagnosed, months=(2, 3), trend=trend, level=rng.uniform(1.5, 6)
    )
    add_markers(story, K.CGA, start=diagnosed, end=diagnosed, level=rng.uniform(0.5, 2))
    add_symptom(story, 0.2, "fatigue and night sweats")


def discharged(story: Story) -> None:
    """A small G1 appendiceal or rectal NET, resected R0: no NET follow-up needed, or ten clear
    years done."""
    on = min(story.diagnosed + story.days(0, 60), story.end)
    surgery(story, on)
    story.draft.states[-1]["resection"] = Resection.R0.value
    ten_years = on + relativedelta(years=10)
    if ten_years <= story.end and story.rng.random() < 0.4:
        add_state(story, StateKind.DISCHARGED, ten_years, "ten years of follow-up, no recurrence")
        return
    since = min(on + story.days(30, 120), story.end)
    add_state(story, StateKind.DISCHARGED, since, "no NET follow-up needed: G1, under 10 mm, R0")


def carrier(story: Story) -> None:
    reason = "MEN1 carrier: screening programme"
    add_state(story, StateKind.ACTIVE_SURVEILLANCE, story.diagnosed, reason)
    men1_screening(story)


def men1_screening(story: Story) -> None:
    """Yearly MEN1 bloods (Thakker 2012): calcium and PTH, prolactin, glucose; gastrin from 20."""
    rng, start = story.rng, story.diagnosed
    # Hyperparathyroidism is the commonest MEN1 tumour: calcium and PTH run high together.
    high = rng.random() < 0.3
    levels = {
        K.CALCIUM: rng.uniform(1.03, 1.15) if high else rng.uniform(0.85, 0.98),
        K.PTH: rng.uniform(1.2, 2.5) if high else rng.uniform(0.4, 0.9),
        K.PROLACTIN: rng.uniform(0.2, 0.8),
        K.GLUCOSE: rng.uniform(0.75, 0.9),
    }
    twenty = story.born + relativedelta(years=20)
    if twenty <= story.end:
        levels[K.GASTRIN] = rng.uniform(0.3, 0.9)
    for name, level in levels.items():
        begin = max(twenty, start) if name is K.GASTRIN else start
        add_markers(story, name, start=begin, level=level, months=YEARLY, keep=6)


BUILDERS: dict[Pathway, Callable[[Story], None]] = {
    Pathway.WATCHED: watched,
    Pathway.RESECTED: resected,
    Pathway.METASTATIC: metastatic,
    Pathway.CARCINOMA: carcinoma,
    Pathway.DISCHARGED: discharged,
    Pathway.CARRIER: carrier,
}
