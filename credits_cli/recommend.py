"""Funding advice: a one-off amount, an auto-recharge trigger and a recharge amount.

Two methods, following the service's own guidance (DOMAIN.md, Funding):

* **From observed spend**, once the tenant has call charges. The last
  :data:`USAGE_WINDOW_DAYS` days of imported calls (two months ending on the
  day of the latest imported call; fewer when the first imported call is more
  recent) give the average daily spend and the daily series: days that have
  not been imported never count as days without spend.
  The *trigger* covers the peak spend of :data:`LEAD_DAYS` consecutive days
  (the time to notice a failed recharge, e.g. an expired card, and fix it);
  the *recharge amount* is a typical period's spend: the average daily spend
  times :data:`PERIOD_DAYS`, at least the minimum purchase. The *one-off*
  amount brings the balance up to trigger + recharge amount (nothing when it
  is there already; at least the minimum purchase when something is needed).
* **From licenses**, with no charges yet: start small. The minimum purchase
  covers the first :data:`STARTER_USERS_PER_MINIMUM` licensed users, one more
  minimum each further block of users; that is both the one-off and the
  recharge amount, and the trigger is a quarter of it. Revisit after one or
  two months of usage.

Every amount is rounded up to whole units of the currency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from credits_cli import clock, ledger, money, spend
from credits_cli.models import Call, Tenant, User
from credits_cli.money import ZERO
from credits_cli.queries import SessionRows
from credits_cli.refdata import service
from credits_cli.runway import window

USAGE_WINDOW_DAYS = 60
LEAD_DAYS = 7
PERIOD_DAYS = 30
STARTER_USERS_PER_MINIMUM = 10
STARTER_TRIGGER_SHARE = Decimal("0.25")
#: Days after which the latest import is worth mentioning as old.
STALE_DAYS = 7


def whole(value: Decimal) -> Decimal:
    """Round up to whole units of the currency (a recommendation, never a charge)."""
    return money.ceil_money(value, 0)


@dataclass
class Recommendation:
    currency: str
    basis: str  # usage | licenses
    method: str
    one_off: Decimal
    trigger: Decimal
    recharge: Decimal
    balance: Decimal
    minimum_purchase: Decimal
    licensed_users: int
    observed_days: int = 0
    observed_spend: Decimal = ZERO
    average_daily: Decimal = ZERO
    peak_day: Decimal = ZERO
    peak_day_date: date | None = None
    peak_lead_spend: Decimal = ZERO
    lead_days: int = LEAD_DAYS
    period_days: int = PERIOD_DAYS
    reasoning: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(session: Session, tenant: Tenant, now: datetime | None = None) -> Recommendation:
    now = now or clock.now()
    cur = tenant.currency
    balance = ledger.balance(session, tenant)
    minimum = service().minimum(cur)
    users_t = User.__table__  # type: ignore[attr-defined]
    licensed = int(
        session.execute(
            sa.select(sa.func.count()).where(users_t.c.tenant_id == tenant.id, users_t.c.licensed.is_(True))
        ).scalar()
        or 0
    )
    rows = SessionRows(session)
    span = window(spend.imported_span(rows, tenant.id or 0), USAGE_WINDOW_DAYS)
    if span is not None and spend.first_charge_day(rows, tenant.id or 0) is not None:
        return _from_usage(session, tenant, now, span, balance, minimum, licensed)
    return _from_licenses(session, tenant, balance, minimum, licensed)


def _d(value: Decimal, cur: str) -> str:
    return money.fmt_display(value, cur)


def _one_off(target: Decimal, balance: Decimal, minimum: Decimal) -> Decimal:
    need = whole(target - balance) if target > balance else ZERO
    return max(need, minimum) if need > 0 else ZERO


def _from_usage(
    session: Session, tenant: Tenant, now: datetime, span: tuple[date, date], balance: Decimal, minimum: Decimal,
    licensed: int,
) -> Recommendation:
    cur = tenant.currency
    days = (span[1] - span[0]).days + 1
    series = spend.spend_series(SessionRows(session), tenant.id or 0, span[1], days)
    total = sum((v for _, v in series), ZERO)
    average = money.round_money(total / days)
    peak_date, peak = max(series, key=lambda item: (item[1], item[0]))
    if days >= LEAD_DAYS:
        peak_lead = max(
            sum((v for _, v in series[i : i + LEAD_DAYS]), ZERO) for i in range(days - LEAD_DAYS + 1)
        )
        lead_text = f"the highest spend of any {LEAD_DAYS} consecutive days was {_d(peak_lead, cur)}"
    else:
        peak_lead = peak * LEAD_DAYS
        lead_text = (
            f"fewer than {LEAD_DAYS} days observed, so the peak day ({_d(peak, cur)}) times {LEAD_DAYS} "
            f"= {_d(peak_lead, cur)}"
        )
    trigger = max(whole(peak_lead), money.from_units(10**money.SCALE))
    period_spend = average * PERIOD_DAYS
    recharge = max(whole(period_spend), minimum)
    one_off = _one_off(trigger + recharge, balance, minimum)
    reasoning = [
        f"observed: {_d(total, cur)} of call charges over the {days} day(s) from {span[0]} to {span[1]}, the "
        f"latest imported calls (window {USAGE_WINDOW_DAYS} days), average {_d(average, cur)} a day, "
        f"peak day {peak_date} at {_d(peak, cur)}"
        + (f"; nothing imported since {span[1]}" if (now.date() - span[1]).days > STALE_DAYS else ""),
        f"trigger: covers the peak spend of a {LEAD_DAYS}-day lead time (the time to notice and fix a failed "
        f"recharge): {lead_text}; rounded up: {_d(trigger, cur)}",
        f"recharge amount: a typical {PERIOD_DAYS}-day period's spend, {_d(average, cur)} x {PERIOD_DAYS} = "
        f"{_d(period_spend, cur)}; rounded up"
        + (f", raised to the minimum purchase {_d(minimum, cur)}" if whole(period_spend) < minimum else "")
        + f": {_d(recharge, cur)}",
        (
            f"one-off: the balance {_d(balance, cur)} is below trigger + recharge amount "
            f"({_d(trigger + recharge, cur)}); add {_d(one_off, cur)}"
            + (" (the minimum purchase)" if whole(trigger + recharge - balance) < minimum else "")
            if one_off > 0
            else f"one-off: none needed, the balance {_d(balance, cur)} already covers trigger + recharge amount "
            f"({_d(trigger + recharge, cur)})"
        ),
        "revisit as usage changes: run `credits recommend` again after each month",
    ]
    return Recommendation(
        currency=cur,
        basis="usage",
        method=(
            f"observed spend: trigger = peak {LEAD_DAYS}-day spend, recharge = average daily spend x {PERIOD_DAYS} "
            f"(at least the minimum purchase), one-off = up to trigger + recharge; rounded up to whole units"
        ),
        one_off=one_off,
        trigger=trigger,
        recharge=recharge,
        balance=balance,
        minimum_purchase=minimum,
        licensed_users=licensed,
        observed_days=days,
        observed_spend=total,
        average_daily=average,
        peak_day=peak,
        peak_day_date=peak_date,
        peak_lead_spend=peak_lead,
        reasoning=reasoning,
    )


def _from_licenses(
    session: Session, tenant: Tenant, balance: Decimal, minimum: Decimal, licensed: int
) -> Recommendation:
    cur = tenant.currency
    calls_t = Call.__table__  # type: ignore[attr-defined]
    rated = int(session.execute(sa.select(sa.func.count()).where(calls_t.c.tenant_id == tenant.id)).scalar() or 0)
    blocks = max(1, money.ceil_div(licensed, STARTER_USERS_PER_MINIMUM))
    start = minimum * blocks
    trigger = whole(start * STARTER_TRIGGER_SHARE)
    one_off = _one_off(start, balance, minimum)
    reasoning = [
        "no call charges yet"
        + (f" ({rated} rated call(s), none charged)" if rated else "")
        + ": start small, as the service advises, and set the amounts from one or two months of usage",
        f"{licensed} user(s) hold the Communications Credits license; the minimum purchase {_d(minimum, cur)} "
        f"covers every {STARTER_USERS_PER_MINIMUM} licensed users: {blocks} x {_d(minimum, cur)} = {_d(start, cur)}",
        f"recharge amount: {_d(start, cur)}; trigger: a quarter of it, rounded up: {_d(trigger, cur)}",
        (
            f"one-off: bring the balance {_d(balance, cur)} up to {_d(start, cur)}: add {_d(one_off, cur)}"
            if one_off > 0
            else f"one-off: none needed, the balance {_d(balance, cur)} already covers {_d(start, cur)}"
        ),
    ]
    if licensed == 0:
        reasoning.append("no user is licensed yet: only toll-free numbers can spend credits until one is")
    return Recommendation(
        currency=cur,
        basis="licenses",
        method=(
            f"no usage yet: the minimum purchase per {STARTER_USERS_PER_MINIMUM} licensed users (at least one), "
            "trigger a quarter of it; rounded up to whole units"
        ),
        one_off=one_off,
        trigger=trigger,
        recharge=start,
        balance=balance,
        minimum_purchase=minimum,
        licensed_users=licensed,
        reasoning=reasoning,
    )


def check_settings(threshold: Decimal, amount: Decimal, per_day: Decimal, currency: str) -> list[str]:
    """What looks wrong in auto-recharge settings (``per_day``: the recent daily spend, zero when unknown):
    one warning each, with the why. Nothing is refused: the tenant may know better."""
    def m(value: Decimal) -> str:
        return money.fmt_display(value, currency)

    found = []
    if threshold == 0:
        found.append("a threshold of 0 recharges only once the balance is below zero, and the service stops "
                     "toll-free numbers and conference dial-out at zero: set a few days' spend "
                     "(credits recommend suggests one)")
    elif threshold > amount:
        found.append(f"the threshold ({m(threshold)}) is above the recharge amount ({m(amount)}): every "
                     f"{m(amount)} of spend is a purchase; a recharge amount above the threshold is usual")
    if per_day > 0 and 0 < threshold < per_day:
        found.append(f"the threshold ({m(threshold)}) is less than a day's spend ({m(per_day)} recently): a failed "
                     "recharge (an expired card) leaves less than a day to fix it")
    if per_day > 0 and amount < per_day:
        found.append(f"a recharge ({m(amount)}) lasts less than a day at the recent spend ({m(per_day)} a day)")
    return found
