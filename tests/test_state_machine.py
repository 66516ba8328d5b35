"""Random sequences of funding operations against a simple model of the balance.

A hypothesis state machine drives top-ups, auto-recharge on/off, payment
method changes (a good card, an expired card), license changes, time jumps
(lots expire, the card's month passes) and calls, each in its own write
transaction on the real database, and checks after every step:

* balance = ledger sum = lot remainders + unfunded, and it equals the model's;
* every lot's remainder equals the model's (oldest lot used first);
* each call is charged at most once, however often it is offered again;
* a call of an unlicensed user is never charged;
* ``ledger.verify`` passes (it also checks that no pool is below zero).

Calls are rated here by :class:`SimulatedRating`, the smallest rule that uses
``ledger.Account`` the way a rating engine does (prepare, can_charge, charge,
flush). To drive the real engine instead, replace ``SimulatedRating.rate`` and
keep the model and the invariants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

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

from credits_cli import clock, ledger, payments, tenants, users
from credits_cli import db as dbmod
from credits_cli.errors import PurchaseRefused
from credits_cli.models import Call, LedgerEntry, Tenant

ZERO = Decimal(0)
GOOD_CARD, EXPIRED_CARD = "2099-12", "2020-01"
UPNS = ("ann@contoso.com", "bob@contoso.com", "cy@contoso.com")
START = datetime(2026, 1, 5, 9, 0)
_slugs = count()


# --- the system under test's call rating, simulated ------------------------------------


@dataclass
class SimCall:
    external_id: str
    upn: str
    at: datetime
    amount: Decimal


class SimulatedRating:
    """Rate calls the way the engine uses the ledger: one Account per batch, each call once."""

    @staticmethod
    def rate(session: Session, tenant: Tenant, calls: list[SimCall]) -> dict[str, str]:
        account = ledger.Account.load(session, tenant)
        outcome: dict[str, str] = {}
        for c in calls:
            seen = session.exec(
                select(Call).where(Call.tenant_id == tenant.id, Call.external_id == c.external_id)
            ).first()
            if seen is not None:
                outcome[c.external_id] = "duplicate"
                continue
            user = users.get_user(session, tenant, c.upn)
            account.prepare(c.at)
            row = Call(
                tenant_id=tenant.id or 0,
                external_id=c.external_id,
                user_upn=c.upn,
                user_id=user.id if user else None,
                start=c.at,
                duration_seconds=60,
                call_type="user_out",
                kind="outbound",
                status="denied",
            )
            if user is None or not user.licensed:
                row.reason = "no Communications Credits license"
            elif not account.can_charge():
                row.reason = "balance is zero"
            else:
                row.status = "charged"
                row.charge = c.amount
            session.add(row)
            session.flush()
            if row.status == "charged":
                account.charge(c.amount, c.at, call_id=row.id)
            outcome[c.external_id] = row.status
        account.flush()
        return outcome


# --- the model ----------------------------------------------------------------------------


@dataclass
class MLot:
    amount: Decimal
    remaining: Decimal
    purchased_at: datetime
    expires_at: datetime


@dataclass
class Model:
    now: datetime = START
    lots: list[MLot] = field(default_factory=list)
    unfunded: Decimal = ZERO
    card: str = GOOD_CARD
    auto: tuple[Decimal, Decimal] | None = None
    last_failure: datetime | None = None
    licensed: dict[str, bool] = field(default_factory=lambda: {UPNS[0]: True, UPNS[1]: True, UPNS[2]: False})
    charged: dict[str, Decimal] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)

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
        self.lots.append(lot)
        settle = min(-self.unfunded, amount)
        lot.remaining -= settle
        self.unfunded += settle

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

    def call(self, call_id: str, upn: str, amount: Decimal, at: datetime) -> None:
        if call_id in self.charged or call_id in self.denied:
            return
        self.expire(at)
        self.auto_recharge(at)
        if not self.licensed[upn] or self.balance <= 0:
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
charges = st.decimals(min_value=Decimal("0.01"), max_value=150, places=4)
jumps = st.sampled_from(
    [timedelta(minutes=7), timedelta(minutes=59), timedelta(hours=3), timedelta(days=20), timedelta(days=95),
     timedelta(days=200), timedelta(days=366)]
)


class FundingMachine(RuleBasedStateMachine):
    database: dbmod.Database

    @initialize()
    def setup(self) -> None:
        self.model = Model()
        self.calls = count(1)
        slug = f"t{next(_slugs)}"

        def work(s: Session) -> int:
            t = tenants.add_tenant(s, slug, name=slug, country="US", billing_country="US", currency="USD")
            payments.set_card(s, t, GOOD_CARD, None)
            for upn in UPNS:
                users.upsert_user(s, t, upn, country="US", licensed=self.model.licensed[upn])
            return t.id or 0

        self.tenant_id = self.database.write(work)

    def _tenant(self, s: Session) -> Tenant:
        tenant = s.get(Tenant, self.tenant_id)
        assert tenant is not None
        return tenant

    @rule(amount=amounts)
    def topup(self, amount: Decimal) -> None:
        at = self.model.now

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
        self.database.write(lambda s: users.set_license(s, self._tenant(s), [upn], licensed))
        self.model.licensed[upn] = licensed

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
            calls.append(SimCall(f"call-{next(self.calls)}", upn, self.model.now, amount))
        self._rate(calls)

    @rule(upn=st.sampled_from(UPNS), amount=charges)
    def one_call(self, upn: str, amount: Decimal) -> None:
        self.calls_happen([(upn, amount)])

    @precondition(lambda self: bool(self.model.charged or self.model.denied))
    @rule(data=st.data())
    def calls_offered_again(self, data: st.DataObject) -> None:
        """The same call records again (a re-import): nothing is charged twice."""
        known = sorted(self.model.charged) + sorted(self.model.denied)
        ids = data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=4))
        self._rate([SimCall(i, UPNS[0], self.model.now, Decimal(1)) for i in ids])

    def _rate(self, calls: list[SimCall]) -> None:
        outcome = self.database.write(lambda s: SimulatedRating.rate(s, self._tenant(s), calls))
        for c in calls:
            before = c.external_id in self.model.charged or c.external_id in self.model.denied
            self.model.call(c.external_id, c.upn, c.amount, c.at)
            if before:
                assert outcome[c.external_id] == "duplicate"

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
            assert set(rows) == set(self.model.charged) | self.model.denied
            charged_per_call = dict(
                s.exec(
                    select(LedgerEntry.call_id, func.count())
                    .where(LedgerEntry.tenant_id == tenant.id, LedgerEntry.kind == "charge")
                    .group_by(LedgerEntry.call_id)
                ).all()
            )
            for external_id, row in rows.items():
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
