"""Numbers typed or received are ASCII digits; other scripts' digits are refused everywhere."""

import ast
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


DIGIT_METHODS = {"isdigit", "isdecimal", "isnumeric"}
REGEX_CALLS = {"compile", "match", "search", "fullmatch", "sub", "subn", "findall", "finditer",
               "split"}  # fmt: skip
# Log redaction may match more than ASCII digits: hiding too much is safe.
UNICODE_DIGITS_ALLOWED = {SOURCE / "logs.py"}


def _ascii_flag(call: ast.Call) -> bool:
    # The flags' place differs (compile's second, match's third, sub's fifth): any will do.
    flags = [*call.args[1:], *(k.value for k in call.keywords if k.arg == "flags")]
    return any(
        isinstance(node, ast.Attribute) and node.attr in {"ASCII", "A"}
        for flag in flags
        for node in ast.walk(flag)
    )


def _problems(path: Path) -> list[str]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        # s.isdigit(), str.isdigit passed as a function: both say yes to "¹" and "٣".
        if isinstance(node, ast.Attribute) and node.attr in DIGIT_METHODS:
            found.append((node.lineno, f".{node.attr}"))
        # re.compile(r"\d+") and friends without re.ASCII match every script's digits.
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in REGEX_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and "\\d" in node.args[0].value
            and not node.args[0].value.startswith("(?a)")
            and not _ascii_flag(node)
            and path not in UNICODE_DIGITS_ALLOWED
        ):
            found.append((node.lineno, f"re.{node.func.attr}({node.args[0].value!r})"))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_no_module_checks_digits_another_way() -> None:
    """The fuzzer found a 500 where "¹".isdigit() let int() raise: every check goes through
    surveil.core.digits, and regular expressions that read numbers match ASCII digits only."""
    found = [
        f"{path.relative_to(SOURCE)}:{problem}"
        for path in sorted(SOURCE.rglob("*.py"))
        if path != SOURCE / "core" / "digits.py"
        for problem in _problems(path)
    ]
    assert not found, "use surveil.core.digits, [0-9] or re.ASCII:\n" + "\n".join(found)


def test_the_guard_sees_each_form(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import re\n"
        "a = 'x'.isdigit()\n"
        "b = list(filter(str.isnumeric, 'x'))\n"
        "c = re.compile(r'\\d+')\n"
        "d = re.match(\n    r'(\\d)', 'x')\n"
        "e = re.compile(r'\\d', re.ASCII)\n"
        "f = re.search(r'\\d', 'x', flags=re.I | re.A)\n"
        "g = re.compile(r'(?a)\\d')\n"
        "h = re.compile(r'[0-9]')\n",
        encoding="utf-8",
    )
    assert [line.split(":")[0] for line in _problems(module)] == ["2", "3", "4", "5"]
