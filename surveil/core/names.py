"""Names as a search box compares them: case-blind and accent-blind, punctuation ignored.

A nurse types "bjor" and expects "Björk"; "o'brien", "OBrien" and "O’Brien" are the same person;
"okafor, ada" and "Okafor Ada" are the same query. The registry stores each patient's name
folded this way (``patient.search_name``, family then given, and ``patient.search_given``, given
then family) so that a prefix search is one range over an index, whatever the database's own
collation would make of accents.
"""

import re
import unicodedata

# Letters that Unicode does not decompose into a base letter and an accent, folded by hand to
# what a person without the key on their keyboard would type.
_FOLDED_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)
# Apostrophes join a name ("O'Brien" is "obrien"); any other run of non-letters separates words.
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_SEPARATORS = re.compile(r"[\W_]+")
KEY_LENGTH = 255  # the stored key's column width


def fold(text: str) -> str:
    """``text`` casefolded, accents stripped, punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    joined = _APOSTROPHES.sub("", bare.translate(_FOLDED_LETTERS))
    return " ".join(_SEPARATORS.split(joined)).strip()[:KEY_LENGTH]


def search_keys(family_name: str, given_name: str) -> tuple[str, str]:
    """The two stored keys of a name: (family then given, given then family)."""
    family, given = fold(family_name), fold(given_name)
    return _join(family, given), _join(given, family)


def _join(first: str, second: str) -> str:
    return f"{first} {second}".strip()[:KEY_LENGTH]


def prefix_end(prefix: str) -> str:
    """A text greater than every text starting with ``prefix`` (not empty) and smaller than any
    other: the exclusive end of an index range, in code-point order (SQLite's BINARY collation,
    PostgreSQL's C). The search also tests the prefix itself, so a database whose collation
    orders text otherwise still returns only true matches."""
    if not prefix:
        raise ValueError("an empty prefix has no end")
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
