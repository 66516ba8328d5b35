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

from credits_cli import clock, ledger, money, phrases, spend
from credits_cli.i18n import N_, ngettext
from credits_cli.models import Call, Tenant, User
from credits_cli.money import ZERO
from credits_cli.phrases import Phrase
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
    method: str  # this and the reasoning: phrases (English in --json; .said() in the reader's language)
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
    trigger_because: Phrase
    if days >= LEAD_DAYS:
        peak_lead = max(
            sum((v for _, v in series[i : i + LEAD_DAYS]), ZERO) for i in range(days - LEAD_DAYS + 1)
        )
    else:
        peak_lead = peak * LEAD_DAYS
    trigger = max(whole(peak_lead), money.from_units(10**money.SCALE))
    if days >= LEAD_DAYS:
        trigger_because = Phrase(
            N_("trigger: covers the peak spend of a {lead}-day lead time (the time to notice and fix a failed "
               "recharge): the highest spend of any {lead} consecutive days was {peak_lead}; rounded up: {trigger}"),
            lead=LEAD_DAYS, peak_lead=phrases.money(peak_lead, cur), trigger=phrases.money(trigger, cur))
    else:
        trigger_because = Phrase(
            N_("trigger: covers the peak spend of a {lead}-day lead time (the time to notice and fix a failed "
               "recharge): fewer than {lead} days observed, so the peak day ({peak}) times {lead} = {peak_lead}; "
               "rounded up: {trigger}"),
            lead=LEAD_DAYS, peak=phrases.money(peak, cur), peak_lead=phrases.money(peak_lead, cur),
            trigger=phrases.money(trigger, cur))
    period_spend = average * PERIOD_DAYS
    recharge = max(whole(period_spend), minimum)
    one_off = _one_off(trigger + recharge, balance, minimum)
    amounts = {"total": total, "average": average, "peak": peak, "period_spend": period_spend, "minimum": minimum,
               "recharge": recharge, "balance": balance, "target": trigger + recharge, "one_off": one_off}
    m = {name: phrases.money(value, cur) for name, value in amounts.items()}
    observed = {"days": days, "first": span[0], "last": span[1], "window": USAGE_WINDOW_DAYS, "peak_day": peak_date,
                "total": m["total"], "average": m["average"], "peak": m["peak"]}
    if (now.date() - span[1]).days > STALE_DAYS:
        # TRANSLATORS: {days} (the plural's count) is how many days of calls were observed, from {first} to
        # {last}; {window} is a number of days; {peak_day} a date; the rest are amounts.
        observation = Phrase(lambda: ngettext(
            "observed: {total} of call charges over the {days} day(s) from {first} to {last}, the latest imported "
            "calls (window {window} days), average {average} a day, peak day {peak_day} at {peak}; nothing "
            "imported since {last}",
            "observed: {total} of call charges over the {days} day(s) from {first} to {last}, the latest imported "
            "calls (window {window} days), average {average} a day, peak day {peak_day} at {peak}; nothing "
            "imported since {last}", days), **observed)
    else:
        observation = Phrase(lambda: ngettext(
            "observed: {total} of call charges over the {days} day(s) from {first} to {last}, the latest imported "
            "calls (window {window} days), average {average} a day, peak day {peak_day} at {peak}",
            "observed: {total} of call charges over the {days} day(s) from {first} to {last}, the latest imported "
            "calls (window {window} days), average {average} a day, peak day {peak_day} at {peak}", days),
            **observed)
    if whole(period_spend) < minimum:
        recharge_because = Phrase(
            N_("recharge amount: a typical {period}-day period's spend, {average} x {period} = {period_spend}; "
               "rounded up, raised to the minimum purchase {minimum}: {recharge}"),
            period=PERIOD_DAYS, average=m["average"], period_spend=m["period_spend"], minimum=m["minimum"],
            recharge=m["recharge"])
    else:
        recharge_because = Phrase(
            N_("recharge amount: a typical {period}-day period's spend, {average} x {period} = {period_spend}; "
               "rounded up: {recharge}"),
            period=PERIOD_DAYS, average=m["average"], period_spend=m["period_spend"], recharge=m["recharge"])
    if one_off > 0 and whole(trigger + recharge - balance) < minimum:
        one_off_because = Phrase(
            N_("one-off: the balance {balance} is below trigger + recharge amount ({target}); add {one_off} (the "
               "minimum purchase)"), balance=m["balance"], target=m["target"], one_off=m["one_off"])
    elif one_off > 0:
        one_off_because = Phrase(
            N_("one-off: the balance {balance} is below trigger + recharge amount ({target}); add {one_off}"),
            balance=m["balance"], target=m["target"], one_off=m["one_off"])
    else:
        one_off_because = Phrase(
            N_("one-off: none needed, the balance {balance} already covers trigger + recharge amount ({target})"),
            balance=m["balance"], target=m["target"])
    reasoning: list[str] = [
        observation,
        trigger_because,
        recharge_because,
        one_off_because,
        # TRANSLATORS: `credits recommend` is a command: keep it as it is.
        Phrase(N_("revisit as usage changes: run `credits recommend` again after each month")),
    ]
    return Recommendation(
        currency=cur,
        basis="usage",
        method=Phrase(
            N_("observed spend: trigger = peak {lead}-day spend, recharge = average daily spend x {period} (at least "
               "the minimum purchase), one-off = up to trigger + recharge; rounded up to whole units"),
            lead=LEAD_DAYS, period=PERIOD_DAYS),
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
    m = {name: phrases.money(value, cur) for name, value in
         {"minimum": minimum, "start": start, "trigger": trigger, "balance": balance, "one_off": one_off}.items()}
    if rated:
        # TRANSLATORS: {rated} (the plural's count) is how many calls were rated.
        beginning = Phrase(lambda: ngettext(
            "no call charges yet ({rated} rated call(s), none charged): start small, as the service advises, and "
            "set the amounts from one or two months of usage",
            "no call charges yet ({rated} rated call(s), none charged): start small, as the service advises, and "
            "set the amounts from one or two months of usage", rated), rated=rated)
    else:
        beginning = Phrase(N_("no call charges yet: start small, as the service advises, and set the amounts from "
                              "one or two months of usage"))
    reasoning: list[str] = [
        beginning,
        # TRANSLATORS: {licensed} (the plural's count) is how many users hold the license; {per} is a number of
        # users; {blocks} how many times the minimum purchase is needed; the rest are amounts.
        Phrase(lambda: ngettext(
            "{licensed} user(s) hold the Communications Credits license; the minimum purchase {minimum} covers "
            "every {per} licensed users: {blocks} x {minimum} = {start}",
            "{licensed} user(s) hold the Communications Credits license; the minimum purchase {minimum} covers "
            "every {per} licensed users: {blocks} x {minimum} = {start}", licensed),
            licensed=licensed, minimum=m["minimum"], per=STARTER_USERS_PER_MINIMUM, blocks=blocks, start=m["start"]),
        Phrase(N_("recharge amount: {start}; trigger: a quarter of it, rounded up: {trigger}"), start=m["start"],
               trigger=m["trigger"]),
        (
            Phrase(N_("one-off: bring the balance {balance} up to {start}: add {one_off}"), balance=m["balance"],
                   start=m["start"], one_off=m["one_off"])
            if one_off > 0
            else Phrase(N_("one-off: none needed, the balance {balance} already covers {start}"),
                        balance=m["balance"], start=m["start"])
        ),
    ]
    if licensed == 0:
        reasoning.append(Phrase(N_("no user is licensed yet: only toll-free numbers can spend credits until one is")))
    return Recommendation(
        currency=cur,
        basis="licenses",
        method=Phrase(
            N_("no usage yet: the minimum purchase per {per} licensed users (at least one), trigger a quarter of it; "
               "rounded up to whole units"), per=STARTER_USERS_PER_MINIMUM),
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
    one warning each, with the why. Nothing is refused: the tenant may know better. Each warning is a
    :class:`~credits_cli.phrases.Phrase`: English in ``--json``, ``.said()`` in the reader's language."""
    def m(value: Decimal) -> Any:
        return phrases.money(value, currency)

    found: list[str] = []
    if threshold == 0:
        # TRANSLATORS: "credits recommend" is a command: keep it as it is.
        found.append(Phrase(N_("a threshold of 0 recharges only once the balance is below zero, and the service "
                               "stops toll-free numbers and conference dial-out at zero: set a few days' spend "
                               "(credits recommend suggests one)")))
    elif threshold > amount:
        # TRANSLATORS: {threshold} and {amount} are amounts with their currency.
        found.append(Phrase(N_("the threshold ({threshold}) is above the recharge amount ({amount}): every "
                               "{amount} of spend is a purchase; a recharge amount above the threshold is usual"),
                            threshold=m(threshold), amount=m(amount)))
    if per_day > 0 and 0 < threshold < per_day:
        # TRANSLATORS: {threshold} and {per_day} are amounts with their currency.
        found.append(Phrase(N_("the threshold ({threshold}) is less than a day's spend ({per_day} recently): a "
                               "failed recharge (an expired card) leaves less than a day to fix it"),
                            threshold=m(threshold), per_day=m(per_day)))
    if per_day > 0 and amount < per_day:
        # TRANSLATORS: {amount} and {per_day} are amounts with their currency.
        found.append(Phrase(N_("a recharge ({amount}) lasts less than a day at the recent spend ({per_day} a day)"),
                            amount=m(amount), per_day=m(per_day)))
    return found
