"""The balance: an append-only ledger of entries over expiring lots.

The balance is never stored: it is the sum of the ledger. Every purchase
(top-up or recharge) is a lot that expires ``lot_validity_months`` after
purchase; charges consume the oldest lot first. When a call is charged while
the balance is above zero but below the charge, the uncovered part is an entry
without a lot (the balance goes below zero) that the next purchase settles.

:class:`Account` is what rating and the commands use: it loads one tenant's
open lots once per transaction, keeps the running balance in memory, and
writes its entries in bulk on :meth:`Account.flush`. It also runs the
auto-recharge rule (SPEC §6.6) and queues the events of §6.7.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import chain, repeat
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from credits_cli import clock, currencies, i18n, money, notify, payments
from credits_cli.errors import InvalidInput, LedgerBroken, PurchaseRefused
from credits_cli.i18n import N_, _
from credits_cli.kinds import FUNDING_KINDS, EntryKind, Event, Status
from credits_cli.models import AutoRecharge, Call, CallGuard, LedgerEntry, Lot, PoolUsage, Tenant
from credits_cli.money import ZERO
from credits_cli.queries import db_time
from credits_cli.refdata import service

RECHARGE_RETRY = timedelta(hours=1)


@dataclass
class RechargeOutcome:
    succeeded: bool
    amount: Decimal
    at: datetime
    reason: str = ""
    lot_id: int | None = None


@dataclass
class _OpenLot:
    id: int
    number: int  # the tenant's own number of the lot
    purchased_at: datetime
    expires_at: datetime
    remaining: Decimal
    dirty: bool = False


@dataclass(frozen=True)
class BalanceMark:
    """A tenant's balance and unfunded sum as of ledger id ``last_id``.

    On SQLite ids only grow and entries are never changed, so the balance later
    is this one plus the tenant's entries above ``last_id``: an import of many
    batches does not add up the whole ledger again for each batch.
    """

    last_id: int
    balance: Decimal
    unfunded: Decimal


@dataclass
class Account:
    """One tenant's balance inside one write transaction."""

    session: Session
    tenant: Tenant
    balance: Decimal
    unfunded: Decimal  # sum of entries without a lot (<= 0)
    lots: list[_OpenLot]
    settings: AutoRecharge | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    recharges: list[RechargeOutcome] = field(default_factory=list)
    _method_loaded: bool = False
    _method: Any = None
    #: When this account's entries are posted (booked): taken once (one transaction, one moment).
    posted_at: datetime = field(default_factory=clock.now)
    #: The last lot number given in this transaction (None: not read yet)
    _lot_numbers: int | None = None
    #: The auto-recharge threshold when the rule is on (copied from ``settings``: the per-call check
    #: reads a plain field); None when off. :meth:`auto_recharge` re-reads the settings below it.
    _threshold: Decimal | None = None

    def __post_init__(self) -> None:
        s = self.settings
        if s is not None and s.enabled and s.threshold is not None and s.amount is not None:
            self._threshold = s.threshold

    # --- loading ---------------------------------------------------------------
    @classmethod
    def load(cls, session: Session, tenant: Tenant, mark: BalanceMark | None = None) -> Account:
        """The tenant's open lots and balance; with ``mark`` (SQLite), only entries after it are summed."""
        assert tenant.id is not None
        from credits_cli.db import lock_tenant_row

        lock_tenant_row(session, tenant.id)  # read-then-write of the balance: one writer per tenant
        where: list[Any] = [LedgerEntry.tenant_id == tenant.id]
        balance = unfunded = ZERO
        if mark is not None and session.connection().dialect.name == "sqlite":
            # The entries after the mark by their ids (a range of the table's own key), the tenant
            # checked on each: "+ 0" keeps SQLite off the tenant's indexes, which it would otherwise
            # walk from the tenant's first entry (a year of calls: millions, for every chunk).
            where = [col(LedgerEntry.id) > mark.last_id, LedgerEntry.tenant_id + 0 == tenant.id]
            balance, unfunded = mark.balance, mark.unfunded
        balance += sum_money(session, LedgerEntry.amount, *where)
        unfunded += sum_money(session, LedgerEntry.amount, *where, col(LedgerEntry.lot_id).is_(None))
        rows = session.exec(
            select(Lot)
            .where(Lot.tenant_id == tenant.id, Lot.remaining > ZERO)
            .order_by(col(Lot.purchased_at), col(Lot.id))
        ).all()
        lots = [
            _OpenLot(id=lot.id or 0, number=lot.number, purchased_at=lot.purchased_at, expires_at=lot.expires_at,
                     remaining=lot.remaining)
            for lot in rows
        ]
        return cls(
            session=session,
            tenant=tenant,
            balance=balance,
            unfunded=unfunded,
            lots=lots,
            settings=session.get(AutoRecharge, tenant.id),
        )

    # --- entries -----------------------------------------------------------------
    def _entry(
        self,
        kind: str,
        amount: Decimal,
        at: datetime,
        *,
        lot_id: int | None = None,
        call_id: int | None = None,
        note: str = "",
    ) -> None:
        self.pending.append(
            {
                "tenant_id": self.tenant.id,
                "service_at": at,
                "posted_at": self.posted_at,
                "kind": kind,
                "amount": amount,
                "lot_id": lot_id,
                "call_id": call_id,
                "note": note,
            }
        )
        self.balance += amount
        if lot_id is None:
            self.unfunded += amount

    def _debit_lots(self, kind: str, amount: Decimal, at: datetime, call_id: int | None, note: str) -> None:
        left = amount
        for lot in self.lots:
            if left <= 0:
                break
            if lot.remaining <= 0:
                continue
            take = min(lot.remaining, left)
            lot.remaining -= take
            lot.dirty = True
            left -= take
            self._entry(kind, -take, at, lot_id=lot.id, call_id=call_id, note=note)
        if left > 0:
            self._entry(kind, -left, at, call_id=call_id, note=note)

    # --- operations ---------------------------------------------------------------
    def expire(self, at: datetime) -> Decimal:
        """Write off what is left of every lot that has expired by ``at``."""
        expired = ZERO
        before = self.balance
        for lot in self.lots:
            if lot.remaining > 0 and lot.expires_at <= at:
                amount = lot.remaining
                lot.remaining = ZERO
                lot.dirty = True
                note = f"lot {lot.number} expired unused"
                self._entry(EntryKind.EXPIRY, -amount, lot.expires_at, lot_id=lot.id, note=note)
                expired += amount
        if expired:
            self._crossed_zero(before, at)
        return expired

    def purchase(self, kind: str, amount: Decimal, at: datetime, note: str = "") -> int:
        """A top-up or recharge: checks the payment rules, adds a lot, settles any debt."""
        if amount <= 0:
            raise InvalidInput(_("a purchase must be more than zero"))
        payments.check_purchase(self.tenant, self._payment_method(), at)
        return self._credit(kind, amount, at, note)

    def _credit(self, kind: str, amount: Decimal, at: datetime, note: str) -> int:
        """A new lot of ``amount`` bought (or found) at ``at``, its entry, and the settlement of any debt."""
        months = service().lot_validity_months
        number = self._next_number()
        lot = Lot(
            tenant_id=self.tenant.id or 0,
            number=number,
            kind=kind,
            amount=amount,
            remaining=amount,
            purchased_at=at,
            expires_at=clock.add_months(at, months),
            note=note,
        )
        self.session.add(lot)
        self.session.flush()
        assert lot.id is not None
        self._entry(kind, amount, at, lot_id=lot.id, note=note)
        open_lot = _OpenLot(id=lot.id, number=number, purchased_at=at, expires_at=lot.expires_at, remaining=amount,
                            dirty=True)
        self.lots.append(open_lot)
        self.lots.sort(key=lambda x: (x.purchased_at, x.id))
        debt = -self.unfunded
        if debt > 0:
            settle = min(debt, amount)
            open_lot.remaining -= settle
            self._entry(EntryKind.SETTLEMENT, -settle, at, lot_id=lot.id, note="covers calls charged below zero")
            self._entry(EntryKind.SETTLEMENT, settle, at, note=f"settled by lot {number}")
        return number

    def _next_number(self) -> int:
        """The tenant's next lot number (1, 2, ...); counted once per transaction, then in memory."""
        if self._lot_numbers is None:
            t = Lot.__table__  # type: ignore[attr-defined]
            self._lot_numbers = int(self.session.execute(
                sa.select(sa.func.coalesce(sa.func.max(t.c.number), 0)).where(t.c.tenant_id == self.tenant.id)
            ).scalar() or 0)
        self._lot_numbers += 1
        return self._lot_numbers

    def adjust(self, amount: Decimal, at: datetime, note: str, *, lot: int | None = None) -> int | None:
        """A correction of the balance by a signed ``amount`` (an ``adjustment`` entry of its own; SPEC §3).

        A credit is a lot of its own (kind ``adjustment``, lasting as a purchase does), settling any
        debt first; a debit is taken as a charge is, oldest lot first, or from the lot numbered ``lot``
        first (how a mistyped top-up is reversed). Returns the new lot's number for a credit.
        """
        if amount == 0:
            raise InvalidInput(_("an adjustment of zero changes nothing"))
        if amount > 0:
            return self._credit(EntryKind.ADJUSTMENT, amount, at, note)
        before = self.balance
        if lot is not None:
            first = next((x for x in self.lots if x.number == lot), None)
            if first is None:
                # TRANSLATORS: {lot} is a lot's number, {tenant} the tenant's short name; "credits balance" is a
                # command: keep it as it is.
                raise InvalidInput(_("lot {lot} is not an open lot of {tenant} (see credits balance)").format(
                    lot=lot, tenant=self.tenant.slug))
            self.lots.remove(first)
            self.lots.insert(0, first)
        self._debit_lots(EntryKind.ADJUSTMENT, -amount, at, None, note)
        self.lots.sort(key=lambda x: (x.purchased_at, x.id))
        self._crossed_zero(before, at)
        return None

    def charge(self, amount: Decimal, at: datetime, *, call_id: int | None = None, note: str = "") -> Decimal:
        """Debit a charge (oldest lot first), queue the zero event, run auto-recharge.

        The caller has already decided the charge may go through (balance above
        zero before it: :meth:`can_charge`). Returns the balance after.
        """
        if amount < 0:
            raise ValueError("a charge is a positive amount")
        if amount == 0:
            return self.balance
        before = self.balance
        self._debit_lots(EntryKind.CHARGE, amount, at, call_id, note)
        self._crossed_zero(before, at)
        self.auto_recharge(at)
        return self.balance

    def charged(self, before: Decimal, at: datetime) -> None:
        """What follows a charge that took the balance from ``before`` to where it is now, debited by
        rating's walk (:mod:`credits_cli.rating.charging`) rather than :meth:`charge`: the zero event,
        and auto-recharge."""
        self._crossed_zero(before, at)
        self.auto_recharge(at)

    def can_charge(self) -> bool:
        return self.balance > 0

    def prepare(self, at: datetime) -> None:
        """Before a call at ``at``: expire old lots, then recharge if below the threshold."""
        if self.lots and self.lots[0].expires_at <= at:
            self.expire(at)
        self.auto_recharge(at)

    def auto_recharge(self, at: datetime) -> RechargeOutcome | None:
        """SPEC §6.6: below the threshold with auto-recharge on, try a recharge
        (after a failure, not again for an hour). The admins hear of a failure once per run of
        failures (SPEC §6.7): until a recharge succeeds or the payment method changes."""
        threshold = self._threshold
        if threshold is None or self.balance >= threshold:
            return None
        s = self.settings
        if s is None or not s.enabled or s.threshold is None or s.amount is None:
            return None
        if self.balance >= s.threshold:
            return None
        if s.last_failure_at is not None and at - s.last_failure_at < RECHARGE_RETRY and at >= s.last_failure_at:
            return None
        try:
            lot_id = self.purchase(EntryKind.RECHARGE, s.amount, at, note="auto-recharge")
        except PurchaseRefused as exc:
            reason = exc.reason
            s.last_failure_at = at
            first = s.failing_since is None
            if first:
                s.failing_since = at
            self.session.add(s)
            outcome = RechargeOutcome(False, s.amount, at, reason=reason)
            self.recharges.append(outcome)
            if first:
                with i18n.speaking(self.tenant.lang):  # the tenant's admins read why in their own language
                    told = payments.refusal(self.tenant, self._payment_method(), at) or reason
                notify.queue_event(self.session, self.tenant, Event.RECHARGE_FAILED, at, amount=s.amount,
                                   balance=self.balance, reason=told)
            return outcome
        s.last_failure_at = None
        s.failing_since = None
        self.session.add(s)
        outcome = RechargeOutcome(True, s.amount, at, lot_id=lot_id)
        self.recharges.append(outcome)
        notify.queue_event(self.session, self.tenant, Event.RECHARGE_SUCCEEDED, at, amount=s.amount,
                           balance=self.balance)
        return outcome

    def _crossed_zero(self, before: Decimal, at: datetime) -> None:
        if before > 0 >= self.balance:
            notify.queue_event(self.session, self.tenant, Event.BALANCE_ZERO, at, balance=self.balance)

    def _payment_method(self) -> Any:
        if not self._method_loaded:
            self._method = payments.get_method(self.session, self.tenant)
            self._method_loaded = True
        return self._method

    # --- writing -------------------------------------------------------------------
    def flush(self) -> None:
        """Write pending entries and lot remainders (bulk; same transaction)."""
        if self.pending:
            insert_entries(self.session, self.pending)
            self.pending = []
        dirty = [lot for lot in self.lots if lot.dirty]
        if dirty:
            self.session.execute(
                sa.update(Lot.__table__)  # type: ignore[attr-defined]
                .where(Lot.__table__.c.id == sa.bindparam("lot_id"))  # type: ignore[attr-defined]
                .values(remaining=sa.bindparam("new_remaining")),
                [{"lot_id": lot.id, "new_remaining": lot.remaining} for lot in dirty],
            )
            for lot in dirty:
                lot.dirty = False
        self.lots = [lot for lot in self.lots if lot.remaining > 0]

    def mark(self) -> BalanceMark:
        """Where the balance stands now, for the next :meth:`load` (call after :meth:`flush`)."""
        table = LedgerEntry.__table__  # type: ignore[attr-defined]
        last = self.session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar() or 0
        return BalanceMark(int(last), self.balance, self.unfunded)


