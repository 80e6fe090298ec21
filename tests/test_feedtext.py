import datetime as dt
import re
import shutil
from pathlib import Path

import jinja2
import pytest

from surveil.core.feed import FeedItem, FeedItemStatus
from surveil.core.vocab import ItemKind, Site
from surveil.render.feedtext import (
    format_day,
    local_time_text,
    render_calendar_description,
    render_event_text,
    render_item_text,
)
from surveil.render.templating import make_environment, referenced_names, render_text

PHONE = "020 7946 0000"
WINDOW = (dt.date(2026, 1, 31), dt.date(2026, 7, 31))

# Words that would tell anyone glancing at a patient's phone what the follow-up is for.
_DIAGNOSIS_SUBSTRINGS = [
    "tumour",
    "tumor",
    "cancer",
    "carcinoid",
    "carcinoma",
    "neuroendocrine",
    "oncolog",
    "pancrea",
    "metasta",
    "somatostatin",
    "octreotide",
    "lanreotide",
    "prrt",
    "lutetium",
    "chromogranin",
    "hiaa",
    "gastrin",
    "insulin",
    "pet",
    "grade",
    "ki-67",
    "multidisciplinary",
    *[site.value.replace("_", " ") for site in Site if site is not Site.UNKNOWN],
]
_DIAGNOSIS_WORDS = re.compile(r"\b(NETs?|NEC|G[1-3X]|MEN1|VHL|MDT|SSA|CgA)\b")


def diagnosis_words(text: str) -> list[str]:
    """Every giveaway word in ``text`` (empty when the text is safe to show)."""
    lowered = text.lower()
    found = [word for word in _DIAGNOSIS_SUBSTRINGS if word in lowered]
    return found + _DIAGNOSIS_WORDS.findall(text)


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment()


def test_the_checker_catches_what_it_should() -> None:
    # Otherwise every "no diagnosis" assertion below would pass vacuously.
    assert diagnosis_words("Your NET: pancreatic G2, small bowel") == [
        "pancrea",
        "small bowel",
        "NET",
        "G2",
    ]
    assert diagnosis_words("Follow-up scan due, call 020 7946 0000") == []


@pytest.mark.parametrize("status", list(FeedItemStatus))
@pytest.mark.parametrize("kind", list(ItemKind))
def test_default_text_renders_for_every_kind_without_diagnosis(
    env: jinja2.Environment, kind: ItemKind, status: FeedItemStatus
) -> None:
    booked = "Monday 30 March 2026 at 09:30 (Europe/London time)"
    for window, booked_at_local in ((WINDOW, None), (None, booked)):
        summary, description = render_event_text(
            env,
            kind,
            detailed=False,
            clinic_phone=PHONE,
            window=window,
            booked_at_local=booked_at_local,
            status=status,
        )
        assert summary and "\n" not in summary
        assert diagnosis_words(summary + "\n" + description) == []
        assert PHONE in description


@pytest.mark.parametrize(
    ("kind", "summary"),
    [
        (ItemKind.MRI, "Follow-up scan due"),
        (ItemKind.CGA, "Blood test due"),
        (ItemKind.HIAA5, "Urine test due"),
        (ItemKind.SSA_INJECTION, "Injection due"),
        (ItemKind.ENDOSCOPY, "Hospital procedure due"),
        (ItemKind.PRRT_CYCLE, "Hospital treatment due"),
        (ItemKind.CLINIC_VISIT, "Follow-up appointment due"),
        (ItemKind.TUMOUR_BOARD, "Care team review"),
    ],
)
def test_generic_summaries(env: jinja2.Environment, kind: ItemKind, summary: str) -> None:
    got, _ = render_event_text(
        env, kind, detailed=False, clinic_phone=PHONE, window=WINDOW, booked_at_local=None
    )
    assert got == summary


@pytest.mark.parametrize("kind", list(ItemKind))
def test_detailed_text_names_every_kind(env: jinja2.Environment, kind: ItemKind) -> None:
    generic, _ = render_event_text(
        env, kind, detailed=False, clinic_phone=PHONE, window=WINDOW, booked_at_local=None
    )
    detailed, _ = render_event_text(
        env, kind, detailed=True, clinic_phone=PHONE, window=WINDOW, booked_at_local=None
    )
    assert detailed and detailed != generic


def test_detailed_examples(env: jinja2.Environment) -> None:
    def summary(kind: ItemKind, status: FeedItemStatus) -> str:
        return render_event_text(
            env,
            kind,
            detailed=True,
            clinic_phone=PHONE,
            window=WINDOW,
            booked_at_local=None,
            status=status,
        )[0]

    assert summary(ItemKind.MRI, FeedItemStatus.PLANNED) == "MRI scan due"
    assert summary(ItemKind.CGA, FeedItemStatus.CANCELLED) == "Cancelled: Chromogranin A blood test"


@pytest.mark.parametrize(
    ("status", "prefix"),
    [
        (FeedItemStatus.CANCELLED, "Cancelled: "),
        (FeedItemStatus.SUPERSEDED, "Changed: "),
        (FeedItemStatus.DONE, "Done: "),
    ],
)
def test_closed_items_are_prefixed(
    env: jinja2.Environment, status: FeedItemStatus, prefix: str
) -> None:
    # Some Android apps show a cancelled event as if confirmed: the words must say it too.
    summary, _ = render_event_text(
        env,
        ItemKind.CT,
        detailed=False,
        clinic_phone=PHONE,
        window=WINDOW,
        booked_at_local=None,
        status=status,
    )
    assert summary == prefix + "Follow-up scan"


