"""Random sequences of funding operations against a simple model of the balance.

A hypothesis state machine drives top-ups, auto-recharge on/off, payment
method changes (a good card, an expired card), license changes, time jumps
(lots expire, the card's month passes) and calls, each in its own write
transaction on the real database; and what the time model adds: purchases
recorded now that were made earlier (``topup --at``: an older lot is used
first), license changes recorded now that happened earlier (``license assign
--at``) and calls imported late (rated with the license in force when they were
made). It checks after every step:

* balance = ledger sum = lot remainders + unfunded, and it equals the model's;
* every lot's remainder equals the model's (oldest lot used first);
* each call is charged at most once, however often it is offered again;
* a call of an unlicensed user is never charged;
* ``ledger.verify`` passes (it also checks that no pool is below zero).

Calls are rated by the real engine, :func:`credits_cli.rating.rate_records`
(what ``rate-cdrs`` runs), fed with call records, on a rate table of one cent a
second (1 s billing): a call's price is its duration in cents. One user has a
domestic Calling Plan: his domestic calls draw on the month's pool first (the
model keeps the pool too), and the pools are checked never below zero nor above
their capacity.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func
from sqlmodel import Session, select

from credits_cli import clock, ledger, payments, rates, rating, tenants, users
from credits_cli import db as dbmod
from credits_cli.errors import PurchaseRefused
from credits_cli.models import Call, LedgerEntry, PoolUsage, Tenant
from credits_cli.readers.base import CallRecord
from credits_cli.refdata import service

ZERO = Decimal(0)
GOOD_CARD, EXPIRED_CARD = "2099-12", "2020-01"
UPNS = ("ann@contoso.com", "bob@contoso.com", "cy@contoso.com", "dee@contoso.com")
START = datetime(2026, 1, 5, 9, 0)
_slugs = count()


# --- the real engine, fed with call records ---------------------------------------------

RATES = """\
name: one-cent-a-second
currency: USD
decimals: 4
billing: {minimum_seconds: 1, increment_seconds: 1}
outbound:
  - {prefix: "1", name: "United States and Canada", per_minute: "0.60"}