_ENTRY_COLUMNS = ("tenant_id", "service_at", "posted_at", "kind", "amount", "lot_id", "call_id", "note")
#: Ledger rows per INSERT on SQLite (:func:`insert_entry_rows`): 800 values, under the 999 of older SQLite.
ENTRY_ROWS_PER_STATEMENT = 100


def insert_entries(session: Session, entries: list[dict[str, Any]]) -> None:
    """Bulk insert of ledger entries straight through the driver (rating writes one or more per
    charged call; SQLAlchemy's per-row bind processing costs more than the rest of the work).
    ``amount`` goes in as storage units (:func:`money.to_units`), times as SQLAlchemy stores them."""
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO ledger ({', '.join(_ENTRY_COLUMNS)}) VALUES ({', '.join([mark] * len(_ENTRY_COLUMNS))})"
    to_units, stamp = money.to_units, db_time if sqlite else _same
    conn.exec_driver_sql(
        sql,
        [
            (e["tenant_id"], stamp(e["service_at"]), stamp(e["posted_at"]), e["kind"], to_units(e["amount"]),
             e["lot_id"], e["call_id"], e["note"])
            for e in entries
        ],
    )


def insert_entry_rows(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert of ledger rows ``(tenant_id, service_at, posted_at, kind, amount units, lot_id, call_id,
    note)``, times as datetimes (see :func:`insert_entries`); on SQLite a service time may come as the text
    it is stored as already (:func:`credits_cli.queries.db_time`)."""
    if not rows:
        return
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one = f"({', '.join([mark] * len(_ENTRY_COLUMNS))})"  # a row's values
    sql = f"INSERT INTO ledger ({', '.join(_ENTRY_COLUMNS)}) VALUES "
    if conn.dialect.name == "sqlite":
        posted = {p: db_time(p) for p in {row[2] for row in rows}}  # one moment per transaction
        rows = [(t, s if s.__class__ is str else db_time(s), posted[p], k, a, lot, call, note)
                for t, s, p, k, a, lot, call, note in rows]
        # Many rows a statement: an import writes an entry per call it charges, and SQLite's work per
        # statement run (bind, step, reset) was most of their cost. The rows go in in order: the same ids.
        per = ENTRY_ROWS_PER_STATEMENT
        whole = len(rows) - len(rows) % per
        if whole:
            conn.exec_driver_sql(sql + ", ".join([one] * per),
                                 [tuple(chain.from_iterable(rows[i : i + per])) for i in range(0, whole, per)])
            rows = rows[whole:]
    if rows:
        conn.exec_driver_sql(sql + one, rows)


#: Charge rows per INSERT on SQLite (:func:`insert_charges`): four values bound a row, 800 a statement.
CHARGE_ROWS_PER_STATEMENT = 200


def insert_charges(session: Session, tenant_id: int, posted_at: datetime, service_at: list[Any],
                   amounts: list[int], lot_ids: list[int | None], call_ids: list[int]) -> None:
    """Bulk insert of charge entries, in order, as columns: each one's service time (on SQLite the text it
    is stored as, :func:`credits_cli.queries.db_time`, or a datetime), amount in storage units (negative),
    lot (None: the part no lot covers) and call. An import writes one for each call it charges: on SQLite
    what every entry shares (tenant, posting time, kind, note) is written into the statement once, and
    the rest is bound as it comes, without a tuple made per row in Python (:func:`insert_entry_rows`
    made two, and bound twice the values)."""
    if not amounts:
        return
    conn = session.connection()
    charge = EntryKind.CHARGE.value
    if conn.dialect.name != "sqlite":
        insert_entry_rows(session, list(zip(repeat(tenant_id), service_at, repeat(posted_at), repeat(charge), amounts,
                                            lot_ids, call_ids, repeat(""), strict=False)))
        return
    if any(s.__class__ is not str for s in service_at):
        service_at = [s if s.__class__ is str else db_time(s) for s in service_at]
    one = f"({int(tenant_id)}, ?, '{db_time(posted_at)}', '{charge}', ?, ?, ?, '')"  # (a time's text has no quote)
    sql = f"INSERT INTO ledger ({', '.join(_ENTRY_COLUMNS)}) VALUES "
    values = list(chain.from_iterable(zip(service_at, amounts, lot_ids, call_ids, strict=True)))
    per = CHARGE_ROWS_PER_STATEMENT
    whole = (len(amounts) - len(amounts) % per) * 4
    if whole:
        conn.exec_driver_sql(sql + ", ".join([one] * per),
                             [tuple(values[i : i + per * 4]) for i in range(0, whole, per * 4)])
    if whole < len(values):
        rest = values[whole:]
        conn.exec_driver_sql(sql + one, [tuple(rest[i : i + 4]) for i in range(0, len(rest), 4)])


def _same(value: Any) -> Any:
    return value


def sum_money(session: Session, column: Any, *where: Any) -> Decimal:
    """SUM of a Money column, added up as integer storage units."""
    total = session.execute(sa.select(sa.func.sum(sa.type_coerce(column, sa.BigInteger))).where(*where)).scalar()
    return money.from_units(int(total or 0))


# --- settings -----------------------------------------------------------------------


def set_auto_recharge(session: Session, tenant: Tenant, threshold: Decimal, amount: Decimal) -> AutoRecharge:
    minimum = service().minimum(tenant.currency)
    if amount < minimum:
        raise InvalidInput(
            # TRANSLATORS: {amount} and {minimum} are amounts of money with their currency.
            _("recharge amount {amount} is below the minimum purchase of {minimum}").format(
                amount=currencies.display(amount, tenant.currency),
                minimum=currencies.display(minimum, tenant.currency))
        )
    settings = session.get(AutoRecharge, tenant.id) or AutoRecharge(tenant_id=tenant.id or 0, updated_at=clock.now())
    settings.enabled = True
    settings.threshold = threshold
    settings.amount = amount
    settings.last_failure_at = None
    settings.failing_since = None
    settings.updated_at = clock.now()
    session.add(settings)
    session.flush()
    return settings


def disable_auto_recharge(session: Session, tenant: Tenant) -> AutoRecharge | None:
    settings = session.get(AutoRecharge, tenant.id)
    if settings is not None:
        settings.enabled = False
        settings.updated_at = clock.now()
        session.add(settings)
    return settings


def get_auto_recharge(session: Session, tenant: Tenant) -> AutoRecharge | None:
    return session.get(AutoRecharge, tenant.id)


# --- purchases from the command line ------------------------------------------------


def topup(
    session: Session, tenant: Tenant, amount: Decimal, note: str = "", at: datetime | None = None
) -> tuple[int, Decimal]:
    """One-off funding. Returns (the lot's number, balance after)."""
    minimum = service().minimum(tenant.currency)
    if amount < minimum:
        raise InvalidInput(
            # TRANSLATORS: {amount} and {minimum} are amounts of money with their currency.
            _("top-up of {amount} is below the minimum purchase of {minimum}").format(
                amount=currencies.display(amount, tenant.currency),
                minimum=currencies.display(minimum, tenant.currency))
        )
    now = clock.now()
    when = _not_after_now(at, now, _FUTURE_PURCHASE)
    account = Account.load(session, tenant)
    account.expire(now)
    lot_id = account.purchase(EntryKind.TOPUP, amount, when, note=note)
    account.expire(now)  # bought more than a year ago (--at): already expired
    account.flush()
    return lot_id, account.balance


#: What ``--at`` in the future is told, for each thing recorded (whole sentences, for the translators).
# TRANSLATORS: {at} is the time given (2026-11-28T09:30:00Z); --at is an option: keep it as it is.
_FUTURE_PURCHASE = N_("--at {at} is in the future; a purchase is recorded when it has happened")
# TRANSLATORS: {at} is the time given (2026-11-28T09:30:00Z); --at is an option: keep it as it is.
_FUTURE_ADJUSTMENT = N_("--at {at} is in the future; an adjustment is recorded when it has happened")
# TRANSLATORS: {at} is the time given (2026-11-28T09:30:00Z); --at is an option: keep it as it is. The
# balance is the one the Microsoft 365 admin center showed at that time.
_FUTURE_BALANCE = N_("--at {at} is in the future; a balance is recorded when it has happened")


def _not_after_now(at: datetime | None, now: datetime, refusal: str) -> datetime:
    """The service time of an entry: ``at`` (when it really happened), never after now; ``refusal`` is
    the message (marked with ``N_``) for a time after now."""
    if at is None:
        return now
    if at > now:
        raise InvalidInput(_(refusal).format(at=clock.iso(at)))
    return at


def adjust(
    session: Session, tenant: Tenant, amount: Decimal, reason: str, *, at: datetime | None = None,
    lot_id: int | None = None,
) -> tuple[int | None, Decimal]:
    """A signed correction with its reason (SPEC §2 ``adjust``; ``lot_id``: the tenant's lot number to take a
    debit from first). Returns (the new lot's number or None, balance)."""
    if not reason.strip():
        # TRANSLATORS: --reason TEXT is an option: keep it as it is (TEXT may be translated).
        raise InvalidInput(_("an adjustment needs a reason (--reason TEXT): the books keep why"))
    now = clock.now()
    when = _not_after_now(at, now, _FUTURE_ADJUSTMENT)
    account = Account.load(session, tenant)
    account.expire(now)
    lot = account.adjust(amount, when, " ".join(reason.split())[:500], lot=lot_id)
    account.expire(now)
    account.flush()
    return lot, account.balance


@dataclass(frozen=True)
class Assertion:
    """The balance the admin center showed at a moment, against the books (``balance assert``)."""

    at: datetime
    shown: Decimal
    books: Decimal  # what had happened by ``at`` (service time), as the books hold it now
    difference: Decimal  # shown - books: what an adjustment would add
    adjusted: bool


def assert_balance(
    session: Session, tenant: Tenant, shown: Decimal, *, at: datetime | None = None, adjust_to: bool = False,
    who: str = "",
) -> Assertion:
    """Compare the balance the Microsoft 365 admin center showed at ``at`` (default now) with the
    books: the entries of what had happened by then (purchases made, calls made, lots expired),
    whenever they were booked. With ``adjust_to``, book the difference as an adjustment dated ``at``."""
    now = clock.now()
    when = _not_after_now(at, now, _FUTURE_BALANCE)
    account = Account.load(session, tenant)
    account.expire(now)  # expiries up to now are in the books before they are compared
    account.flush()
    books = balance_served_by(session, tenant, when)
    difference = shown - books
    adjusted = False
    if adjust_to and difference != 0:
        by = f" (by {who})" if who else ""
        note = f"balance assert: the admin center showed {money.fmt(shown)} at {clock.iso(when)}{by}"
        account.adjust(difference, when, note)
        account.flush()
        adjusted = True
    return Assertion(when, shown, books, difference, adjusted)


def housekeep(session: Session, tenant: Tenant, at: datetime | None = None) -> Decimal:
    """Write off expired lots as of ``at`` (default now). Returns the balance."""
    account = Account.load(session, tenant)
    account.expire(at or clock.now())
    account.flush()
    return account.balance


# --- reading ------------------------------------------------------------------------


def balance(session: Session, tenant: Tenant) -> Decimal:
    return sum_money(session, LedgerEntry.amount, LedgerEntry.tenant_id == tenant.id)


def balance_mark(session: Session, tenant: Tenant) -> BalanceMark:
    """The tenant's balance and unfunded sum now, and the ledger's last id: what :meth:`Account.load` adds to.
    One statement, so one pass over the tenant's entries and one moment of the books for all three (an
    import began with three passes: its balance before, then the balance and the unfunded sum again)."""
    t = LedgerEntry.__table__  # type: ignore[attr-defined]
    units = sa.type_coerce(t.c.amount, sa.BigInteger)
    last = sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0)).scalar_subquery()
    row = session.execute(
        sa.select(last, sa.func.sum(units), sa.func.sum(sa.case((t.c.lot_id.is_(None), units), else_=0)))
        .where(t.c.tenant_id == tenant.id)
    ).one()
    return BalanceMark(int(row[0] or 0), money.from_units(int(row[1] or 0)), money.from_units(int(row[2] or 0)))


