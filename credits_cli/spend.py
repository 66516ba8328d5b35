"""The spend history that the runway (``balance``) and ``recommend`` read.

The runway arithmetic itself is in :mod:`credits_cli.runway`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session

from credits_cli import clock, money
from credits_cli.models import AutoRecharge, LedgerEntry, Tenant
from credits_cli.money import ZERO
from credits_cli.runway import RUNWAY_WINDOW_DAYS, Runway, compute, describe_runway, observed_days, window_start

_ledger = LedgerEntry.__table__  # type: ignore[attr-defined]


def daily_spend(session: Session, tenant: Tenant, start: datetime, end: datetime) -> dict[date, Decimal]:
    """Charges per UTC day in [start, end), as positive amounts (days without charges absent)."""
    day = sa.func.date(_ledger.c.occurred_at)
    out: dict[date, Decimal] = {}
    for value, units in session.execute(
        sa.select(day, sa.func.sum(sa.type_coerce(_ledger.c.amount, sa.BigInteger)))
        .where(
            _ledger.c.tenant_id == tenant.id,
            _ledger.c.kind == "charge",
            _ledger.c.occurred_at >= start,
            _ledger.c.occurred_at < end,
        )
        .group_by(day)
    ):
        out[date.fromisoformat(str(value)[:10])] = -money.from_units(int(units or 0))
    return out


def first_charge_day(session: Session, tenant: Tenant) -> date | None:
    value = session.execute(
        sa.select(sa.func.min(_ledger.c.occurred_at)).where(
            _ledger.c.tenant_id == tenant.id, _ledger.c.kind == "charge"
        )
    ).scalar()
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def spend_series(session: Session, tenant: Tenant, today: date, days: int) -> list[tuple[date, Decimal]]:
    """The charges of each of the ``days`` calendar days that end with ``today``, zero days included."""
    first = today - timedelta(days=days - 1)
    spent = daily_spend(session, tenant, clock.day_start(first), clock.day_start(today) + timedelta(days=1))
    return [(first + timedelta(days=i), spent.get(first + timedelta(days=i), ZERO)) for i in range(days)]


def runway(
    session: Session, tenant: Tenant, balance: Decimal, settings: AutoRecharge | None, now: datetime | None = None
) -> Runway:
    now = now or clock.now()
    first_charge = first_charge_day(session, tenant)
    first, _days = window_start(now, first_charge)
    spent = daily_spend(session, tenant, clock.day_start(first), clock.day_start(now.date()) + timedelta(days=1))
    threshold = settings.threshold if settings is not None and settings.enabled else None
    return compute(balance, threshold, first_charge, spent, now)


__all__ = [
    "RUNWAY_WINDOW_DAYS",
    "Runway",
    "daily_spend",
    "describe_runway",
    "first_charge_day",
    "observed_days",
    "runway",
    "spend_series",
]
