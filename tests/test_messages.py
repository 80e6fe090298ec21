import datetime as dt
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest

from surveil.core.vocab import ItemKind
from surveil.errors import InvalidInput
from surveil.render.messages import (
    PARTS,
    SMS_LIMIT,
    Clinic,
    DigestLine,
    digest_context,
    initials,
    message_names,
    patient_context,
    render_message,
)
from surveil.render.templating import make_environment

PATIENT_MESSAGES = ["window-open", "due-soon", "ssa-due"]
CLINIC = Clinic("St Elsewhere Hospital", "020 7946 0000")
# Long enough to find a message that would not fit in two text messages.
LONG_CLINIC = Clinic(
    "The Royal Metropolitan and Borough General Hospital Trust", "+44 20 7946 0000 ext 12345"
)

# Words that would tell a reader (or a lock screen) what the patient has or is tested for.
DIAGNOSIS_WORDS = [
    "cancer", "tumour", "tumor", "neuroendocrine", "carcinoid", "oncolog", "malignan",
    "metasta", "somatostatin", "octreotide", "lanreotide", "lutetium", "chromogranin",
    "hiaa", "prrt", "gastrin", "insulin", "glucagon", "endoscop", "ultrasound", "pet",
    "mri", "ct", "nse", "acth", "igf", "bnp", "multidisciplinary", "mdt", "net",
]  # fmt: skip


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment()


def context(
    kind: ItemKind, clinic: Clinic = CLINIC, first_name: str | None = "Ann"
) -> dict[str, Any]:
    return patient_context(
        clinic=clinic,
        kind=kind,
        earliest=dt.date(2024, 6, 1),
        target=dt.date(2024, 6, 20),
        latest=dt.date(2024, 9, 30),
        first_name=first_name,
    )


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def test_the_message_folders_are_complete(env: jinja2.Environment) -> None:
    assert message_names(env) == sorted([*PATIENT_MESSAGES, "navigator-digest"])
    root = Path(env.loader.searchpath[0]) / "reminders"  # type: ignore[union-attr]
    for name in message_names(env):
        assert sorted(p.name for p in (root / name).iterdir()) == sorted(PARTS)


@pytest.mark.parametrize("name", PATIENT_MESSAGES)
@pytest.mark.parametrize("kind", list(ItemKind))
@pytest.mark.parametrize("clinic", [CLINIC, LONG_CLINIC], ids=["short", "long"])
def test_every_patient_message_renders_for_every_kind_without_a_diagnosis(
    env: jinja2.Environment, name: str, kind: ItemKind, clinic: Clinic
) -> None:
    message = render_message(env, name, context(kind, clinic))
    assert "\n" not in message.subject
    assert 0 < len(message.sms) <= SMS_LIMIT
    assert clinic.phone in message.text and clinic.phone in message.sms
    assert "Ann" in message.text and "Ann" in message.html
    for part in (message.subject, message.text, message.html, message.sms):
        leaked = words(part) & set(DIAGNOSIS_WORDS)
        assert not leaked, f"{name}/{kind}: {leaked}"
        assert "diagnos" not in part.lower()


@pytest.mark.parametrize(
    ("kind", "name"),
    [(ItemKind.MRI, "MRI scan"), (ItemKind.CGA, "Chromogranin A blood test")],
)
def test_a_clinic_can_opt_into_naming_the_test(
    env: jinja2.Environment, kind: ItemKind, name: str
) -> None:
    detailed = Clinic(CLINIC.name, CLINIC.phone, detailed=True)
    for message_name in ("window-open", "due-soon"):
        message = render_message(env, message_name, context(kind, detailed))
        assert name in message.text and name in message.sms and name in message.html
    default = render_message(env, "due-soon", context(kind))
    assert name not in default.text


def test_generic_wording_per_kind(env: jinja2.Environment) -> None:
    expected = {
        ItemKind.MRI: "Follow-up scan",
        ItemKind.CGA: "Blood test",
        ItemKind.HIAA5: "Urine test",
        ItemKind.SSA_INJECTION: "Injection",
        ItemKind.CLINIC_VISIT: "Follow-up appointment",
    }
    for kind, noun in expected.items():
        assert f"What: {noun}" in render_message(env, "due-soon", context(kind)).text


def test_html_escapes_and_text_does_not(env: jinja2.Environment) -> None:
    message = render_message(env, "window-open", context(ItemKind.CT, first_name="Zoë <b>"))
    assert "Dear Zoë <b>," in message.text
    assert "Dear Zoë &lt;b&gt;," in message.html
    assert "<b>" not in message.html


