"""money.py: the one door amounts come through."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credits_cli import currencies, money
from credits_cli.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("100", "USD", "100"),
        ("100.50", "USD", "100.50"),
        ("0.01", "USD", "0.01"),
        # Trailing zeros beyond the currency's digits: the value is exact, so it is accepted.
        ("100.500", "USD", "100.500"),
        ("  250  ", "USD", "250"),
        ("7000", "JPY", "7000"),
        ("7000.0", "JPY", "7000"),
        ("1.234", "KWD", "1.234"),
        ("100000000", "USD", "100000000"),
    ],
)
def test_parse_amount_accepts(text: str, currency: str, expected: str) -> None:
    value = money.parse_amount(text, currency)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "currency", "needle"),
    [
        ("0", "USD", "more than zero"),
        ("0.00", "USD", "more than zero"),
        ("-5", "USD", "negative"),
        ("-0.01", "USD", "negative"),
        ("NaN", "USD", "plain decimal"),
        ("nan", "USD", "plain decimal"),
        ("Infinity", "USD", "plain decimal"),
        ("inf", "USD", "plain decimal"),
        ("1e3", "USD", "plain decimal"),
        ("1E3", "USD", "plain decimal"),
        ("1,000", "USD", "plain decimal"),
        ("$100", "USD", "plain decimal"),
        ("100USD", "USD", "plain decimal"),
        ("+100", "USD", "plain decimal"),
        ("100.", "USD", "plain decimal"),
        (".5", "USD", "plain decimal"),
        ("1 000", "USD", "plain decimal"),
        ("0x10", "USD", "plain decimal"),
        ("1_000", "USD", "plain decimal"),
        ("١٠٠", "USD", "plain decimal"),  # Arabic-Indic digits
        ("１００", "USD", "plain decimal"),  # full-width digits
        ("100.123", "USD", "more decimals"),
        ("100.5", "JPY", "more decimals"),
        ("1.2345", "KWD", "more decimals"),
        ("100000000.01", "USD", "too large"),
        ("99999999999999", "USD", "too large"),
        ("9" * 40, "USD", "plain decimal"),
        ("1." + "0" * 30 + "1", "USD", "plain decimal"),
        ("", "USD", "empty"),
        ("   ", "USD", "empty"),
        ("\t\n", "USD", "empty"),
        ("100\n200", "USD", "plain decimal"),
        ("100", "XXX", "unknown currency"),
    ],
)
def test_parse_amount_refuses(text: str, currency: str, needle: str) -> None:
    with pytest.raises(InvalidInput) as info:
        money.parse_amount(text, currency)
    assert needle in str(info.value)
    assert "\n" not in str(info.value).strip() or needle == "plain decimal"


def test_parse_amount_refuses_non_text() -> None:
    with pytest.raises(InvalidInput):
        money.parse_amount(100.5, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("1.00005", 4, "1.0001"),
        ("1.00004", 4, "1.0000"),
        ("2.5", 0, "3"),
        ("3.5", 0, "4"),  # half up, not half even
        ("0.125", 2, "0.13"),
        ("0.135", 2, "0.14"),
        ("-0.125", 2, "-0.13"),  # half away from zero for debits
        ("1.23449", 3, "1.234"),
    ],
)
def test_round_money_half_up(value: str, places: int, expected: str) -> None:
    result = money.round_money(Decimal(value), places)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_units_round_trip_examples() -> None:
    for text in ("0", "0.0001", "12.34", "-5.5", "100000000", "-0.0001"):
        value = Decimal(text)
        units = money.to_units(value)
        assert isinstance(units, int)
        assert money.from_units(units) == value
        assert money.from_units(units).as_tuple().exponent == -money.SCALE


def test_to_units_refuses_float_and_finer_than_scale() -> None:
    with pytest.raises(TypeError):
        money.to_units(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        money.to_units(Decimal("0.00001"))
    with pytest.raises(InvalidInput):
        money.to_units(Decimal(2**63))


@given(value=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999999"), places=3),
       currency=st.sampled_from(["USD", "JPY", "KWD", "RUB"]))
def test_an_amount_printed_is_an_amount_accepted(value: Decimal, currency: str) -> None:
    """What a message says (a minimum purchase, a recommended trigger) can be typed into the next command."""
    amount = money.round_money(value, currencies.digits(currency))
    if amount <= 0:
        return
    number, code = currencies.display(amount, currency).split(" ")
    assert code == currency and money.parse_amount(number, currency) == amount


def test_fmt() -> None:
    assert money.fmt(Decimal("12.34")) == "12.3400"
    assert money.fmt(Decimal("12.34"), "USD") == "12.3400 USD"
    assert currencies.display(Decimal("1234.5"), "USD") == "1234.50 USD"
    assert currencies.display(Decimal("7000"), "JPY") == "7000 JPY"
    assert currencies.display(Decimal("0.0123"), "USD") == "0.0123 USD"
    assert currencies.display(Decimal("1.5"), "KWD") == "1.500 KWD"


# --- properties ---------------------------------------------------------------------

CURRENCIES = st.sampled_from(["USD", "JPY", "KWD", "EUR", "CLP", "BHD"])


@st.composite
def valid_amount_text(draw: st.DrawFn) -> tuple[str, str]:
    currency = draw(CURRENCIES)
    digits = currencies.digits_table()[currency]
    whole = draw(st.integers(min_value=0, max_value=int(money.MAX_INPUT) - 1))
    places = draw(st.integers(min_value=0, max_value=digits))
    frac = draw(st.integers(min_value=0, max_value=10**places - 1)) if places else 0
    text = str(whole) if places == 0 else f"{whole}.{frac:0{places}d}"
    if Decimal(text) == 0:
        text = "1" if places == 0 else f"0.{1:0{places}d}"
    return text, currency


@settings(max_examples=300)
@given(valid_amount_text())
def test_valid_text_parses_exactly(case: tuple[str, str]) -> None:
    text, currency = case
    value = money.parse_amount(text, currency)
    assert type(value) is Decimal
    assert value == Decimal(text)
    assert str(value) == text  # exactly what was typed, no rounding, no float detour
    assert money.from_units(money.to_units(value)) == value


@settings(max_examples=500)
@given(st.text(), CURRENCIES)
def test_arbitrary_text_parses_or_raises_invalid_input(text: str, currency: str) -> None:
    try:
        value = money.parse_amount(text, currency)
    except InvalidInput as exc:
        assert str(exc)
        return
    assert type(value) is Decimal
    assert value.is_finite() and 0 < value <= money.MAX_INPUT
    assert -value.as_tuple().exponent <= 12  # type: ignore[operator]


@settings(max_examples=300)
@given(st.from_regex(r"\A[-+]?[0-9]{0,20}([.,][0-9]{0,20})?([eE][-+]?[0-9]{1,4})?\Z"), CURRENCIES)
def test_numberish_text_never_escapes_invalid_input(text: str, currency: str) -> None:
    try:
        value = money.parse_amount(text, currency)
    except InvalidInput:
        return
    assert type(value) is Decimal
    assert value > 0
    assert "e" not in text.lower() and "," not in text and "-" not in text


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_units_round_trip_property(units: int) -> None:
    value = money.from_units(units)
    assert type(value) is Decimal
    assert money.to_units(value) == units


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9))
def test_round_money_is_within_half_a_unit(value: Decimal) -> None:
    rounded = money.round_money(value)
    assert abs(rounded - value) <= Decimal("0.00005")
    assert money.round_money(rounded) == rounded
