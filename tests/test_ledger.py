"""The ledger API that rating uses, called directly against a real SQLite file."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from credits_cli import clock, ledger, money, payments, tenants
from credits_cli import db as dbmod
from credits_cli.errors import InvalidInput, LedgerBroken, PurchaseRefused
from credits_cli.models import AutoRecharge, LedgerEntry, Lot, Notification, Tenant

T = TypeVar("T")
D = Decimal
T0 = datetime(2026, 1, 15, 9, 0, 0)


class Env:
    def __init__(self, path: Path, *, country: str = "US", billing: str | None = None, currency: str = "USD",
                 card: str | None = "2099-12", admin: bool = True) -> None:
        self.path = path
        self.database = dbmod.Database("sqlite:///" + str(path))
        self.database.migrate()

        def setup(s: Session) -> int:
            t = tenants.add_tenant(s, "contoso", name="Contoso", country=country,
                                   billing_country=billing or country, currency=currency)
            if card:
                payments.set_card(s, t, card, "4242")
            if admin:
                tenants.add_admin(s, t, "billing@contoso.com", "billing-admin")
            assert t.id is not None
            return t.id

        self.tenant_id = self.database.write(setup)

    def tenant(self, s: Session) -> Tenant:
        t = s.get(Tenant, self.tenant_id)
        assert t is not None
        return t

    def write(self, fn: Callable[[Session, Tenant], T]) -> T:
        return self.database.write(lambda s: fn(s, self.tenant(s)))

    def account(self, fn: Callable[[ledger.Account], T]) -> T:
        def work(s: Session, t: Tenant) -> T:
            acc = ledger.Account.load(s, t)
            result = fn(acc)
            acc.flush()
            return result

        return self.write(work)

    def topup(self, amount: str, at: datetime) -> int:
        clock.pin(at)  # bought, and booked, at ``at`` (the simulated present)
        return self.write(lambda s, t: ledger.topup(s, t, D(amount), at=at)[0])

    def charge(self, amount: str, at: datetime) -> Decimal:
        def fn(acc: ledger.Account) -> Decimal:
            acc.prepare(at)
            return acc.charge(D(amount), at)

        return self.account(fn)

    def balance(self) -> Decimal:
        with self.database.read() as s:
            return ledger.balance(s, self.tenant(s))

    def verify(self) -> dict[str, Any]:
        with self.database.read() as s:
            return ledger.verify(s, self.tenant(s))

    def entries(self) -> list[Any]:
        with self.database.read() as s:
            return ledger.entries(s, self.tenant(s))

    def lots(self) -> list[Lot]:
        with self.database.read() as s:
            return list(s.exec(select(Lot).order_by(Lot.id)).all())  # type: ignore[arg-type]

    def events(self) -> list[str]:
        with self.database.read() as s:
            return [n.event for n in s.exec(select(Notification).order_by(Notification.id)).all()]  # type: ignore[arg-type]

    def settings(self) -> AutoRecharge | None:
        with self.database.read() as s:
            return s.get(AutoRecharge, self.tenant_id)

    def auto(self, threshold: str, amount: str) -> None:
        self.write(lambda s, t: ledger.set_auto_recharge(s, t, D(threshold), D(amount)))

    def set_card(self, expiry: str) -> None:
        self.write(lambda s, t: payments.set_card(s, t, expiry, None))

    def close(self) -> None:
        self.database.dispose()


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path / "ledger.db")
    yield e
    e.close()


def test_topup_makes_a_lot_that_expires_after_twelve_months(env: Env) -> None:
    lot_id = env.topup("100", T0)
    (lot,) = env.lots()
    assert lot.id == lot_id
    assert lot.amount == D("100") and lot.remaining == D("100")
    assert lot.expires_at == datetime(2027, 1, 15, 9, 0, 0)
    assert env.balance() == D("100")
    (entry,) = env.entries()
    assert entry.kind == "topup" and entry.amount == D("100") and entry.lot_id == lot_id
    env.verify()


def test_topup_below_minimum_refused(env: Env) -> None:
    with pytest.raises(InvalidInput, match="minimum"):
        env.topup("49.99", T0)
    assert env.entries() == [] and env.lots() == []


def test_month_end_expiry_is_clamped(env: Env) -> None:
    env.topup("50", datetime(2024, 2, 29, 12, 0))
    assert env.lots()[0].expires_at == datetime(2025, 2, 28, 12, 0)


def test_expiry_writes_off_the_remainder(env: Env) -> None:
    env.topup("100", T0)
    env.charge("30", T0 + timedelta(days=10))
    expires = datetime(2027, 1, 15, 9, 0, 0)
    # One second before expiry nothing happens.
    assert env.account(lambda a: a.expire(expires - timedelta(seconds=1))) == 0
    assert env.account(lambda a: a.expire(expires)) == D("70")
    assert env.balance() == 0
    last = env.entries()[-1]
    assert last.kind == "expiry" and last.amount == D("-70") and last.service_at == expires
    assert env.lots()[0].remaining == 0
    # Expiring again does nothing.
    assert env.account(lambda a: a.expire(expires + timedelta(days=30))) == 0
    env.verify()


def test_fifo_oldest_lot_first_and_a_charge_spanning_two_lots(env: Env) -> None:
    first = env.topup("50", T0)
    second = env.topup("60", T0 + timedelta(days=1))
    env.charge("20", T0 + timedelta(days=2))
    lots = {lot.id: lot for lot in env.lots()}
    assert lots[first].remaining == D("30") and lots[second].remaining == D("60")
    env.charge("45.1234", T0 + timedelta(days=3))
    lots = {lot.id: lot for lot in env.lots()}
    assert lots[first].remaining == 0 and lots[second].remaining == D("44.8766")
    spanning = [e for e in env.entries() if e.service_at == T0 + timedelta(days=3)]
    assert [(e.lot_id, e.amount) for e in spanning] == [(first, D("-30")), (second, D("-15.1234"))]
    assert env.balance() == D("44.8766")
    env.verify()


def test_charge_below_zero_and_the_next_purchase_settles_it(env: Env) -> None:
    lot1 = env.topup("50", T0)
    after = env.charge("50.5", T0 + timedelta(hours=1))
    assert after == D("-0.5")
    charge_entries = [e for e in env.entries() if e.kind == "charge"]
    assert [(e.lot_id, e.amount) for e in charge_entries] == [(lot1, D("-50")), (None, D("-0.5"))]
    assert env.balance() == D("-0.5")
    assert env.verify()["unfunded"] == D("-0.5")
    # No further charge may go through.
    assert env.account(lambda a: a.can_charge()) is False

    lot2 = env.topup("50", T0 + timedelta(hours=2))
    settlement = [e for e in env.entries() if e.kind == "settlement"]
    assert sorted((e.lot_id, e.amount) for e in settlement if e.lot_id) == [(lot2, D("-0.5"))]
    assert [(e.lot_id, e.amount) for e in settlement if e.lot_id is None] == [(None, D("0.5"))]
    assert env.balance() == D("49.5")
    assert {lot.id: lot.remaining for lot in env.lots()}[lot2] == D("49.5")
    report = env.verify()
    assert report["unfunded"] == 0 and report["balance"] == D("49.5")


def test_zero_crossing_event_once_per_crossing(env: Env) -> None:
    env.topup("50", T0)
    env.charge("49", T0 + timedelta(minutes=1))
    assert env.events() == []
    env.charge("2", T0 + timedelta(minutes=2))
    assert env.events() == ["balance_zero"]
    # Staying below zero: no new event (an expiry or a zero charge while below zero).
    env.charge("0", T0 + timedelta(minutes=3))
    env.account(lambda a: a.expire(T0 + timedelta(days=400)))
    assert env.events() == ["balance_zero"]
    # Funded again, then crossing again: a second event.
    env.topup("50", T0 + timedelta(days=1))
    env.charge("60", T0 + timedelta(days=1, minutes=1))
    assert env.events() == ["balance_zero", "balance_zero"]
    env.verify()


def test_exact_zero_counts_as_a_crossing(env: Env) -> None:
    env.topup("50", T0)
    assert env.charge("50", T0 + timedelta(minutes=1)) == 0
    assert env.events() == ["balance_zero"]
    assert env.account(lambda a: a.can_charge()) is False


def test_expiry_to_zero_is_a_crossing(env: Env) -> None:
    env.topup("50", T0)
    env.account(lambda a: a.expire(T0 + timedelta(days=366)))
    assert env.balance() == 0
    assert env.events() == ["balance_zero"]


def test_auto_recharge_below_threshold(env: Env) -> None:
    env.topup("100", T0)
    env.auto("20", "50")
    env.charge("79", T0 + timedelta(minutes=1))  # 21 left: above threshold
    assert env.events() == []
    env.charge("2", T0 + timedelta(minutes=2))  # 19 left: below -> recharge 50
    assert env.balance() == D("69")
    assert env.events() == ["recharge_succeeded"]
    lots = env.lots()
    assert [lot.kind for lot in lots] == ["topup", "recharge"]
    assert lots[1].amount == D("50") and lots[1].purchased_at == T0 + timedelta(minutes=2)
    assert lots[1].expires_at == datetime(2027, 1, 15, 9, 2)
    env.verify()


def test_prepare_recharges_before_a_call(env: Env) -> None:
    env.auto("20", "50")
    env.account(lambda a: a.prepare(T0))  # balance 0 < 20: recharge
    assert env.balance() == D("50")
    assert env.events() == ["recharge_succeeded"]


def test_recharge_failure_with_an_expired_card_then_retry_after_an_hour(env: Env) -> None:
    env.topup("100", T0)
    env.auto("20", "50")
    env.set_card("2025-12")  # expired before T0 (2026-01)
    t1 = T0 + timedelta(minutes=5)
    env.charge("85", t1)
    assert env.events() == ["recharge_failed"]
    s = env.settings()
    assert s is not None and s.last_failure_at == t1
    with env.database.read() as sess:
        note = sess.exec(select(Notification)).first()
        assert note is not None and "expired" in note.body and "2025-12" in note.body
    # Within the hour: no new attempt.
    env.charge("1", t1 + timedelta(minutes=30))
    env.account(lambda a: a.prepare(t1 + timedelta(minutes=59, seconds=59)))
    assert env.events() == ["recharge_failed"]
    # An hour later: tried again (still failing), in the same episode: the admins were told already.
    env.account(lambda a: a.prepare(t1 + timedelta(hours=1)))
    assert env.events() == ["recharge_failed"]
    assert env.settings().last_failure_at == t1 + timedelta(hours=1)  # type: ignore[union-attr]
    assert env.settings().failing_since == t1  # type: ignore[union-attr]
    # The card is replaced: the next attempt an hour later succeeds and clears the failure.
    env.set_card("2099-12")
    assert env.settings().failing_since is None  # type: ignore[union-attr]  # a new method, a new episode
    env.account(lambda a: a.prepare(t1 + timedelta(hours=2)))
    assert env.events()[-1] == "recharge_succeeded"
    assert env.settings().last_failure_at is None  # type: ignore[union-attr]
    assert env.balance() == D("64")
    env.verify()


def test_a_new_failure_episode_is_news_again(env: Env) -> None:
    """A failure after a success, or after the payment method changed, is told again: once per episode."""
    env.topup("100", T0)
    env.auto("20", "50")
    env.set_card("2025-12")
    t1 = T0 + timedelta(minutes=5)
    env.charge("85", t1)
    for hour in range(1, 5):
        env.account(lambda a, h=hour: a.prepare(t1 + timedelta(hours=h)))
    assert env.events() == ["recharge_failed"]
    env.set_card("2025-11")  # another card, expired too: a new episode
    env.account(lambda a: a.prepare(t1 + timedelta(hours=6)))
    assert env.events() == ["recharge_failed", "recharge_failed"]
    env.set_card("2099-12")
    env.account(lambda a: a.prepare(t1 + timedelta(hours=8)))
    assert env.events()[-1] == "recharge_succeeded"
    env.verify()


def test_region_rule_refuses_purchases(tmp_path: Path) -> None:
    e = Env(tmp_path / "r.db", country="US", billing="DE")
    try:
        with pytest.raises(PurchaseRefused, match="different regions"):
            e.topup("100", T0)
        assert e.lots() == [] and e.entries() == []
    finally:
        e.close()


def test_same_region_different_country_is_allowed(tmp_path: Path) -> None:
    e = Env(tmp_path / "r.db", country="FR", billing="DE", currency="EUR")
    try:
        e.topup("50", T0)
        assert e.balance() == D("50")
    finally:
        e.close()


def test_no_payment_method_refused(tmp_path: Path) -> None:
    e = Env(tmp_path / "r.db", card=None)
    try:
        with pytest.raises(PurchaseRefused, match="no payment method"):
            e.topup("100", T0)
    finally:
        e.close()


def test_card_good_through_its_expiry_month(env: Env) -> None:
    env.set_card("2026-01")
    env.topup("50", datetime(2026, 1, 31, 23, 59, 59))
    with pytest.raises(PurchaseRefused, match="expired"):
        env.topup("50", datetime(2026, 2, 1, 0, 0, 0))


def test_events_without_admins_are_kept_as_no_recipient(tmp_path: Path) -> None:
    e = Env(tmp_path / "r.db", admin=False)
    try:
        e.topup("50", T0)
        e.charge("60", T0 + timedelta(minutes=1))
        with e.database.read() as s:
            (note,) = s.exec(select(Notification)).all()
        assert note.status == "no_recipient" and note.recipient is None
    finally:
        e.close()


def test_verify_passes_after_everything(env: Env) -> None:
    env.topup("100", T0)
    env.auto("20", "50")
    env.charge("90", T0 + timedelta(minutes=1))
    env.charge("70", T0 + timedelta(minutes=2))
    env.account(lambda a: a.expire(T0 + timedelta(days=800)))
    env.topup("55", T0 + timedelta(days=801))
    report = env.verify()
    assert report["balance"] == env.balance()
    assert all(isinstance(v, Decimal) for k, v in report.items() if k in ("balance", "lot_remainders", "unfunded"))


def _sql(env: Env, statement: str, *params: object) -> None:
    con = sqlite3.connect(env.path)
    try:
        con.execute(statement, params)
        con.commit()
    finally:
        con.close()


def test_verify_detects_a_tampered_lot(env: Env) -> None:
    lot_id = env.topup("100", T0)
    env.charge("10", T0 + timedelta(minutes=1))
    env.verify()
    _sql(env, "UPDATE lots SET remaining = remaining + 10000 WHERE id = ?", lot_id)
    with pytest.raises(LedgerBroken, match=f"lot {lot_id}"):
        env.verify()


def test_verify_detects_a_bogus_entry(env: Env) -> None:
    lot_id = env.topup("100", T0)
    env.verify()
    _sql(
        env,
        "INSERT INTO ledger (tenant_id, service_at, posted_at, kind, amount, lot_id, note) "
        "VALUES (?, '2026-02-01 00:00:00', '2026-02-01 00:00:00', 'adjustment', 50000, ?, 'bogus')",
        env.tenant_id,
        lot_id,
    )
    with pytest.raises(LedgerBroken, match=f"lot {lot_id}"):
        env.verify()


def test_verify_detects_an_unfunded_credit(env: Env) -> None:
    env.topup("100", T0)
    _sql(
        env,
        "INSERT INTO ledger (tenant_id, service_at, posted_at, kind, amount, lot_id, note) "
        "VALUES (?, '2026-02-01 00:00:00', '2026-02-01 00:00:00', 'adjustment', 50000, NULL, 'free money')",
        env.tenant_id,
    )
    with pytest.raises(LedgerBroken, match="without a lot"):
        env.verify()


def test_verify_detects_a_lot_whose_purchase_is_missing(env: Env) -> None:
    lot_id = env.topup("100", T0)
    _sql(env, "UPDATE lots SET amount = 2000000 WHERE id = ?", lot_id)
    with pytest.raises(LedgerBroken, match=f"lot {lot_id}"):
        env.verify()


# --- the invariant, over any sequence ---------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("topup"), st.integers(min_value=50, max_value=500), st.integers(0, 99)),
        st.tuples(st.just("charge"), st.integers(min_value=0, max_value=300), st.integers(0, 9999)),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=400), st.just(0)),
        st.tuples(st.just("auto"), st.integers(min_value=0, max_value=100), st.integers(50, 120)),
        st.tuples(st.just("card"), st.booleans(), st.just(0)),
    ),
    max_size=25,
)


def _check_invariant(e: Env, expected_balance: Decimal) -> None:
    with e.database.read() as s:
        t = e.tenant(s)
        rows = ledger.entries(s, t)
        lots = list(s.exec(select(Lot)).all())
        for row in rows:
            assert type(row.amount) is Decimal
        for lot in lots:
            assert type(lot.remaining) is Decimal and type(lot.amount) is Decimal
            assert 0 <= lot.remaining <= lot.amount
        total = sum((r.amount for r in rows), D(0))
        unfunded = sum((r.amount for r in rows if r.lot_id is None), D(0))
        remainders = sum((lot.remaining for lot in lots), D(0))
        balance = ledger.balance(s, t)
        assert type(balance) is Decimal
        assert balance == total == remainders + unfunded == expected_balance
        assert unfunded <= 0
        if unfunded < 0:
            assert balance == unfunded  # debt exists only while no lot holds money
        report = ledger.verify(s, t)
        assert report["balance"] == balance
    con = sqlite3.connect(e.path)
    try:
        query = "SELECT DISTINCT typeof(amount) FROM ledger UNION SELECT typeof(remaining) FROM lots"
        for (typ,) in con.execute(query):
            assert typ == "integer"
    finally:
        con.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_ledger_invariant_over_any_sequence(ops: list[tuple[str, Any, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        e = Env(Path(tmp) / "prop.db")
        try:
            now = T0
            expected = D(0)
            for kind, a, b in ops:
                now += timedelta(minutes=7)
                if kind == "topup":
                    amount = D(a) + D(b) / 100
                    before = e.balance()
                    try:
                        clock.pin(now)
                        e.write(lambda s, t, amount=amount, at=now: ledger.topup(s, t, amount, at=at))
                    except PurchaseRefused:
                        assert e.balance() == before  # nothing written
                    else:
                        # A top-up first writes off what expired, then adds the lot.
                        assert e.balance() - before <= amount
                    expected = e.balance()
                elif kind == "charge":
                    amount = D(a) + D(b) / 10000

                    def go(acc: ledger.Account, amount: Decimal = amount, at: datetime = now) -> bool:
                        acc.prepare(at)
                        if not acc.can_charge():
                            return False
                        before = acc.balance
                        seen = len(acc.recharges)
                        after = acc.charge(amount, at)
                        assert type(after) is Decimal
                        bought = sum((r.amount for r in acc.recharges[seen:] if r.succeeded), D(0))
                        assert after == before - amount + bought
                        return True

                    e.account(go)
                    expected = e.balance()
                elif kind == "advance":
                    now += timedelta(days=a)
                    e.account(lambda acc, at=now: acc.expire(at))
                    expected = e.balance()
                elif kind == "auto":
                    e.auto(str(a), str(b))
                else:
                    e.set_card("2099-12" if a else "2020-01")
                _check_invariant(e, expected)
        finally:
            e.close()


def test_verify_detects_debt_beside_a_funded_lot(env: Env) -> None:
    env.topup("100", T0)
    _sql(
        env,
        "INSERT INTO ledger (tenant_id, service_at, posted_at, kind, amount, lot_id, note) "
        "VALUES (?, '2026-02-01 00:00:00', '2026-02-01 00:00:00', 'charge', -50000, NULL, 'bogus')",
        env.tenant_id,
    )
    with pytest.raises(LedgerBroken, match="without a lot owe 5.0000"):
        env.verify()


@pytest.mark.parametrize("count", [1, ledger.ENTRY_ROWS_PER_STATEMENT, 2 * ledger.ENTRY_ROWS_PER_STATEMENT + 37])
def test_entry_rows_go_in_whole_and_in_order(env: Env, count: int) -> None:
    # Many rows a statement and the rest one by one: every row, in the order given (ids follow it).
    lot = env.topup("1000", T0)
    posted = T0 + timedelta(days=1)
    rows = [(env.tenant_id, T0 + timedelta(seconds=i), posted, "charge", -(i + 1), lot if i % 2 else None, None,
             f"n{i}") for i in range(count)]
    env.write(lambda s, t: ledger.insert_entry_rows(s, rows))
    with env.database.read() as s:
        stored = s.exec(select(LedgerEntry.service_at, LedgerEntry.posted_at, LedgerEntry.amount, LedgerEntry.lot_id,
                               LedgerEntry.note).where(LedgerEntry.kind == "charge").order_by(LedgerEntry.id)).all()
    expected = [(at, p, money.from_units(a), lot_id, note) for _, at, p, _, a, lot_id, _, note in rows]
    assert [tuple(r) for r in stored] == expected


@pytest.mark.parametrize("count", [1, ledger.CHARGE_ROWS_PER_STATEMENT, 2 * ledger.CHARGE_ROWS_PER_STATEMENT + 37])
def test_charges_go_in_whole_and_in_order_as_entry_rows_would(env: Env, count: int) -> None:
    # What every charge shares is written into the statement; the rest bound: the same rows as one by one.
    lot = env.topup("1000", T0)
    posted = T0 + timedelta(days=1)
    service = [T0 + timedelta(seconds=i) for i in range(count)]
    amounts, lots = [-(i + 1) for i in range(count)], [lot if i % 2 else None for i in range(count)]
    env.write(lambda s, t: ledger.insert_charges(s, env.tenant_id, posted, service, amounts, lots, [None] * count))
    with env.database.read() as s:
        stored = s.exec(select(LedgerEntry.tenant_id, LedgerEntry.service_at, LedgerEntry.posted_at, LedgerEntry.kind,
                               LedgerEntry.amount, LedgerEntry.lot_id, LedgerEntry.note)
                        .where(LedgerEntry.kind == "charge").order_by(LedgerEntry.id)).all()
    assert [tuple(r) for r in stored] == [(env.tenant_id, at, posted, "charge", money.from_units(a), lot_id, "")
                                          for at, a, lot_id in zip(service, amounts, lots, strict=True)]


def test_the_balance_mark_is_the_balance_the_unfunded_sum_and_the_last_entry(env: Env) -> None:
    lot = env.topup("100", T0)
    posted = T0 + timedelta(days=1)
    env.write(lambda s, t: ledger.insert_charges(s, env.tenant_id, posted, [T0, T0], [-30_000, -20_000], [lot, None],
                                                 [None, None]))
    with env.database.read() as s:
        mark = ledger.balance_mark(s, env.tenant(s))
        last = s.exec(select(LedgerEntry.id).order_by(LedgerEntry.id.desc())).first()  # type: ignore[union-attr]
        assert mark == ledger.BalanceMark(last or 0, ledger.balance(s, env.tenant(s)), Decimal("-2.0000"))
    assert mark.balance == Decimal("95.0000")
