"""Names folded for search: case, accents and punctuation never stand between a nurse and a
patient."""

import pytest

from surveil.core.names import fold, prefix_end, search_keys


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Björk", "bjork"),
        ("BJÖRK", "bjork"),
        ("O'Brien", "obrien"),
        ("O’Brien", "obrien"),
        ("Okafor, Ada", "okafor ada"),
        ("  Smith-Jones ", "smith jones"),
        ("Łukasz Żółć", "lukasz zolc"),
        ("Øster Ærø", "oster aero"),
        ("Straße", "strasse"),
        ("İpek", "ipek"),
        ("Nguyễn", "nguyen"),
        ("李 小龍", "李 小龍"),  # scripts without case or accents pass through
        ("", ""),
    ],
)
def test_fold(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_the_stored_keys_start_with_either_name() -> None:
    assert search_keys("Núñez", "José María") == ("nunez jose maria", "jose maria nunez")
    assert search_keys("Okafor", "") == ("okafor", "okafor")


def test_prefix_end_bounds_exactly_the_texts_that_start_with_the_prefix() -> None:
    keys = ["oka", "okafor ada", "okaz", "okb", "ok", "ok z", "ojz"]
    inside = [k for k in keys if "oka" <= k < prefix_end("oka")]
    assert inside == [k for k in keys if k.startswith("oka")]
    with pytest.raises(ValueError):
        prefix_end("")
