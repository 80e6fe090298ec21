"""Numbers typed or received are ASCII digits; other scripts' digits are refused everywhere."""

import re
from pathlib import Path

import pytest

from surveil.core.digits import is_digits, only_digits

SOURCE = Path(__file__).parents[2] / "surveil"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0042", True), ("7", True), ("", False), ("4 2", False), ("-1", False), ("¹", False),
     ("12¹", False), ("٣", False), ("①", False), ("１２", False), ("4.2", False)],
)  # fmt: skip
def test_is_digits(text: str, expected: bool) -> None:
    assert is_digits(text) is expected


def test_only_digits_keeps_ascii_digits_in_order() -> None:
    assert only_digits("123 456") == "123456"
    assert only_digits("１２3¹٣4") == "34"


def test_no_module_checks_digits_another_way() -> None:
    """The fuzzer found a 500 where "¹".isdigit() let int() raise: every check goes through
    surveil.core.digits, and regular expressions that read numbers match ASCII digits only."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name == "digits.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            method = re.search(r"\.is(digit|decimal|numeric)\(", line)
            # Log redaction (logs.py) may match more than ASCII: hiding too much is safe.
            pattern = "\\d" in line and "re.compile" in line and "re.ASCII" not in line
            if method or (pattern and path.name != "logs.py"):
                found.append(f"{path.relative_to(SOURCE)}:{number}: {line.strip()}")
    assert not found, "use surveil.core.digits, or re.ASCII:\n" + "\n".join(found)
