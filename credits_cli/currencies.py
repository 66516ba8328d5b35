"""ISO 4217: which codes are money, how many minor digits each has, and how people see an amount.

The table is ISO 4217 List One as its maintenance agency publishes it
(``data/iso4217.csv``: the date is in its first line), not a hand list: every
current currency and fund code with numeric minor units is known (the tenge,
KZT, has 2; the yen 0; the Bahraini dinar 3; the Chilean UF 4). Codes that
are not money (gold, SDR, the test code XTS, XXX) have no minor units and are
refused. The ledger keeps four decimals (``money.SCALE``), enough for every
one of them.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import cache
from pathlib import Path

from credits_cli.errors import InvalidInput
from credits_cli.i18n import _

TABLE = Path(__file__).parent / "data" / "iso4217.csv"
_QUANT = Decimal("0.0001")  # money.QUANT: amounts for people come from the ledger's four places


@cache
def digits_table() -> dict[str, int]:
    """Every ISO 4217 code that is money, with its minor digits."""
    with TABLE.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["code"]: int(row["minor_units"]) for row in rows if row["minor_units"].isdigit()}


def known(code: str) -> bool:
    return code in digits_table()


def digits(code: str) -> int:
    """The minor digits of ``code`` (2 for KZT, 0 for JPY); an unknown code is one clear error."""
    try:
        return digits_table()[code]
    except KeyError:
        raise InvalidInput(
            _("unknown currency {code}: give an ISO 4217 code such as USD, EUR, RUB, KZT or CNY").format(
                code=repr(code)[:20])
        ) from None


def check(code: str) -> str:
    """``code`` upper-cased, when it is a known currency."""
    text = code.strip().upper()
    digits(text)
    return text


def display(value: Decimal, currency: str) -> str:
    """An amount for people, in the current language: the currency's own decimals unless the amount
    is finer (a charge of ``0.0125``), with the locale's separators and symbol (``5,000.00 USD``,
    ``5 000,00 ₽``, ``¥5,000.00``)."""
    from credits_cli import i18n

    places = digits_table().get(currency, 2)
    q = value.quantize(_QUANT)
    shown = q.quantize(Decimal(1).scaleb(-places))
    return i18n.amount(shown if shown == q else q, currency)