def test_the_description_gives_the_window_and_the_slow_refresh_warning(
    env: jinja2.Environment,
) -> None:
    _, description = render_event_text(
        env, ItemKind.MRI, detailed=False, clinic_phone=PHONE, window=WINDOW, booked_at_local=None
    )
    assert "31 January 2026 to 31 July 2026" in description
    assert "Google about every 8–24 hours" in description
    assert "letter, text message or email" in description


def test_a_booked_description_gives_the_clinic_time(env: jinja2.Environment) -> None:
    instant = dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC)
    item = FeedItem(
        id=7,
        kind=ItemKind.CLINIC_VISIT,
        earliest=dt.date(2026, 3, 1),
        target=dt.date(2026, 3, 30),
        latest=dt.date(2026, 4, 30),
        status=FeedItemStatus.BOOKED,
        sequence=1,
        updated_at=instant,
        booked_at=instant,
    )
    summary, description = render_item_text(
        env, item, detailed=False, clinic_phone=PHONE, tz_name="Europe/London"
    )
    assert summary == "Follow-up appointment"
    assert "Monday 30 March 2026 at 09:30 (Europe/London time)" in description


def test_the_calendar_description(env: jinja2.Environment) -> None:
    text = render_calendar_description(env, clinic_phone=PHONE)
    assert PHONE in text
    assert "8–24 hours" in text
    assert diagnosis_words(text) == []


def test_an_event_needs_a_window_or_a_time(env: jinja2.Environment) -> None:
    with pytest.raises(ValueError, match="window"):
        render_event_text(
            env, ItemKind.CT, detailed=False, clinic_phone=PHONE, window=None, booked_at_local=None
        )


def test_formatting_helpers() -> None:
    assert format_day(dt.date(2028, 2, 29)) == "29 February 2028"
    winter = dt.datetime(2026, 10, 26, 9, 30, tzinfo=dt.UTC)
    assert local_time_text(winter, "Europe/London").endswith("at 09:30 (Europe/London time)")
    with pytest.raises(ValueError, match="aware"):
        local_time_text(dt.datetime(2026, 1, 1), "Europe/London")  # noqa: DTZ001


def test_dates_are_written_in_english_whatever_the_servers_locale() -> None:
    import locale

    from surveil.render.templating import format_day

    before = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("fr_FR.UTF-8", "de_DE.UTF-8", "C.UTF-8"):
            try:
                locale.setlocale(locale.LC_TIME, name)
            except locale.Error:
                continue  # not installed here; the table does not depend on it anyway
            assert format_day(dt.date(2027, 2, 1)) == "1 February 2027"
            assert format_day(dt.date(2024, 12, 31)) == "31 December 2024"
    finally:
        locale.setlocale(locale.LC_TIME, before)


def test_a_review_is_never_called_the_patients_appointment(env: jinja2.Environment) -> None:
    """Even handed a booking time, a tumour board's text asks nothing of the patient."""
    summary, description = render_event_text(
        env,
        ItemKind.TUMOUR_BOARD,
        detailed=False,
        clinic_phone=PHONE,
        window=WINDOW,
        booked_at_local="Tuesday 28 April 2026 at 14:00 (Europe/London time)",
        status=FeedItemStatus.BOOKED,
    )
    assert summary == "Care team review"
    assert "appointment" not in description.lower() and "14:00" not in description
    assert "You do not need to come in." in description


# --- words are remembered, exactly --------------------------------------------------------


def _clinic_templates(tmp_path: Path, summary: str) -> jinja2.Environment:
    """The shipped templates with the event summary replaced by ``summary``."""
    root = tmp_path / "templates"
    shutil.copytree(make_environment().loader.searchpath[0], root)  # type: ignore[union-attr]
    (root / "ical" / "summary.txt").write_text(summary)
    return make_environment(root)


def _words(env: jinja2.Environment, window: tuple[dt.date, dt.date]) -> tuple[str, str]:
    return render_event_text(
        env, ItemKind.MRI, detailed=False, clinic_phone="020 7946 0000", window=window,
        booked_at_local=None,
    )  # fmt: skip


def test_remembered_words_are_the_words_rendered_afresh() -> None:
    env = make_environment()
    window = (dt.date(2027, 3, 1), dt.date(2027, 8, 31))
    first = _words(env, window)
    assert _words(env, window) == first
    context = {
        "wording": "scan", "kind": "mri", "detailed": False, "state": "due", "booked": False,
        "booked_at_local": "", "window_from": "1 March 2027", "window_to": "31 August 2027",
        "clinic_phone": "020 7946 0000", "calendar_note": True,
    }  # fmt: skip
    assert first[1] == render_text(env, "ical/description.txt", context)
    assert referenced_names(env, "ical/summary.txt") == (
        "booked", "detailed", "kind", "state", "wording"
    )  # fmt: skip


def test_a_clinic_summary_that_reads_the_dates_is_remembered_by_them(tmp_path: Path) -> None:
    # The shipped summary does not mention the dates; a clinic's own may. The key follows
    # what the template reads, so two windows never share a remembered summary.
    env = _clinic_templates(tmp_path, "Scan from {{ window_from }}")
    march = _words(env, (dt.date(2027, 3, 1), dt.date(2027, 3, 5)))
    april = _words(env, (dt.date(2027, 4, 1), dt.date(2027, 4, 5)))
    assert (march[0], april[0]) == ("Scan from 1 March 2027", "Scan from 1 April 2027")


def test_a_template_that_picks_its_include_at_run_time_is_not_remembered(
    tmp_path: Path,
) -> None:
    env = _clinic_templates(tmp_path, '{% include "ical/_" ~ state ~ ".txt" %}')
    (tmp_path / "templates" / "ical" / "_due.txt").write_text("Due")
    assert referenced_names(env, "ical/summary.txt") is None
    assert _words(env, (dt.date(2027, 3, 1), dt.date(2027, 3, 5)))[0] == "Due"
