"""The code table: every standard code carries a valid check digit, each marker result gets the
code of its unit's dimension (or none), and docs/fhir.md lists exactly the codes sent."""

import re
from pathlib import Path

import pytest

from surveil.core.vocab import MARKER_KINDS, ItemKind, ItemState
from surveil.db import models as m
from surveil.services.export.fhir import codes as c
from surveil.services.export.fhir.codes import Code, Dimension

DOCS = Path(__file__).resolve().parents[3] / "docs" / "fhir.md"


def standard_codes() -> list[Code]:
    found = [code for table in c.MARKER_CODES.values() for code in table.values()]
    found += [*c.PROCEDURE_CODES.values(), *c.SITES.values(), *c.REGIONS.values()]
    found += [c.LESION_DIAMETER, c.IMAGING, c.LABORATORY, c.REGIONAL_NODES_PATHOLOGY]
    return found


def loinc_check_digit(number: str) -> int:
    """LOINC's mod 10: double the digits in odd places from the right, put the others in
    front, add up every digit, and take what is left to the next multiple of ten."""
    reversed_digits = number[::-1]
    odd, even = reversed_digits[0::2][::-1], reversed_digits[1::2][::-1]
    joined = even + str(int(odd) * 2)
    return -sum(int(d) for d in joined) % 10


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
# The permutations: the first moves each digit, the others apply it again and again.
_VERHOEFF_P = [list(range(10)), [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]]
for _ in range(6):
    _VERHOEFF_P.append([_VERHOEFF_P[-1][_VERHOEFF_P[1][digit]] for digit in range(10)])


def verhoeff_valid(number: str) -> bool:
    """SNOMED CT identifiers end in a Verhoeff check digit over all the others."""
    check = 0
    for place, digit in enumerate(reversed(number)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[place % 8][int(digit)]]
    return check == 0


@pytest.mark.parametrize(
    ("number", "valid"), [("9811-1", True), ("2333-3", True), ("9811-2", False)]
)
def test_the_loinc_check_digit_itself(number: str, valid: bool) -> None:
    body, digit = number.split("-")
    assert (loinc_check_digit(body) == int(digit)) is valid


@pytest.mark.parametrize(
    ("number", "valid"), [("138875005", True), ("404684003", True), ("404684002", False)]
)
def test_the_verhoeff_check_itself(number: str, valid: bool) -> None:
    assert verhoeff_valid(number) is valid


@pytest.mark.parametrize("code", standard_codes(), ids=lambda code: code.code)
def test_every_standard_code_has_a_valid_check_digit(code: Code) -> None:
    if code.system == c.LOINC:
        body, digit = code.code.split("-")
        assert loinc_check_digit(body) == int(digit), f"{code.code}: check digit"
    else:
        assert code.system == c.SNOMED
        assert re.fullmatch(r"\d{6,18}", code.code) and verhoeff_valid(code.code), code.code


@pytest.mark.parametrize(
    ("kind", "unit", "expected"),
    [
        (ItemKind.CGA, "ug/L", "9811-1"),
        (ItemKind.CGA, " µg/l ", "9811-1"),
        (ItemKind.CGA, "nmol/L", "25587-7"),
        (ItemKind.CGA, "U/L", None),  # an assay in units: no code of that dimension
        (ItemKind.CGA, "", None),
        (ItemKind.CGA, "furlongs", None),
        (ItemKind.HIAA5, "umol/24h", "14573-0"),
        (ItemKind.HIAA5, "mg/24h", "1695-6"),
        (ItemKind.PROLACTIN, "mU/L", "15081-3"),
        (ItemKind.PP, "pmol/L", None),  # no code found for pancreatic polypeptide
    ],
)
def test_a_marker_result_gets_the_code_of_its_units_dimension(
    kind: ItemKind, unit: str, expected: str | None
) -> None:
    found = c.marker_code(kind, unit)
    assert (found.code if found else None) == expected


def test_each_marker_code_matches_its_dimension_in_the_loinc_name() -> None:
    """The LOINC long name says the property: [Mass/volume], [Moles/volume], [Units/volume],
    [Mass/time], [Moles/time]. A code filed under the wrong dimension would send a wrong unit."""
    words = {
        Dimension.MASS_CONC: "[Mass/volume]",
        Dimension.SUBSTANCE_CONC: "[Moles/volume]",
        Dimension.ARBITRARY_CONC: "[Units/volume]",
        Dimension.MASS_RATE: "[Mass/time]",
        Dimension.SUBSTANCE_RATE: "[Moles/time]",
    }
    for kind, table in c.MARKER_CODES.items():
        assert kind in MARKER_KINDS
        for dimension, code in table.items():
            assert words[dimension] in code.display, (kind, code)


def test_every_open_state_has_a_task_and_request_status() -> None:
    assert set(c.TASK_STATUS) == set(m.OPEN_ITEM_STATES) == set(c.SERVICE_REQUEST_STATUS)
    assert ItemState.DONE not in c.TASK_STATUS  # closed items are not exported


def documented_codes() -> set[tuple[str, str]]:
    """(system, code) of every standard code in the table of docs/fhir.md."""
    systems = {"LOINC": c.LOINC, "SNOMED CT": c.SNOMED}
    found = set()
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1] in systems:
            found |= {(systems[cells[1]], code) for code in re.findall(r"`([\d-]+)`", cells[2])}
    return found


def test_docs_list_exactly_the_standard_codes_sent() -> None:
    sent = {(code.system, code.code) for code in standard_codes()}
    assert documented_codes() == sent