"""
PLAN_USER = "dee@contoso.com"  # a domestic Calling Plan: the month's pool first
CENT = Decimal("0.01")


@dataclass
class SimCall:
    external_id: str
    upn: str
    at: datetime
    amount: Decimal  # a whole number of cents: the call lasts that many seconds

    def record(self, line: int) -> CallRecord:
        return CallRecord(
            source="calls.csv", line=line, external_id=self.external_id, user_upn=self.upn, start=self.at,
            duration_seconds=int(self.amount / CENT), call_type="user_out", number="+14255550123",
        )


def rate_with_engine(database: dbmod.Database, slug: str, calls: list[SimCall]) -> rating.Summary:
    records = [c.record(i + 2) for i, c in enumerate(calls)]
    return rating.rate_records(database, slug, [("calls.csv", "csv", records)], batch_size=4)


# --- the model ----------------------------------------------------------------------------


@dataclass
class MLot:
    amount: Decimal
    remaining: Decimal
    purchased_at: datetime
    expires_at: datetime
    order: int = 0


@dataclass
class Model:
    now: datetime = START
    lots: list[MLot] = field(default_factory=list)
    unfunded: Decimal = ZERO
    card: str = GOOD_CARD
    auto: tuple[Decimal, Decimal] | None = None
    last_failure: datetime | None = None
    licensed: dict[str, bool] = field(
        default_factory=lambda: {UPNS[0]: True, UPNS[1]: True, UPNS[2]: False, PLAN_USER: True}
    )
    #: upn -> the dated license changes after setup: (holds from, order, licensed)
    license_changes: dict[str, list[tuple[datetime, int, bool]]] = field(default_factory=dict)
    bought: int = 0  # purchases so far: a lot bought earlier is used first, ties in the order bought
    charged: dict[str, Decimal] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    included: set[str] = field(default_factory=set)
    capacity: int = 0  # seconds a month in PLAN_USER's domestic pool
    pool_used: dict[str, int] = field(default_factory=dict)  # month -> seconds

    @property
    def balance(self) -> Decimal:
        return sum((lot.remaining for lot in self.lots), ZERO) + self.unfunded

    def card_ok(self, at: datetime) -> bool:
        return clock.month_key(at) <= self.card

    def expire(self, at: datetime) -> None:
        for lot in self.lots:
            if lot.remaining > 0 and lot.expires_at <= at:
                lot.remaining = ZERO

    def purchase(self, amount: Decimal, at: datetime) -> None:
        lot = MLot(amount, amount, at, clock.add_months(at, 12))
        self.bought += 1
        lot.order = self.bought
        self.lots.append(lot)
        self.lots.sort(key=lambda x: (x.purchased_at, x.order))  # the oldest purchase is used first
        settle = min(-self.unfunded, amount)
        lot.remaining -= settle
        self.unfunded += settle

    def change_license(self, upn: str, licensed: bool, since: datetime) -> None:
        changes = self.license_changes.setdefault(upn, [])
        changes.append((since, len(changes), licensed))
        changes.sort()

    def licensed_at(self, upn: str, at: datetime) -> bool:
        """The license in force at ``at``: the latest change that holds from no later than ``at``."""
        held = self.licensed[upn]
        for since, _, licensed in self.license_changes.get(upn, []):
            if since <= at:
                held = licensed
        return held

    def auto_recharge(self, at: datetime) -> None:
        if self.auto is None or self.balance >= self.auto[0]:
            return
        if self.last_failure is not None and timedelta(0) <= at - self.last_failure < timedelta(hours=1):
            return
        if self.card_ok(at):
            self.purchase(self.auto[1], at)
            self.last_failure = None
        else:
            self.last_failure = at

    def known(self, call_id: str) -> bool:
        return call_id in self.charged or call_id in self.denied or call_id in self.included

    def call(self, call_id: str, upn: str, amount: Decimal, at: datetime) -> None:
        if self.known(call_id):
            return
        if upn == PLAN_USER:  # the pool covers what it has left; the rest is charged
            month = clock.month_key(at)
            seconds = int(amount / CENT)
            covered = min(max(0, self.capacity - self.pool_used.get(month, 0)), seconds)
            if covered:
                self.pool_used[month] = self.pool_used.get(month, 0) + covered
            amount -= covered * CENT
            if amount == 0:
                self.included.add(call_id)
                return
        if not self.licensed_at(upn, at):  # denied before the balance is looked at
            self.denied.add(call_id)
            return
        self.expire(at)
        self.auto_recharge(at)
        if self.balance <= 0:
            self.denied.add(call_id)
            return
        self.charged[call_id] = amount
        left = amount
        for lot in self.lots:
            take = min(lot.remaining, left)
            lot.remaining -= take
            left -= take
        self.unfunded -= left
        self.auto_recharge(at)


# --- the machine --------------------------------------------------------------------------

amounts = st.decimals(min_value=50, max_value=400, places=2)
charges = st.decimals(min_value=Decimal("0.01"), max_value=150, places=2)  # whole cents: whole seconds
jumps = st.sampled_from(
    [timedelta(minutes=7), timedelta(minutes=59), timedelta(hours=3), timedelta(days=20), timedelta(days=95),
     timedelta(days=200), timedelta(days=366)]
)


class FundingMachine(RuleBasedStateMachine):
    database: dbmod.Database

    @initialize()
    def setup(self) -> None:
        self.model = Model(capacity=service().domestic_minutes_for("US") * 60)
        self.calls = count(1)
        self.slug = slug = f"t{next(_slugs)}"

        def work(s: Session) -> int:
            t = tenants.add_tenant(s, slug, name=slug, country="US", billing_country="US", currency="USD")
            payments.set_card(s, t, GOOD_CARD, None)
            for upn in UPNS:
                plan = "domestic" if upn == PLAN_USER else "payg"
                users.upsert_user(s, t, upn, country="US", plan=plan, licensed=self.model.licensed[upn])
            with tempfile.TemporaryDirectory(prefix="credits-sm-") as folder:
                rates_path = Path(folder) / "rates.yaml"
                rates_path.write_text(RATES, encoding="utf-8")
                rates.load_file(s, t, rates_path)
            return t.id or 0

        self.tenant_id = self.database.write(work)

    def _tenant(self, s: Session) -> Tenant:
        tenant = s.get(Tenant, self.tenant_id)
        assert tenant is not None
        return tenant

    @rule(amount=amounts)
    def topup(self, amount: Decimal) -> None:
        at = self.model.now
        clock.pin(at)  # bought, and booked, in the simulated present

        def work(s: Session) -> bool:
            try:
                ledger.topup(s, self._tenant(s), amount, at=at)
            except PurchaseRefused:
                s.rollback()
                return False
            return True

        went_through = self.database.write(work)
        assert went_through == self.model.card_ok(at)
        if went_through:
            self.model.expire(at)
            self.model.purchase(amount, at)

    @rule(setting=st.one_of(st.none(), st.tuples(st.decimals(min_value=0, max_value=200, places=2), amounts)))
    def autorecharge(self, setting: tuple[Decimal, Decimal] | None) -> None:
        """Auto-recharge on (below THRESHOLD buy AMOUNT) or off."""
        if setting is None:
            self.database.write(lambda s: ledger.disable_auto_recharge(s, self._tenant(s)))
            self.model.auto = None
            return
        threshold, amount = setting
        self.database.write(lambda s: ledger.set_auto_recharge(s, self._tenant(s), threshold, amount))
        self.model.auto = (threshold, amount)
        self.model.last_failure = None

    @rule(card=st.sampled_from([GOOD_CARD, GOOD_CARD, EXPIRED_CARD]))
    def payment_method(self, card: str) -> None:
        self.database.write(lambda s: payments.set_card(s, self._tenant(s), card, None))
        self.model.card = card

    @rule(upn=st.sampled_from(UPNS), licensed=st.booleans())
    def license(self, upn: str, licensed: bool) -> None:
        clock.pin(self.model.now)  # changed in the simulated present (a license holds from when it was changed)
        self.database.write(lambda s: users.set_license(s, self._tenant(s), [upn], licensed))
        if licensed != self.model.licensed_at(upn, self.model.now):  # an unchanged license is not a change
            self.model.change_license(upn, licensed, self.model.now)

    @rule(upn=st.sampled_from(UPNS), licensed=st.booleans(), back=st.sampled_from([1, 5, 30, 200]))
    def license_changed_earlier(self, upn: str, licensed: bool, back: int) -> None:
        """A license change recorded now that happened ``back`` hours ago (``license assign --at``)."""
        since = max(START, self.model.now - timedelta(hours=back))
        clock.pin(self.model.now)
        current = self.database.read
        with current() as s:
            known = users.get_user(s, self._tenant(s), upn)
            assert known is not None
            now_licensed = known.licensed
        self.database.write(lambda s: users.set_license(s, self._tenant(s), [upn], licensed, since))
        if licensed != now_licensed:  # the books record a change of what the user holds now, dated
            self.model.change_license(upn, licensed, since)

    @rule(amount=amounts, back=st.sampled_from([1, 26, 24 * 40]))
    def topup_bought_earlier(self, amount: Decimal, back: int) -> None:
        """A purchase recorded now that was made ``back`` hours ago (``topup --at``): its lot is older than the
        ones bought since, so it is used first; one bought over a year ago is already expired."""
        now = self.model.now
        at = max(START, now - timedelta(hours=back))
        clock.pin(now)

        def work(s: Session) -> bool:
            try:
                ledger.topup(s, self._tenant(s), amount, at=at)
            except PurchaseRefused:
                s.rollback()
                return False
            return True

        went_through = self.database.write(work)
        assert went_through == self.model.card_ok(at)
        if went_through:
            self.model.expire(now)
            self.model.purchase(amount, at)
            self.model.expire(now)

    @rule(upn=st.sampled_from(UPNS), amount=charges, back=st.sampled_from([1, 7, 30]))
    def a_late_call(self, upn: str, amount: Decimal, back: int) -> None:
        """A call made ``back`` hours ago and imported only now (a late export): rated with the license in
        force when it was made."""
        at = max(START, self.model.now - timedelta(hours=back))
        self._rate([SimCall(f"call-{next(self.calls)}", upn, at, amount)])

    @rule(delta=jumps)
    def time_passes(self, delta: timedelta) -> None:
        """Time jumps forward and a command writes off what expired (as ``balance`` does)."""
        self.model.now += delta
        at = self.model.now
        self.database.write(lambda s: ledger.housekeep(s, self._tenant(s), at=at))
        self.model.expire(at)

    @rule(batch=st.lists(st.tuples(st.sampled_from(UPNS), charges), min_size=1, max_size=6))
    def calls_happen(self, batch: list[tuple[str, Decimal]]) -> None:
        calls = []
        for upn, amount in batch:
            self.model.now += timedelta(minutes=3)
            if upn == PLAN_USER:
                amount *= 10  # long calls: the month's pool runs out within a few
            calls.append(SimCall(f"call-{next(self.calls)}", upn, self.model.now, amount))
        self._rate(calls)

    @rule(upn=st.sampled_from(UPNS), amount=charges)
    def one_call(self, upn: str, amount: Decimal) -> None:
        self.calls_happen([(upn, amount)])

    @precondition(lambda self: bool(self.model.charged or self.model.denied or self.model.included))
    @rule(data=st.data())
    def calls_offered_again(self, data: st.DataObject) -> None:
        """The same call records again (a re-import): nothing is charged twice."""
        known = sorted(self.model.charged) + sorted(self.model.denied) + sorted(self.model.included)
        ids = data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=4))
        self._rate([SimCall(i, UPNS[0], self.model.now, Decimal(1)) for i in ids])

    def _rate(self, calls: list[SimCall]) -> None:
        again = sum(1 for c in calls if self.model.known(c.external_id))
        clock.pin(self.model.now)  # the import runs when the calls have happened (later ones are refused)
        summary = rate_with_engine(self.database, self.slug, calls)
        for c in calls:
            self.model.call(c.external_id, c.upn, c.amount, c.at)
        assert summary.duplicates == again
        assert summary.rejected == 0

    @invariant()
    def books_agree_with_the_model(self) -> None:
        if not hasattr(self, "model"):
            return
        with self.database.read() as s:
            tenant = self._tenant(s)
            report = ledger.verify(s, tenant)  # ledger sum = re-added = lot remainders + unfunded; pools >= 0
            assert report["balance"] == self.model.balance
            assert report["unfunded"] == self.model.unfunded
            assert report["charges_without_call"] == 0
            lots = [(lot.amount, lot.remaining) for lot in ledger.open_lots(s, tenant)]
            assert lots == [(lot.amount, lot.remaining) for lot in self.model.lots if lot.remaining > 0]
            rows = {c.external_id: c for c in s.exec(select(Call).where(Call.tenant_id == tenant.id))}
            assert set(rows) == set(self.model.charged) | self.model.denied | self.model.included
            charged_per_call = dict(
                s.exec(
                    select(LedgerEntry.call_id, func.count())
                    .where(LedgerEntry.tenant_id == tenant.id, LedgerEntry.kind == "charge")
                    .group_by(LedgerEntry.call_id)
                ).all()
            )
            pools = s.exec(select(PoolUsage).where(PoolUsage.tenant_id == tenant.id)).all()
            for pool in pools:
                assert 0 <= pool.used_seconds <= pool.capacity_seconds == self.model.capacity
            assert {p.month: p.used_seconds for p in pools if p.used_seconds} == {
                m: used for m, used in self.model.pool_used.items() if used
            }
            for external_id, row in rows.items():
                if external_id in self.model.included:
                    assert row.status == "included" and row.charge == ZERO
                    assert row.id not in charged_per_call
                    continue
                if not row.charge:
                    assert row.id not in charged_per_call
                if external_id in self.model.denied:
                    # Unlicensed, or no balance: never charged.
                    assert row.status == "denied" and row.charge == ZERO
                    assert row.id not in charged_per_call
                else:
                    assert row.status == "charged" and row.charge == self.model.charged[external_id]
                    # Spread over at most every open lot plus the unfunded part, all for this one call.
                    assert 1 <= charged_per_call[row.id] <= len(self.model.lots) + 1


def test_funding_state_machine(isolated_db: str) -> None:
    database = dbmod.Database(dbmod.resolve_url(isolated_db))
    database.migrate()
    FundingMachine.database = database
    examples = int(os.environ.get("CREDITS_STATEFUL_EXAMPLES", "30"))
    try:
        run_state_machine_as_test(
            FundingMachine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        database.dispose()
