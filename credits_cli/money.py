"""Exact money: parsing what people type, rounding, storage units, formatting.

Every amount in the product is a :class:`~decimal.Decimal`. In the database an
amount is an integer count of ``1 / 10**SCALE`` of the currency's major unit
(``SCALE`` = 4: charges carry four decimal places and the ledger keeps them).
There is exactly one rounding helper, :func:`round_money`, and it rounds half
up. Floats are refused at every door.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from credits_cli.errors import InvalidInput

#: Decimal places kept by the ledger, the balance and every charge.
SCALE = 4
QUANT = Decimal(1).scaleb(-SCALE)  # Decimal("0.0001")
_UNIT = 10**SCALE
#: Zero money, with the ledger's places (the one ZERO of the product).
ZERO = Decimal(0).quantize(QUANT)

#: ISO 4217 minor digits of the currencies we know. Amounts a person enters
#: (top-ups, thresholds) may not have more decimals than this.
CURRENCY_DIGITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "BGN": 2,
    "RUB": 2,
    "TRY": 2,
    "ZAR": 2,
    "BRL": 2,
    "MXN": 2,
    "INR": 2,
    "SGD": 2,
    "HKD": 2,
    "CNY": 2,
    "TWD": 2,
    "THB": 2,
    "MYR": 2,
    "AED": 2,
    "SAR": 2,
    "ILS": 2,
    "EGP": 2,
    "ARS": 2,
    "CLP": 0,
    "COP": 2,
    "PEN": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "VND": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}

#: The largest amount a person may type, in major units. Far above any real
#: purchase, far below anything that could overflow a 64-bit integer column.
MAX_INPUT = Decimal("100000000")  # 100 million
#: The largest magnitude the database can hold (signed 64-bit in 1e-4 units).
MAX_UNITS = 2**63 - 1

_AMOUNT_RE = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,12})?$")


def currency_digits(currency: str) -> int:
    try:
        return CURRENCY_DIGITS[currency]
    except KeyError:
        raise InvalidInput(f"unknown currency {currency!r}; known: {', '.join(sorted(CURRENCY_DIGITS))}") from None


def check_currency(currency: str) -> str:
    code = currency.strip().upper()
    currency_digits(code)
    return code


def parse_amount(
    text: str, currency: str, *, what: str = "amount", signed: bool = False, zero: bool = False
) -> Decimal:
    """Parse an amount a person typed: plain digits with an optional decimal point.

    Refuses zero (unless ``zero``), negatives (unless ``signed``: then ``-`` or ``+``
    leads), NaN and infinities, exponents, thousands separators, more decimals than
    the currency has, and absurd sizes.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text such as 100 or 100.50")
    raw = text.strip()
    digits = currency_digits(currency)
    if not raw:
        raise InvalidInput(f"{what} is empty; give a number such as 100 or 100.50")
    if signed and raw[:1] in "+-" and len(raw) > 1:
        value = parse_amount(raw[1:], currency, what=what)
        return -value if raw[0] == "-" else value
    if raw.startswith("-"):
        raise InvalidInput(f"{what} {raw} is negative; give a positive amount")
    if not _AMOUNT_RE.match(raw):
        raise InvalidInput(
            f"{what} {raw!r} is not a plain decimal number such as 100 or 100.50 "
            "(no signs, exponents, separators or currency symbols)"
        )
    value = Decimal(raw)
    if value == 0 and not zero:
        raise InvalidInput(f"{what} must be more than zero")
    places = len(raw.partition(".")[2].rstrip("0"))
    if places > digits:
        raise InvalidInput(f"{what} {raw} has more decimals than {currency} allows ({digits})")
    if value > MAX_INPUT:
        raise InvalidInput(f"{what} {raw} is too large (at most {MAX_INPUT:f} {currency})")
    return value


def parse_decimal(text: object, *, what: str = "value", allow_negative: bool = False) -> Decimal:
    """Parse a decimal from a data file (a rate, a charge column): exact, no floats.

    Floats are refused: a YAML or JSON value must arrive as a string or an int.
    """
    if isinstance(text, bool) or isinstance(text, float):
        raise InvalidInput(f"{what} {text!r} must be written as a quoted decimal string")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, str):
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise InvalidInput(f"{what} {text!r} is not a decimal number") from None
    elif isinstance(text, Decimal):
        value = text
    else:
        raise InvalidInput(f"{what} {text!r} is not a decimal number")
    if not value.is_finite():
        raise InvalidInput(f"{what} {text!r} is not a finite number")
    if value < 0 and not allow_negative:
        raise InvalidInput(f"{what} {text!r} is negative")
    return value


def round_money(value: Decimal, places: int = SCALE) -> Decimal:
    """The one rounding rule for money: half up, to ``places`` decimals."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer ceiling division (for billing increments)."""
    return -(-numerator // denominator)


def ceil_money(value: Decimal, places: int = SCALE) -> Decimal:
    """Round up to ``places`` decimals (used for recommendations, never for charges)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)


def to_units(value: Decimal) -> int:
    """Decimal amount -> integer storage units. Refuses anything finer than SCALE."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, not {type(value).__name__}")
    scaled = value.scaleb(SCALE)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {SCALE} decimal places")
    units = int(scaled)
    if abs(units) > MAX_UNITS:
        raise InvalidInput(f"amount {value} is too large to store")
    return units


def from_units(units: int) -> Decimal:
    """Integer storage units -> Decimal with exactly SCALE places."""
    return Decimal(units).scaleb(-SCALE).quantize(QUANT)


def fmt(value: Decimal, currency: str | None = None) -> str:
    """``12.3400`` style string (JSON and CSV), with the currency code if given."""
    text = f"{value.quantize(QUANT):f}"
    return f"{text} {currency}" if currency else text


def fmt_display(value: Decimal, currency: str) -> str:
    """Human display: the currency's own digits unless finer (``5000.00 RUB``, ``0.1610 USD``).

    No thousands separators: an amount is printed the way :func:`parse_amount` accepts it, so what a
    message says (a minimum purchase, a recommended trigger) can be copied into the next command.
    Grouping is not accepted on input because it is ambiguous (``1,500`` is one and a half in much of
    Europe) and an amount of money must not be guessed.
    """
    digits = currency_digits(currency) if currency in CURRENCY_DIGITS else 2
    q = value.quantize(QUANT)
    if q != q.quantize(Decimal(1).scaleb(-digits)):
        digits = SCALE
    return f"{q:.{digits}f} {currency}"
