"""WHO 2019 grading of neuroendocrine neoplasms (clinical-reference §3a).

Bands follow the printed ranges: Ki-67 < 3 % is G1, 3–20 % G2, > 20 % G3; mitoses per 2 mm² < 2 is
G1, 2–20 G2, > 20 G3. The higher of the two indices wins. Poor differentiation is NEC whatever the
numbers: NET G3 versus NEC is a morphological call, never a Ki-67 one.
"""

from surveil.core.vocab import Differentiation, Grade

_ORDER = {Grade.GX: 0, Grade.G1: 1, Grade.G2: 2, Grade.G3: 3, Grade.NEC: 4}


def grade_from_ki67(ki67: float) -> Grade:
    if ki67 < 3:
        return Grade.G1
    if ki67 <= 20:
        return Grade.G2
    return Grade.G3


def grade_from_mitoses(mitoses: float) -> Grade:
    if mitoses < 2:
        return Grade.G1
    if mitoses <= 20:
        return Grade.G2
    return Grade.G3


def who_grade(
    differentiation: Differentiation | None, ki67: float | None, mitoses: float | None
) -> Grade:
    """The WHO 2019 grade of one pathology result."""
    if differentiation is Differentiation.POOR:
        return Grade.NEC
    bands = []
    if ki67 is not None:
        bands.append(grade_from_ki67(ki67))
    if mitoses is not None:
        bands.append(grade_from_mitoses(mitoses))
    return highest_grade(bands)


def highest_grade(grades: "list[Grade] | tuple[Grade, ...]") -> Grade:
    """The most aggressive grade among several; GX when there is none."""
    return max(grades, key=_ORDER.__getitem__, default=Grade.GX)


def grade_rank(grade: Grade) -> int:
    return _ORDER[grade]