def balance_posted_before(session: Session, tenant: Tenant, moment: datetime) -> Decimal:
    """The balance as the books stood at ``moment``: every entry posted before it (posting order)."""
    return sum_money(session, LedgerEntry.amount, LedgerEntry.tenant_id == tenant.id, LedgerEntry.posted_at < moment)


def balance_served_by(session: Session, tenant: Tenant, moment: datetime) -> Decimal:
    """The balance of what had happened by ``moment`` (service time): purchases made, calls made and
    lots expired by then, whenever they were booked. What the admin center showed at that moment."""
    return sum_money(session, LedgerEntry.amount, LedgerEntry.tenant_id == tenant.id, LedgerEntry.service_at <= moment)


def open_lots(session: Session, tenant: Tenant) -> list[Lot]:
    return list(
        session.exec(
            select(Lot)
            .where(Lot.tenant_id == tenant.id, Lot.remaining > ZERO)
            .order_by(col(Lot.purchased_at), col(Lot.id))
        ).all()
    )


def entries(
    session: Session, tenant: Tenant, start: datetime | None = None, end: datetime | None = None
) -> list[Any]:
    """:func:`iter_entries` as a list, for a short period or a small ledger."""
    return list(iter_entries(session, tenant, start, end))


def count_entries(session: Session, tenant: Tenant, start: datetime | None = None, end: datetime | None = None) -> int:
    """How many entries were posted in [start, end)."""
    t = LedgerEntry.__table__  # type: ignore[attr-defined]
    query = sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant.id)
    if start is not None:
        query = query.where(t.c.posted_at >= start)
    if end is not None:
        query = query.where(t.c.posted_at < end)
    return int(session.execute(query).scalar() or 0)


