"""The runway: how long the balance lasts at the recent daily spend.

Pure arithmetic over numbers the caller gathers (:func:`credits_cli.spend.runway`,
for the balance document and its fast start alike). Recent daily spend is the
average of the call charges of the last :data:`RUNWAY_WINDOW_DAYS` calendar days (UTC) up to and including today, or of
the days since the first charge's day when that is more recent; days without
charges count as zero. At that rate the runway is the days until the balance
falls to the auto-recharge threshold and to zero (ignoring recharges and lot
expiry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from credits_cli import money
from credits_cli.money import ZERO

#: Days of charges averaged for the recent daily spend.
RUNWAY_WINDOW_DAYS = 30



def observed_days(first: date | None, today: date, window_days: int) -> int:
    """Calendar days of the window the tenant has been spending: its first charge's day to today, 1..window."""
    if first is None:
        return 0
    return max(1, min(window_days, (today - first).days + 1))


@dataclass
class Runway:
    balance: Decimal
    window_days: int  # the averaging window (RUNWAY_WINDOW_DAYS)
    observed_days: int  # days actually averaged over
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


def window_start(now: datetime, first_charge: date | None) -> tuple[date, int]:
    """The first day averaged and the number of days, for a runway computed at ``now``."""
    days = observed_days(first_charge, now.date(), RUNWAY_WINDOW_DAYS)
    return now.date() - timedelta(days=max(days, 1) - 1), days


def compute(
    balance: Decimal,
    threshold: Decimal | None,
    first_charge: date | None,
    spent_by_day: Mapping[date, Decimal],
    now: datetime,
) -> Runway:
    """The runway from the balance, the active threshold (None when auto-recharge is off),
    the first charge's day and the charges per day of the window (see :func:`window_start`)."""
    first, days = window_start(now, first_charge)
    spent = sum((v for d, v in spent_by_day.items() if first <= d <= now.date()), ZERO) if days else ZERO
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
        window_spend=spent,
        daily_spend=per_day,
        threshold=threshold,
        days_to_threshold=to_threshold,
        days_to_zero=to_zero,
        threshold_date=threshold_date,
        zero_date=zero_date,
    )


def describe_runway(doc: dict[str, object], currency: str) -> str:
    """One line for ``balance``, from :meth:`Runway.to_dict`."""
    per_day = doc["daily_spend"]
    assert isinstance(per_day, Decimal)
    if per_day <= 0:
        return f"runway: no call charges in the last {doc['window_days']} days"
    text = (
        f"runway: at {money.fmt_display(per_day, currency)} a day (average of the last {doc['observed_days']} "
        f"day(s), window {doc['window_days']})"
    )
    if doc["days_to_threshold"] is not None:
        text += f", {doc['days_to_threshold']} days to the recharge threshold ({doc['threshold_date']})"
    text += f", {doc['days_to_zero']} days to zero ({doc['zero_date']}) without recharges"
    return text
