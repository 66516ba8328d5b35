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

from credits_cli import currencies, i18n
from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _

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
#: The examples of an amount in messages: written with a dot in every language (the one form read).
_EXAMPLES = {"whole": "100", "decimal": "100.50"}


def parse_amount(
    # TRANSLATORS: an amount of money someone typed, named in "{what} must be more than zero" and the like.
    text: str, currency: str, *, what: str = N_("amount"), signed: bool = False, zero: bool = False
) -> Decimal:
    """Parse an amount a person typed: plain digits with an optional decimal point.

    Refuses zero (unless ``zero``), negatives (unless ``signed``: then ``-`` or ``+``
    leads), NaN and infinities, exponents, thousands separators, more decimals than
    the currency has, and absurd sizes. ``what`` names the value in messages: an option
    (``"--tolerance"``, shown as it is) or a word marked with ``N_`` (``N_("threshold")``).
    """
    shown = _(what)
    if not isinstance(text, str):
        # TRANSLATORS: {what} is an option (--threshold) or a word such as "amount". {whole} and
        # {decimal} are 100 and 100.50: amounts are typed with a dot, whatever the language.
        raise InvalidInput(_("{what} must be text such as {whole} or {decimal}").format(what=shown, **_EXAMPLES))
    raw = text.strip()
    digits = currencies.digits(currency)
    if not raw:
        # TRANSLATORS: {what} is an option (--threshold) or a word such as "amount". {whole} and
        # {decimal} are 100 and 100.50: amounts are typed with a dot, whatever the language.
        raise InvalidInput(_("{what} is empty; give a number such as {whole} or {decimal}").format(
            what=shown, **_EXAMPLES))
    if signed and raw[:1] in "+-" and len(raw) > 1:
        value = parse_amount(raw[1:], currency, what=what)
        return -value if raw[0] == "-" else value
    if raw.startswith("-"):
        # TRANSLATORS: {what} is an option (--threshold) or a word such as "amount"; {value} what was typed.
        raise InvalidInput(_("{what} {value} is negative; give a positive amount").format(what=shown, value=raw))
    if not _AMOUNT_RE.match(raw):
        raise InvalidInput(
            # TRANSLATORS: {what} is an option (--threshold) or a word such as "amount"; {value} what was
            # typed, quoted. {whole} and {decimal} are 100 and 100.50: the one form the tool reads is a
            # plain decimal with a dot; if your language writes decimals with a comma, say that a dot is used.
            _("{what} {value} is not a plain decimal number such as {whole} or {decimal} "
              "(no signs, exponents, separators or currency symbols)").format(
                what=shown, value=repr(raw), **_EXAMPLES)
        )
    value = Decimal(raw)
    if value == 0 and not zero:
        # TRANSLATORS: {what} is an option (--threshold) or a word such as "amount".
        raise InvalidInput(_("{what} must be more than zero").format(what=shown))
    places = len(raw.partition(".")[2].rstrip("0"))
    if places > digits:
        # TRANSLATORS: {what} is an option (--threshold) or a word such as "amount"; {value} what was
        # typed; {currency} an ISO 4217 code (USD); {digits} how many decimals that currency has.
        raise InvalidInput(_("{what} {value} has more decimals than {currency} allows ({digits})").format(
            what=shown, value=raw, currency=currency, digits=digits))
    if value > MAX_INPUT:
        # TRANSLATORS: {what} is an option (--threshold) or a word such as "amount"; {value} what was
        # typed; {limit} the largest amount accepted (100,000,000) and {currency} its ISO 4217 code.
        raise InvalidInput(_("{what} {value} is too large (at most {limit} {currency})").format(
            what=shown, value=raw, limit=i18n.decimal(MAX_INPUT), currency=currency))
    return value


# TRANSLATORS: a number read from a data file, named in "{what} {value} is negative" and the like.
def parse_decimal(text: object, *, what: str = N_("value"), allow_negative: bool = False) -> Decimal:
    """Parse a decimal from a data file (a rate, a charge column): exact, no floats.

    Floats are refused: a YAML or JSON value must arrive as a string or an int. ``what`` names
    the value in messages (a word marked with ``N_``, or a key of the file, shown as it is).
    """
    shown = _(what)
    if isinstance(text, bool) or isinstance(text, float):
        # TRANSLATORS: {what} names the value (a word such as "amount", or a key of the file);
        # {value} the value found in the file.
        raise InvalidInput(_("{what} {value} must be written as a quoted decimal string").format(
            what=shown, value=repr(text)))
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, str):
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise InvalidInput(_not_decimal(shown, text)) from None
    elif isinstance(text, Decimal):
        value = text
    else:
        raise InvalidInput(_not_decimal(shown, text))
    if not value.is_finite():
        # TRANSLATORS: {what} names the value (a word such as "amount", or a key of the file);
        # {value} the value found in the file.
        raise InvalidInput(_("{what} {value} is not a finite number").format(what=shown, value=repr(text)))
    if value < 0 and not allow_negative:
        # TRANSLATORS: {what} names the value (a word such as "amount", or a key of the file);
        # {value} the value found in the file.
        raise InvalidInput(_("{what} {value} is negative").format(what=shown, value=repr(text)))
    return value


def _not_decimal(what: str, text: object) -> str:
    # TRANSLATORS: {what} names the value (a word such as "amount", or a key of the file);
    # {value} the value found in the file.
    return _("{what} {value} is not a decimal number").format(what=what, value=repr(text))


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
        # TRANSLATORS: {value} is an amount of money (123456789012345.0000).
        raise InvalidInput(_("amount {value} is too large to store").format(value=value))
    return units


def from_units(units: int) -> Decimal:
    """Integer storage units -> Decimal with exactly SCALE places."""
    return Decimal(units).scaleb(-SCALE).quantize(QUANT)


def fmt(value: Decimal, currency: str | None = None) -> str:
    """``12.3400`` style string (JSON and CSV), with the currency code if given."""
    text = f"{value.quantize(QUANT):f}"
    return f"{text} {currency}" if currency else text
