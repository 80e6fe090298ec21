import pytest

from surveil.core.grading import who_grade
from surveil.core.vocab import Differentiation, Grade

W, P = Differentiation.WELL, Differentiation.POOR


@pytest.mark.parametrize(
    ("diff", "ki67", "mitoses", "grade"),
    [
        (W, 2.9, None, Grade.G1),
        (W, 3.0, None, Grade.G2),
        (W, 20.0, None, Grade.G2),
        (W, 20.1, None, Grade.G3),
        (W, None, 1, Grade.G1),
        (W, None, 2, Grade.G2),
        (W, None, 20, Grade.G2),
        (W, None, 21, Grade.G3),
        (W, 1.0, 5, Grade.G2),  # the higher index wins
        (W, 25.0, 1, Grade.G3),
        (P, 15.0, None, Grade.NEC),  # poorly differentiated is NEC whatever the numbers
        (P, None, None, Grade.NEC),
        (W, None, None, Grade.GX),
    ],
)
def test_who_2019_bands(
    diff: Differentiation, ki67: float | None, mitoses: float | None, grade: Grade
) -> None:
    assert who_grade(diff, ki67, mitoses) is grade
