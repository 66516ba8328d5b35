"""Phone numbers: digits, masks and countries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credits_cli import phones
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
    assert phones.normalise(text) == digits


def test_visible_digits() -> None:
    assert phones.visible_digits("4420794601***") == "4420794601"
    assert phones.visible_digits("442079460123") == "442079460123"
    assert phones.is_masked("4420794601***") and not phones.is_masked("44")


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
    assert phones.country_of(digits) == country


def test_check_number_refuses_text_and_overlong_numbers() -> None:
    assert phones.check_number("+44 20 7946 0123") == "442079460123"
    with pytest.raises(InvalidInput, match="not a phone number"):
        phones.check_number("hello")
    with pytest.raises(InvalidInput, match="more than 15 digits"):
        phones.check_number("+1234567890123456")


# --- the shortcuts of country_of agree with the long way -------------------------------------------------------

_SHARED = sorted(code for code, regions in phones._country_codes().items() if len(regions) > 1)
_DIGITS = st.text(alphabet="0123456789", min_size=0, max_size=17)


@given(_DIGITS)
def test_the_three_digit_table_splits_like_the_loop(digits: str) -> None:
    assert phones.split_country_code(digits) == phones._split_slowly(digits)


@settings(max_examples=2000)
@given(st.sampled_from(_SHARED), _DIGITS)
def test_a_shared_code_country_without_parsing_is_what_parsing_says(code: str, national: str) -> None:
    import phonenumbers

    digits = code + national
    fast = phones._region_without_parsing(digits, code)
    if fast == phones._PARSE:
        return  # not a number the shortcut answers: the caller parses
    assert fast == phonenumbers.region_code_for_number(phonenumbers.parse("+" + digits))


def _examples() -> list[tuple[str, str]]:
    """(calling code, national number) of phonenumbers' example numbers of every kind, for every region of a
    shared code: numbers valid in one region, whose tails the test below changes."""
    import phonenumbers

    found = []
    for code in _SHARED:
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[int(code)]:
            for kind in (v for k, v in vars(phonenumbers.PhoneNumberType).items() if k.isupper()):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is not None:
                    found.append((code, str(example.national_number)))
    return sorted(set(found))


@settings(max_examples=3000)
@given(st.sampled_from(_examples()), st.integers(0, 17), st.text(alphabet="0123456789", max_size=17),
       st.integers(-1, 1))
def test_a_region_told_from_metadata_is_what_phonenumbers_says(example: tuple[str, str], keep: int, tail: str,
                                                                 longer: int) -> None:
    # An example number's first ``keep`` digits, then any digits (a number of that region, of another, or of none),
    # as long as the example, one digit more or one less.
    import phonenumbers

    code, national = example
    size = max(2, len(national) + longer)
    number = (national[:keep] + tail + "0" * size)[:size]
    if number[0] == "0":
        number = "1" + number[1:]
    expected = phonenumbers.region_code_for_number(
        phonenumbers.PhoneNumber(country_code=int(code), national_number=int(number)))
    assert phones._region_of(code, number) == expected


@pytest.mark.parametrize(("digits", "country"), [
    ("441481256789", "GG"), ("441534123456", "JE"), ("441624123456", "IM"), ("442079460123", "GB"),
    ("390669812345", "VA"), ("39061234567", "IT"), ("77012345678", "KZ"), ("74951234567", "RU"),
    ("61891621234", "CC"), ("61891641234", "CX"), ("61212345678", "AU"), ("3581812345", "AX"),
])
def test_countries_sharing_a_code_are_told_apart(digits: str, country: str) -> None:
    phones._by_prefix.clear()
    assert phones.country_of(digits) == country