def test_no_first_name_greets_politely(env: jinja2.Environment) -> None:
    message = render_message(env, "due-soon", context(ItemKind.CT, first_name=""))
    assert message.text.startswith("Hello,")


def test_a_missing_variable_is_an_error_not_a_blank(env: jinja2.Environment) -> None:
    incomplete = context(ItemKind.CT)
    del incomplete["clinic_phone"]
    with pytest.raises(jinja2.UndefinedError, match="clinic_phone"):
        render_message(env, "window-open", incomplete)


def write_message(root: Path, subject: str, sms: str) -> jinja2.Environment:
    folder = root / "reminders" / "broken"
    folder.mkdir(parents=True)
    for part, text in zip(PARTS, [subject, "body", "<p>body</p>", sms], strict=True):
        (folder / part).write_text(text)
    return make_environment(root)


def test_a_subject_must_be_one_line(tmp_path: Path) -> None:
    env = write_message(tmp_path, "Reminder\n{{ clinic_name }}", "ok")
    with pytest.raises(InvalidInput) as caught:
        render_message(env, "broken", {"clinic_name": "X"})
    assert [p.field for p in caught.value.problems] == ["reminders/broken/subject.txt"]


def test_an_sms_must_fit_in_two_segments(tmp_path: Path) -> None:
    env = write_message(tmp_path, "Reminder", "{{ 'x' * n }}")
    assert len(render_message(env, "broken", {"n": SMS_LIMIT}).sms) == SMS_LIMIT
    with pytest.raises(InvalidInput) as caught:
        render_message(env, "broken", {"n": SMS_LIMIT + 1})
    assert [p.field for p in caught.value.problems] == ["reminders/broken/sms.txt"]


def test_sms_is_one_paragraph(env: jinja2.Environment) -> None:
    sms = render_message(env, "ssa-due", context(ItemKind.SSA_INJECTION)).sms
    assert "\n" not in sms and "  " not in sms


# --- navigator digest ----------------------------------------------------------------------

LINES = [
    DigestLine("overdue", "700123", initials("Carl", "Dunn"), dt.date(2024, 6, 2), ItemKind.CGA),
    DigestLine(
        "overdue",
        "700456",
        initials("Ann", "Brown"),
        dt.date(2024, 7, 2),
        ItemKind.SSA_INJECTION,
        urgent=True,
    ),
    DigestLine(
        "failed", "700789", "E.F.", dt.date(2024, 7, 1), ItemKind.MRI, note="bad email address"
    ),
    DigestLine("triggered", "700999", "G.H.", dt.date(2024, 7, 1), note="growth above threshold"),
]


def test_digest_counts_urgent_first_and_mrn_with_initials(env: jinja2.Environment) -> None:
    ctx = digest_context(clinic=CLINIC, day=dt.date(2024, 7, 3), lines=LINES)
    message = render_message(env, "navigator-digest", ctx)
    assert "2 overdue (1 urgent), 1 failed, 1 triggered" in message.subject
    overdue = message.text.split("Overdue follow-ups\n")[1].split("\n\n")[0].splitlines()
    assert overdue == [
        "- URGENT: MRN 700456 (A.B.), Injection, since 2 July 2024",
        "- MRN 700123 (C.D.), Blood test, since 2 June 2024",
    ]
    assert "MRN 700789 (E.F.), Follow-up scan, bad email address" in message.text
    assert "MRN 700999 (G.H.), growth above threshold" in message.html
    assert "Brown" not in message.text


def test_digest_subject_and_sms_carry_no_identifiers(env: jinja2.Environment) -> None:
    ctx = digest_context(clinic=CLINIC, day=dt.date(2024, 7, 3), lines=LINES)
    message = render_message(env, "navigator-digest", ctx)
    for part in (message.subject, message.sms):
        assert "700" not in part and "A.B." not in part


def test_an_empty_digest_says_so(env: jinja2.Environment) -> None:
    ctx = digest_context(clinic=CLINIC, day=dt.date(2024, 7, 3), lines=[], worklist_url=None)
    message = render_message(env, "navigator-digest", ctx)
    assert "Nothing needs attention today." in message.text
    assert "0 overdue, 0 failed, 0 triggered" in message.subject


def test_digest_refuses_an_unknown_section() -> None:
    with pytest.raises(ValueError, match="unknown digest section"):
        digest_context(
            clinic=CLINIC,
            day=dt.date(2024, 7, 3),
            lines=[DigestLine("x", "1", "A.", dt.date(2024, 1, 1))],
        )


def test_initials() -> None:
    assert initials("ann", " Brown ") == "A.B."
    assert initials("Ann", None, "") == "A."
