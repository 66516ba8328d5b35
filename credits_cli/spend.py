"""Spend history: the call charges of each day, which the runway (``balance``) and ``recommend`` read.

Built from plain rows (:mod:`credits_cli.queries`), so the fast start of
``credits balance`` (stdlib ``sqlite3``) and every other path (an SQLAlchemy
session) run the same SQL. The runway arithmetic is in :mod:`credits_cli.runway`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from credits_cli import clock, money
from credits_cli.kinds import EntryKind
from credits_cli.money import ZERO
from credits_cli.queries import Rows, as_date
from credits_cli.runway import RUNWAY_WINDOW_DAYS, Runway, compute, window

_FIRST_CHARGE = "SELECT MIN(service_at) FROM ledger WHERE tenant_id = :tenant AND kind = :charge"
_IMPORTED = "SELECT MIN(start), MAX(start) FROM calls WHERE tenant_id = :tenant"
_DAILY = (
    "SELECT date(service_at), SUM(amount) FROM ledger WHERE tenant_id = :tenant AND kind = :charge "
    "AND service_at >= :start AND service_at < :end GROUP BY date(service_at)"
)


def daily_spend(rows: Rows, tenant_id: int, start: datetime, end: datetime) -> dict[date, Decimal]:
    """Charges per UTC day of the call (service time) in [start, end), as positive amounts (days
    without charges absent)."""
    params = {"tenant": tenant_id, "charge": EntryKind.CHARGE.value, "start": rows.time(start), "end": rows.time(end)}
    return {as_date(day): -money.from_units(int(units or 0)) for day, units in rows.all(_DAILY, params)}


def first_charge_day(rows: Rows, tenant_id: int) -> date | None:
    ((value,),) = rows.all(_FIRST_CHARGE, {"tenant": tenant_id, "charge": EntryKind.CHARGE.value})
    return None if value is None else as_date(value)


def imported_span(rows: Rows, tenant_id: int) -> tuple[date, date] | None:
    """The days of the first and the latest imported call (any status), or None before the first import."""
    ((first, last),) = rows.all(_IMPORTED, {"tenant": tenant_id})
    return None if first is None else (as_date(first), as_date(last))


def spend_series(rows: Rows, tenant_id: int, today: date, days: int) -> list[tuple[date, Decimal]]:
    """The charges of each of the ``days`` calendar days that end with ``today``, zero days included."""
    first = today - timedelta(days=days - 1)
    spent = daily_spend(rows, tenant_id, clock.day_start(first), clock.day_start(today) + timedelta(days=1))
    return [(first + timedelta(days=i), spent.get(first + timedelta(days=i), ZERO)) for i in range(days)]


def runway(rows: Rows, tenant_id: int, balance: Decimal, threshold: Decimal | None, now: datetime) -> Runway:
    """How long ``balance`` lasts at the recent daily spend (``threshold``: the active auto-recharge one),
    measured over the latest imported calls (see :mod:`credits_cli.runway`)."""
    span = window(imported_span(rows, tenant_id), RUNWAY_WINDOW_DAYS)
    spent = {} if span is None else daily_spend(
        rows, tenant_id, clock.day_start(span[0]), clock.day_start(span[1]) + timedelta(days=1)
    )
    return compute(balance, threshold, span, spent, now)
