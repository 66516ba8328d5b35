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

from credits_cli import currencies
from credits_cli.errors import InvalidInput

#: Decimal places kept by the ledger, the balance and every charge.
SCALE = 4
QUANT = Decimal(1).scaleb(-SCALE)  # Decimal("0.0001")
_UNIT = 10**SCALE
#: Zero money, with the ledger's places (the one ZERO of the product).
ZERO = Decimal(0).quantize(QUANT)

#: The largest amount a person may type, in major units. Far above any real
#: purchase, far below anything that could overflow a 64-bit integer column.
MAX_INPUT = Decimal("100000000")  # 100 million
#: The largest magnitude the database can hold (signed 64-bit in 1e-4 units).
MAX_UNITS = 2**63 - 1

_AMOUNT_RE = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,12})?$")


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
    digits = currencies.digits(currency)
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
        raise InvalidInput(f"{what} {raw} is too large (at most {MAX_INPUT:,} {currency})")
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
