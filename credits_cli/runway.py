"""The runway: how long the balance lasts at the recent daily spend.

Pure arithmetic over numbers the caller gathers (:func:`credits_cli.spend.runway`,
for the balance document and its fast start alike).

Spend is measured over the data there is, never over days that have not been
imported: the recent daily spend is the average of the call charges (by the
day of the call, its service time) of the last :data:`RUNWAY_WINDOW_DAYS`
days *of imported calls*, the window ending on the day of the latest imported
call (or starting on the first's, when there is less). Set up today and import
last month, and the runway is last month's pace, not a month diluted by the
days since. At that rate the runway is the days, counted from now, until the
balance falls to the auto-recharge threshold and to zero (ignoring recharges
and lot expiry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from credits_cli import currencies, i18n, money
from credits_cli.i18n import _, ngettext
from credits_cli.money import ZERO
from credits_cli.phrases import quantity

#: Days of charges averaged for the recent daily spend.
RUNWAY_WINDOW_DAYS = 30



def window(span: tuple[date, date] | None, days: int) -> tuple[date, date] | None:
    """The last ``days`` days of imported calls: from max(first call, last - days + 1) to the last
    call's day; None when nothing has been imported."""
    if span is None:
        return None
    first, last = span
    return max(first, last - timedelta(days=days - 1)), last


@dataclass
class Runway:
    balance: Decimal
    window_days: int  # the averaging window (RUNWAY_WINDOW_DAYS)
    observed_days: int  # days actually averaged over
    observed_from: date | None  # the first and last day averaged (the latest imported calls)
    observed_to: date | None
    window_spend: Decimal
    daily_spend: Decimal  # rounded half up to 4 decimals
    threshold: Decimal | None
    days_to_threshold: Decimal | None  # None: no recent spend, or no auto-recharge
    days_to_zero: Decimal | None
    threshold_date: date | None
    zero_date: date | None

    def to_dict(self) -> dict[str, object]:
        return {
            "balance": self.balance,
            "window_days": self.window_days,
            "observed_days": self.observed_days,
            "observed_from": self.observed_from,
            "observed_to": self.observed_to,
            "window_spend": self.window_spend,
            "daily_spend": self.daily_spend,
            "threshold": self.threshold,
            "days_to_threshold": None if self.days_to_threshold is None else str(self.days_to_threshold),
            "days_to_zero": None if self.days_to_zero is None else str(self.days_to_zero),
            "threshold_date": self.threshold_date,
            "zero_date": self.zero_date,
        }


def _days_until(amount: Decimal, per_day: Decimal) -> Decimal:
    if amount <= 0:
        return Decimal("0.0")
    return (amount / per_day).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)


def compute(
    balance: Decimal,
    threshold: Decimal | None,
    span: tuple[date, date] | None,
    spent_by_day: Mapping[date, Decimal],
    now: datetime,
) -> Runway:
    """The runway from the balance, the active threshold (None when auto-recharge is off), the days
    averaged (:func:`window` of the imported calls' span) and the charges of each of those days."""
    days = (span[1] - span[0]).days + 1 if span else 0
    spent = sum((v for d, v in spent_by_day.items() if span and span[0] <= d <= span[1]), ZERO)
    per_day = money.round_money(spent / days) if days and spent > 0 else ZERO
    to_threshold = to_zero = None
    threshold_date = zero_date = None
    if per_day > 0:
        to_zero = _days_until(balance, per_day)
        zero_date = (now + timedelta(days=int(to_zero))).date()
        if threshold is not None:
            to_threshold = _days_until(balance - threshold, per_day)
            threshold_date = (now + timedelta(days=int(to_threshold))).date()
    return Runway(
        balance=balance,
        window_days=RUNWAY_WINDOW_DAYS,
        observed_days=days,
        observed_from=span[0] if span else None,
        observed_to=span[1] if span else None,
        window_spend=spent,
        daily_spend=per_day,
        threshold=threshold,
        days_to_threshold=to_threshold,
        days_to_zero=to_zero,
        threshold_date=threshold_date,
        zero_date=zero_date,
    )


def describe_runway(doc: dict[str, object], currency: str) -> str:
    """One line for ``balance``, from :meth:`Runway.to_dict`, in the current language."""
    per_day = doc["daily_spend"]
    assert isinstance(per_day, Decimal)
    if doc["observed_to"] is None:
        return _("runway: no calls imported yet")
    first, last = _day(doc["observed_from"]), _day(doc["observed_to"])
    if per_day <= 0:
        return _("runway: no call charges from {first} to {last}, the latest imported calls").format(
            first=first, last=last)
    observed = doc["observed_days"]
    assert isinstance(observed, int)
    fields = {
        "amount": currencies.display(per_day, currency), "days": quantity(observed), "first": first, "last": last,
        "to_zero": _days(doc["days_to_zero"]), "zero_day": _day(doc["zero_date"]),
    }
    if doc["days_to_threshold"] is not None:
        # TRANSLATORS: {days} (the plural's count) is how many days were averaged; {to_threshold} and {to_zero}
        # are numbers of days with one decimal (12.5); {threshold_day} and {zero_day} are dates.
        template = ngettext(
            "runway: at {amount} a day (average of the {days} day(s) from {first} to {last}, the latest imported "
            "calls), {to_threshold} days to the recharge threshold ({threshold_day}), {to_zero} days to zero "
            "({zero_day}) without recharges",
            "runway: at {amount} a day (average of the {days} day(s) from {first} to {last}, the latest imported "
            "calls), {to_threshold} days to the recharge threshold ({threshold_day}), {to_zero} days to zero "
            "({zero_day}) without recharges",
            observed,
        )
        return template.format(**fields, to_threshold=_days(doc["days_to_threshold"]),
                               threshold_day=_day(doc["threshold_date"]))
    # TRANSLATORS: {days} (the plural's count) is how many days were averaged; {to_zero} is a number of days
    # with one decimal (12.5); {zero_day} is a date.
    template = ngettext(
        "runway: at {amount} a day (average of the {days} day(s) from {first} to {last}, the latest imported "
        "calls), {to_zero} days to zero ({zero_day}) without recharges",
        "runway: at {amount} a day (average of the {days} day(s) from {first} to {last}, the latest imported "
        "calls), {to_zero} days to zero ({zero_day}) without recharges",
        observed,
    )
    return template.format(**fields)


def _day(value: object) -> str:
    """A day of the runway document (a date) for people."""
    return i18n.day(value) if isinstance(value, date) else str(value)


def _days(value: object) -> str:
    """A number of days of the runway document (``"12.5"``) for people."""
    return quantity(Decimal(str(value))) if value is not None else str(value)
