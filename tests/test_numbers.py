"""Phone numbers: digits, masks and countries."""

from __future__ import annotations

import pytest

from credits_cli import numbers
from credits_cli.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("+44 20-7946 0123", "442079460123"),
        ("+1 (206) 555.0100", "12065550100"),
        ("004420794601***", "4420794601***"),
        ("+123 456789***", "123456789***"),
        ("tel:+33140000000", "33140000000"),
        ("anonymous", ""),
        ("+44 20 x", ""),
        ("", ""),
    ],
)
def test_normalise(text: str, digits: str) -> None:
    assert numbers.normalise(text) == digits


def test_visible_digits() -> None:
    assert numbers.visible_digits("4420794601***") == "4420794601"
    assert numbers.visible_digits("442079460123") == "442079460123"
    assert numbers.is_masked("4420794601***") and not numbers.is_masked("44")


@pytest.mark.parametrize(
    ("digits", "country"),
    [
        ("442079460123", "GB"),
        ("4420794601", "GB"),  # masked: the visible digits
        ("441481200000", "GG"),  # +44 shared with Guernsey
        ("12065550100", "US"),
        ("14165550123", "CA"),
        ("1416555", "CA"),  # masked NANP: the area code decides
        ("17875550123", "PR"),
        ("18765550100", "JM"),
        ("77012345678", "KZ"),
        ("74951234567", "RU"),
        ("33612345678", "FR"),
        ("8816123456", None),  # satellite: no country
        ("", None),
        ("999", None),
    ],
)
def test_country_of(digits: str, country: str | None) -> None:
    assert numbers.country_of(digits) == country


def test_check_number_refuses_text_and_overlong_numbers() -> None:
    assert numbers.check_number("+44 20 7946 0123") == "442079460123"
    with pytest.raises(InvalidInput, match="not a phone number"):
        numbers.check_number("hello")
    with pytest.raises(InvalidInput, match="more than 15 digits"):
        numbers.check_number("+1234567890123456")