def iter_entries(
    session: Session, tenant: Tenant, start: datetime | None = None, end: datetime | None = None, *,
    limit: int | None = None, newest: bool = False,
) -> Iterator[Any]:
    """The tenant's entries in posting order (the order they were booked), those posted in
    [start, end), streamed (a year of calls is a million entries): rows with ``id, service_at,
    posted_at, kind, amount, lot_id, call_id, note``, read while the session is open. ``newest``:
    the latest first; ``limit``: at most so many."""
    t = LedgerEntry.__table__  # type: ignore[attr-defined]
    lots = Lot.__table__  # type: ignore[attr-defined]
    query = sa.select(
        t.c.id, t.c.service_at, t.c.posted_at, t.c.kind, t.c.amount, lots.c.number.label("lot_id"), t.c.call_id,
        t.c.note,
    ).select_from(t.outerjoin(lots, lots.c.id == t.c.lot_id)).where(t.c.tenant_id == tenant.id)
    if start is not None:
        query = query.where(t.c.posted_at >= start)
    if end is not None:
        query = query.where(t.c.posted_at < end)
    query = query.order_by(t.c.id.desc() if newest else t.c.id).execution_options(yield_per=5000)
    if limit:
        query = query.limit(limit)
    yield from session.execute(query)


def adjustments(
    session: Session, tenant: Tenant, start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """Every adjustment entry (posted in [start, end) when given): corrections are always shown."""
    t = LedgerEntry.__table__  # type: ignore[attr-defined]
    lots = Lot.__table__  # type: ignore[attr-defined]
    query = sa.select(t.c.id, t.c.service_at, t.c.posted_at, t.c.amount, lots.c.number, t.c.note).select_from(
        t.outerjoin(lots, lots.c.id == t.c.lot_id)
    ).where(t.c.tenant_id == tenant.id, t.c.kind == EntryKind.ADJUSTMENT)
    if start is not None:
        query = query.where(t.c.posted_at >= start)
    if end is not None:
        query = query.where(t.c.posted_at < end)
    return [
        {"id": i, "occurred_at": service_at, "posted_at": posted_at, "amount": amount, "lot": lot_id, "note": note}
        for i, service_at, posted_at, amount, lot_id, note in session.execute(query.order_by(t.c.id))
    ]


def verify(session: Session, tenant: Tenant) -> dict[str, Any]:
    """Re-add everything and check the invariants; raise LedgerBroken at the first broken one."""
    tid = tenant.id
    ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
    lots_t = Lot.__table__  # type: ignore[attr-defined]
    amount = sa.type_coerce(ledger.c.amount, sa.BigInteger)

    def scalar(query: Any) -> int:
        return int(session.execute(query).scalar() or 0)

    total = scalar(sa.select(sa.func.sum(amount)).where(ledger.c.tenant_id == tid))
    unfunded = scalar(sa.select(sa.func.sum(amount)).where(ledger.c.tenant_id == tid, ledger.c.lot_id.is_(None)))
    remaining = scalar(
        sa.select(sa.func.sum(sa.type_coerce(lots_t.c.remaining, sa.BigInteger))).where(lots_t.c.tenant_id == tid)
    )
    entry_count = scalar(sa.select(sa.func.count()).select_from(ledger).where(ledger.c.tenant_id == tid))
    # Re-add in Python too, entry by entry, as integers.
    readd = 0
    for (value,) in session.execute(sa.select(ledger.c.amount).where(ledger.c.tenant_id == tid)):
        readd += money.to_units(value)
    if readd != total:
        raise LedgerBroken(
            # TRANSLATORS: {total} and {readd} are amounts (12.3400): the database's sum and the same entries
            # added up one by one.
            _("ledger sum {total} differs from the entries re-added {readd}").format(
                total=money.from_units(total), readd=money.from_units(readd))
        )
    per_lot = dict(
        session.execute(
            sa.select(ledger.c.lot_id, sa.func.sum(amount))
            .where(ledger.c.tenant_id == tid, ledger.c.lot_id.is_not(None))
            .group_by(ledger.c.lot_id)
        ).all()
    )
    lot_count = 0
    for lot in session.exec(select(Lot).where(Lot.tenant_id == tid).order_by(col(Lot.id))):
        lot_count += 1
        from_ledger = money.from_units(int(per_lot.get(lot.id, 0)))
        if lot.remaining != from_ledger:
            raise LedgerBroken(
                # TRANSLATORS: {lot} is a lot's number; {remaining} and {entries} are amounts (12.3400).
                _("lot {lot}: remaining {remaining} but its ledger entries add up to {entries}").format(
                    lot=lot.number, remaining=lot.remaining, entries=from_ledger)
            )
        if lot.remaining < 0 or lot.remaining > lot.amount:
            # TRANSLATORS: {lot} is a lot's number; {remaining} and {amount} are amounts (12.3400): what is left
            # of the lot, and what it was bought for.
            raise LedgerBroken(_("lot {lot}: remaining {remaining} outside 0..{amount}").format(
                lot=lot.number, remaining=lot.remaining, amount=lot.amount))
        credited = session.execute(
            sa.select(sa.func.sum(amount)).where(
                ledger.c.lot_id == lot.id,
                sa.or_(ledger.c.kind.in_(FUNDING_KINDS), sa.and_(ledger.c.kind == EntryKind.ADJUSTMENT, amount > 0)),
            )
        ).scalar()
        if money.from_units(int(credited or 0)) != lot.amount:
            # TRANSLATORS: {lot} is a lot's number; {amount} an amount (12.3400).
            raise LedgerBroken(_("lot {lot}: purchase of {amount} is not in the ledger").format(
                lot=lot.number, amount=lot.amount))
    if total != remaining + unfunded:
        raise LedgerBroken(
            # TRANSLATORS: {balance}, {remaining} and {unfunded} are amounts (12.3400): the balance, what is
            # left of the lots, and the entries without a lot (calls charged below zero).
            _("balance {balance} != lot remainders {remaining} + unfunded {unfunded}").format(
                balance=money.from_units(total), remaining=money.from_units(remaining),
                unfunded=money.from_units(unfunded))
        )
    if unfunded > 0:
        # TRANSLATORS: {amount} is an amount (12.3400).
        raise LedgerBroken(_("entries without a lot add up to a credit ({amount})").format(
            amount=money.from_units(unfunded)))
    if unfunded < 0 and remaining > 0:
        raise LedgerBroken(
            # TRANSLATORS: {owed} and {held} are amounts (12.3400).
            _("entries without a lot owe {owed} while lots still hold {held} "
              "(the last purchase should have settled them)").format(
                owed=money.from_units(-unfunded), held=money.from_units(remaining))
        )
    calls_t = Call.__table__  # type: ignore[attr-defined]
    call_charge = sa.type_coerce(calls_t.c.charge, sa.BigInteger)
    # Only a charged call carries a charge (a free, included or denied one with money on it is a
    # row someone changed, even when the ledger was changed to match).
    wrong = session.execute(
        sa.select(calls_t.c.external_id, calls_t.c.status, call_charge)
        .where(calls_t.c.tenant_id == tid,
               sa.or_(call_charge < 0, sa.and_(calls_t.c.status != Status.CHARGED, call_charge != 0)))
        .limit(1)
    ).first()
    if wrong is not None:
        raise LedgerBroken(
            # TRANSLATORS: {call} is a call's id from Microsoft's records; {status} a status as stored (free,
            # included, denied: keep it as it is); {charge} an amount (12.3400).
            _("call {call}: status {status} but it carries a charge of {charge}").format(
                call=wrong[0], status=wrong[1], charge=money.from_units(int(wrong[2])))
        )
    mismatched = session.execute(
        sa.select(calls_t.c.external_id, call_charge, sa.func.coalesce(sa.func.sum(amount), 0))
        .select_from(calls_t.outerjoin(ledger, ledger.c.call_id == calls_t.c.id))
        .where(calls_t.c.tenant_id == tid)
        .group_by(calls_t.c.id, calls_t.c.external_id, calls_t.c.charge)
        .having(call_charge + sa.func.coalesce(sa.func.sum(amount), 0) != 0)
        .limit(1)
    ).first()
    if mismatched is not None:
        raise LedgerBroken(
            # TRANSLATORS: {call} is a call's id from Microsoft's records; {charge} and {held} are amounts
            # (12.3400).
            _("call {call}: charged {charge} but the ledger holds {held}").format(
                call=mismatched[0], charge=money.from_units(int(mismatched[1])),
                held=money.from_units(-int(mismatched[2])))
        )
    orphan = session.execute(
        sa.select(sa.func.count())
        .select_from(ledger)
        .where(ledger.c.tenant_id == tid, ledger.c.kind == EntryKind.CHARGE, ledger.c.call_id.is_(None))
    ).scalar()
    pools_t = PoolUsage.__table__  # type: ignore[attr-defined]
    negative_pool = session.execute(
        sa.select(pools_t.c.month, pools_t.c.pool)
        .where(pools_t.c.tenant_id == tid, pools_t.c.used_seconds < 0)
        .limit(1)
    ).first()
    if negative_pool is not None:
        # TRANSLATORS: {pool} is a pool's name as stored (domestic:US, international, dialout); {month} a
        # month (2026-11).
        raise LedgerBroken(_("pool {pool} of {month} is below zero").format(
            pool=negative_pool[1], month=negative_pool[0]))
    # The duplicate guard (SPEC §6.1): each call's key, naming that call, and nothing else. The calls and the
    # guard are each read once, in their own order, for a count and a checksum of the (key, call) pairs
    # (finding each call's key in the guard took 40-100 s on a year of calls; these two reads take 4 s and
    # 3 s there, the file cached). Only when they differ is the guard searched, for a call to name.
    guards_t = CallGuard.__table__  # type: ignore[attr-defined]
    call_count, call_sum = session.execute(
        sa.select(sa.func.count(), sa.func.sum(_pair_check(calls_t.c.guard, calls_t.c.id)))
        .where(calls_t.c.tenant_id == tid)
    ).one()
    key_count, key_sum = session.execute(
        sa.select(sa.func.count(), sa.func.sum(_pair_check(guards_t.c.guard, guards_t.c.call_id)))
        .where(guards_t.c.tenant_id == tid)
    ).one()
    if key_count != call_count or int(key_sum or 0) != int(call_sum or 0):
        unguarded = session.execute(
            sa.select(calls_t.c.external_id)
            .select_from(calls_t.outerjoin(guards_t, sa.and_(guards_t.c.tenant_id == calls_t.c.tenant_id,
                                                             guards_t.c.guard == calls_t.c.guard)))
            .where(calls_t.c.tenant_id == tid,
                   sa.or_(guards_t.c.call_id.is_(None), guards_t.c.call_id != calls_t.c.id))
            .limit(1)
        ).first()
        if unguarded is not None:
            # TRANSLATORS: {call} is a call's id from Microsoft's records; the duplicate guard is what stops a
            # call being charged twice.
            raise LedgerBroken(_("call {call}: its key is not in the duplicate guard, so a second copy of it "
                                 "could be charged").format(call=unguarded[0]))
        # TRANSLATORS: {keys} and {calls} are numbers: the keys in the duplicate guard, and the calls.
        raise LedgerBroken(_("the duplicate guard does not match the calls: {keys} keys, {calls} calls").format(
            keys=i18n.number(int(key_count or 0)), calls=i18n.number(int(call_count or 0))))
    return {
        "balance": money.from_units(total),
        "entries": entry_count,
        "lots": lot_count,
        "lot_remainders": money.from_units(remaining),
        "unfunded": money.from_units(unfunded),
        "calls": int(call_count or 0),
        "charges_without_call": int(orphan or 0),
        "adjustments": adjustments(session, tenant),
    }


#: The checksum's modulus (the prime 2**31 - 1): a product of two parts below it (plus 16807) fits in 63
#: bits, each pair's term is below it, and a sum over 2**32 pairs stays inside 64 bits, on SQLite and
#: PostgreSQL alike (both keep the dividend's sign in ``%``).
_PAIR_MODULUS = 2**31 - 1


def _pair_check(key: Any, call_id: Any) -> Any:
    """A (key, call id) pair as one number below :data:`_PAIR_MODULUS` (in SQL), a product of the two parts:
    a key moved to another call, two calls' keys swapped or a key changed each change the sum of these but
    for about one chance in two thousand million (a sum of terms linear in the id would not see a swap)."""
    wide = sa.cast(call_id, sa.BigInteger)  # (a 32-bit id plus 16807 could leave 32 bits on PostgreSQL)
    return ((key % _PAIR_MODULUS) * (wide % _PAIR_MODULUS + 16807)) % _PAIR_MODULUS


def kinds_total(rows: Iterable[LedgerEntry]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.kind] = totals.get(row.kind, ZERO) + row.amount
    return totals
