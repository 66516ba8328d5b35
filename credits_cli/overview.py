"""Every tenant on one line, the most urgent first (``credits overview``).

A service provider runs many tenants: which one needs attention today? Each
line holds the balance (lots expired by now no longer count), the runway at the
recent daily spend (:mod:`credits_cli.spend`), auto-recharge, whether a purchase
would go through, the last import and the open alerts (outbox messages not yet
delivered, and how many of them failed).

Urgency, in this order:

0. **out of credit**: the balance is zero or below (toll-free numbers stop);
1. **payment failing**: auto-recharge is on but its last attempt failed, or a
   purchase would be refused now (an expired card, no method, regions apart);
2. **runs out**: spending without a working auto-recharge, the soonest first;
3. **recharges**: a working auto-recharge, the soonest recharge first;
4. **quiet**: no spend in the latest imported calls.

Ties go to the tenant with more open alerts, then by slug.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from credits_cli import ledger, money, payments, spend, tenants
from credits_cli.i18n import N_, ngettext
from credits_cli.kinds import Delivery
from credits_cli.models import ImportRun, Notification, Tenant
from credits_cli.phrases import Phrase
from credits_cli.queries import SessionRows

OUT_OF_CREDIT, PAYMENT_FAILING, RUNS_OUT, RECHARGES, QUIET = range(5)


@dataclass
class Line:
    """One tenant's line of the overview."""

    tenant: str
    name: str
    currency: str
    balance: Decimal
    daily_spend: Decimal
    days_to_zero: Decimal | None
    zero_date: date | None
    days_to_threshold: Decimal | None
    threshold_date: date | None
    autorecharge: bool
    threshold: Decimal | None
    recharge_amount: Decimal | None
    recharge_failing_since: datetime | None
    payment: str
    purchase_refusal: str | None
    last_import: datetime | None
    open_alerts: int
    failed_alerts: int
    urgency: int
    state: str  # a phrase: English in --json and -o csv, .said() in the reader's language

    def to_dict(self) -> dict[str, Any]:
        doc = dict(self.__dict__)
        for key in ("days_to_zero", "days_to_threshold"):
            doc[key] = None if doc[key] is None else str(doc[key])
        return doc

    def sort_key(self) -> tuple[Any, ...]:
        days = self.days_to_zero if self.urgency == RUNS_OUT else self.days_to_threshold
        return (self.urgency, days is None, days or 0, -self.open_alerts, self.tenant)


def line(session: Session, tenant: Tenant, now: datetime) -> Line:
    """The overview line of one tenant as of ``now``."""
    tid = tenant.id or 0
    balance = ledger.balance(session, tenant) - sum(
        (lot.remaining for lot in ledger.open_lots(session, tenant) if lot.expires_at <= now), money.ZERO
    )
    settings = ledger.get_auto_recharge(session, tenant)
    enabled = bool(settings and settings.enabled and settings.threshold is not None and settings.amount is not None)
    threshold = settings.threshold if settings and enabled else None
    method = payments.get_method(session, tenant)
    refusal = payments.refusal(tenant, method, now)  # a phrase: English as a value of --json and -o csv

    def refused() -> str:  # why, in the language of the moment the state is said
        return refusal.said() if refusal else ""

    runway = spend.runway(SessionRows(session), tid, balance, threshold, now)
    runs = sa.select(sa.func.max(ImportRun.__table__.c.finished_at)).where(  # type: ignore[attr-defined]
        ImportRun.__table__.c.tenant_id == tid)  # type: ignore[attr-defined]
    last_import = session.execute(runs).scalar()
    notes = Notification.__table__  # type: ignore[attr-defined]
    open_states = (Delivery.QUEUED.value, Delivery.SENDING.value)
    alerts, failed = session.execute(
        sa.select(sa.func.count(), sa.func.count(notes.c.last_error))
        .where(notes.c.tenant_id == tid, notes.c.status.in_(open_states))
    ).one()
    failing_since = settings.failing_since if settings and enabled else None
    cur = tenant.currency
    state: Phrase
    # TRANSLATORS: the states of a tenant in the overview; {refusal} says why a purchase would be refused.
    if balance <= 0:
        urgency, state = OUT_OF_CREDIT, Phrase(N_("out of credit: calls that cost are denied"))
    elif enabled and (failing_since is not None or refusal):
        urgency = PAYMENT_FAILING
        state = (Phrase(N_("recharge failing: {refusal}"), refusal=refused) if refusal
                 else Phrase(N_("recharge failing since {day}"), day=failing_since.date() if failing_since else None))
    elif runway.days_to_zero is not None and not enabled:
        days = runway.days_to_zero
        urgency = RUNS_OUT
        if refusal:
            # TRANSLATORS: {n} is a number of days (it may have decimals), {day} the date the balance reaches zero.
            state = Phrase(lambda: ngettext("runs out in {n} days ({day}); purchases refused: {refusal}",
                                            "runs out in {n} days ({day}); purchases refused: {refusal}", int(days)),
                           n=days, day=runway.zero_date, refusal=refused)
        else:
            state = Phrase(lambda: ngettext("runs out in {n} days ({day})", "runs out in {n} days ({day})", int(days)),
                           n=days, day=runway.zero_date)
    elif runway.days_to_threshold is not None:
        days = runway.days_to_threshold
        # TRANSLATORS: {n} is a number of days (it may have decimals), {day} the date auto-recharge buys credits.
        urgency, state = RECHARGES, Phrase(lambda: ngettext("recharges in {n} days ({day})",
                                                            "recharges in {n} days ({day})", int(days)),
                                           n=days, day=runway.threshold_date)
    else:
        urgency = QUIET
        state = (Phrase(N_("no recent spend; purchases refused: {refusal}"), refusal=refused) if refusal
                 else Phrase(N_("no recent spend")))
    return Line(
        tenant=tenant.slug,
        name=tenant.name,
        currency=cur,
        balance=balance,
        daily_spend=runway.daily_spend,
        days_to_zero=runway.days_to_zero,
        zero_date=runway.zero_date,
        days_to_threshold=runway.days_to_threshold,
        threshold_date=runway.threshold_date,
        autorecharge=enabled,
        threshold=threshold,
        recharge_amount=settings.amount if settings and enabled else None,
        recharge_failing_since=failing_since,
        payment=payments.describe(method),
        purchase_refusal=refusal,
        last_import=last_import,
        open_alerts=int(alerts or 0),
        failed_alerts=int(failed or 0),
        urgency=urgency,
        state=state,
    )


def overview(session: Session, now: datetime) -> list[Line]:
    """Every tenant's line, the most urgent first (module docstring)."""
    found = [line(session, t, now) for t in tenants.list_tenants(session)]
    return sorted(found, key=Line.sort_key)
