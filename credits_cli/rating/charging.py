"""Rule 6, the balance, over the calls of a chunk still to be charged (SPEC §6.6, §6.7, §3).

Before each such call, lots that have expired are written off and, below the
threshold, a recharge is tried (after a failure, not again for an hour); the
call is charged in full when the balance is above zero, oldest lot first,
else it is ``denied`` (``no_balance``); after a charge the balance may cross
zero and auto-recharge may run again.

Most calls change nothing but the balance and the lot they draw on, so the
balance is walked with running sums: between two *stops* every call is
charged at once, its ledger entries cut along the lots' boundaries in
columns. A stop is a call before which a lot expires or a recharge is due,
or after which the balance falls below the threshold or to zero. At a stop
the scalar code of :class:`credits_cli.ledger.Account` runs (expiry,
purchase, settlement, the events and their messages), so the ledger's rules
live in one place. A month of a million calls has a few hundred stops.

Ledger entries and messages keep the order of the calls: what the walk writes
is a sequence of blocks, in order (:class:`Walk.blocks`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from credits_cli import ledger, money
from credits_cli.ledger import RECHARGE_RETRY, Account

if TYPE_CHECKING:
    import polars as pl

_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


def micros(at: datetime) -> int:
    """A naive datetime as microseconds since 1970 (what polars' ``dt.epoch("us")`` gives)."""
    return (at - _EPOCH) // _US


def moment(at_us: int) -> datetime:
    """:func:`micros` undone."""
    return _EPOCH + at_us * _US


@dataclass
class Charges:
    """Charge entries of consecutive calls, as columns: ``positions`` are the calls' places in the chunk."""

    positions: list[int] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)  # storage units, negative
    lots: list[int | None] = field(default_factory=list)  # lot id, None for the part no lot covers


@dataclass
class Walk:
    """What the walk decided: per call to charge, whether it was charged (else denied, no balance), and
    the ledger entries in order: :class:`Charges` blocks and lists of entries of ``Account`` (dicts)."""

    charged: list[bool]
    blocks: list[Charges | list[dict[str, Any]]]


def walk(
    account: Account,
    positions: list[int],
    at_us: list[int],
    amounts: list[int],
    before_call: Callable[[int], None],
) -> Walk:
    """Charge the calls at ``positions`` of a chunk (their starts ``at_us``, in order, in microseconds since
    1970 (:func:`micros`), and ``amounts`` in storage units, each >= 0) against ``account``.
    ``before_call(position)`` runs before any scalar step at a call (the chunk's pool messages up to that
    call go out first, in order)."""
    n = len(amounts)
    charged = [True] * n
    blocks: list[Charges | list[dict[str, Any]]] = []
    cum = list(accumulate(amounts))
    retry_us = RECHARGE_RETRY // _US

    settings = account.settings
    on = settings is not None and settings.enabled and settings.threshold is not None and settings.amount is not None
    threshold = money.to_units(settings.threshold) if on and settings is not None and settings.threshold else 0

    def scalar() -> None:
        """The entries the account's scalar step just made, in their place among the charges."""
        if account.pending:
            blocks.append(account.pending)
            account.pending = []

    def last_failure() -> int | None:
        s = account.settings
        return micros(s.last_failure_at) if s is not None and s.last_failure_at is not None else None

    def next_possible(i: int) -> int:
        """The first call from ``i`` on at which a recharge may be tried (none within an hour of a failure
        that came before it)."""
        lf = last_failure()
        if lf is None or at_us[i] < lf or at_us[i] >= lf + retry_us:
            return i
        return bisect_left(at_us, lf + retry_us, lo=i)

    def next_expiry(i: int) -> int:
        """The first call from ``i`` on before which an open lot expires."""
        soonest = min((lot.expires_at for lot in account.lots if lot.remaining > 0), default=None)
        return n if soonest is None else bisect_left(at_us, micros(soonest), lo=i)

    def balance() -> int:
        return money.to_units(account.balance)

    p = 0
    while p < n:
        b = balance()
        due_recharge = on and b < threshold and next_possible(p) == p
        if next_expiry(p) == p or due_recharge:
            before_call(positions[p])
            account.prepare(moment(at_us[p]))
            scalar()
            b = balance()
        if b <= 0:
            # Nothing to draw on: calls with something to charge are denied until a recharge is tried.
            q = n
            if on:
                q = min(q, next_possible(p + 1) if p + 1 < n else n)
            q = min(q, next_expiry(p + 1) if p + 1 < n else n)
            for i in range(p, q):
                charged[i] = amounts[i] == 0
            p = q
            continue
        base = cum[p - 1] if p else 0
        # After-charge stops: the balance falls to zero, or below the threshold when a recharge may be tried.
        stop = bisect_left(cum, base + b, lo=p)  # the first call after which the balance is <= 0
        if on:
            low = bisect_right(cum, base + b - threshold, lo=p)  # the first call after which it is below
            if low < n:
                possible = next_possible(low)
                if possible == low:
                    stop = min(stop, low)
        # Before-call stops: a lot expires, or a recharge becomes possible again while below the threshold.
        end = min(n, next_expiry(p + 1) if p + 1 < n else n)
        if on:
            low = bisect_right(cum, base + b - threshold, lo=p)
            if low < n and next_possible(low) != low:
                end = min(end, next_possible(low))
        if stop < end:
            _charge(account, blocks, positions, amounts, cum, p, stop + 1)
            if amounts[stop]:  # a charge of nothing is not followed by anything (Account.charge)
                before = b - (cum[stop - 1] - base if stop > p else 0)
                before_call(positions[stop])
                account.charged(money.from_units(before), moment(at_us[stop]))
                scalar()
            p = stop + 1
        else:
            _charge(account, blocks, positions, amounts, cum, p, end)
            p = end
    return Walk(charged, blocks)


def _charge(account: Account, blocks: list[Charges | list[dict[str, Any]]], positions: list[int],
            amounts: list[int], cum: list[int], p: int, q: int) -> None:
    """Charge calls ``p`` to ``q - 1`` (the balance is above zero before each): one entry per call and lot
    it draws on, oldest lot first; what no lot covers (the balance below zero), an entry without a lot.

    In the run's own count of what it took (0 before call ``p``), call ``j`` takes ``[cum[j] - amount, cum[j])``
    and lot ``k`` gives ``[edges[k], edges[k + 1])``: the calls that end within a lot are found by bisection,
    and only the call that straddles two lots is cut."""
    if q <= p:
        return
    base = cum[p - 1] if p else 0
    block = Charges()
    lots = [lot for lot in account.lots if lot.remaining > 0]
    edges = [0, *accumulate(money.to_units(lot.remaining) for lot in lots)]

    def add(j: int, part: int, lot_id: int | None) -> None:
        block.positions.append(positions[j])
        block.amounts.append(-part)
        block.lots.append(lot_id)

    i = p
    for k, lot in enumerate(lots):
        if i >= q:
            break
        low, high = edges[k], edges[k + 1]
        last = bisect_right(cum, base + high, lo=i, hi=q)  # calls i..last-1 end within this lot
        j = i
        if j < last and cum[j] - base - amounts[j] < low:  # began in the lot before
            add(j, cum[j] - base - low, lot.id)
            j += 1
        block.positions.extend(positions[x] for x in range(j, last) if amounts[x])
        block.amounts.extend(-amounts[x] for x in range(j, last) if amounts[x])
        block.lots.extend(lot.id for x in range(j, last) if amounts[x])
        if last < q:  # call ``last`` ends beyond this lot: its part here; it goes on in the next
            part = high - max(cum[last] - base - amounts[last], low)
            if part > 0:
                add(last, part, lot.id)
        i = last
    end = edges[-1]
    for j in range(i, q):  # beyond every lot
        part = cum[j] - base - max(cum[j] - base - amounts[j], end)
        if part > 0:
            add(j, part, None)
    _apply(account, block, cum[q - 1] - base)
    blocks.append(block)


def _apply(account: Account, block: Charges, taken: int) -> None:
    """The account after a block of charges: lots drawn down, the balance and what no lot covers."""
    per_lot: dict[int | None, int] = {}
    for lot_id, amount in zip(block.lots, block.amounts, strict=True):
        per_lot[lot_id] = per_lot.get(lot_id, 0) - amount
    for lot in account.lots:
        used = per_lot.get(lot.id)
        if used:
            lot.remaining -= money.from_units(used)
            lot.dirty = True
    account.balance -= money.from_units(taken)
    unfunded = per_lot.get(None)
    if unfunded:
        account.unfunded -= money.from_units(unfunded)


def write_entries(session: Session, blocks: list[Charges | list[dict[str, Any]]], tenant_id: int,
                  posted_at: datetime, call_ids: pl.Series, starts: pl.Series) -> None:
    """Write the ledger entries of a walk, in order: a charge names its call and is dated at its start
    (``call_ids`` and ``starts``: the chunk's, by position; on SQLite a start may be the text it is stored
    as), the other entries are :class:`Account`'s."""
    import polars as pl

    for block in blocks:
        if isinstance(block, Charges):
            at = pl.Series(block.positions, dtype=pl.Int64)
            ledger.insert_charges(session, tenant_id, posted_at, starts.gather(at).to_list(), block.amounts,
                                  block.lots, call_ids.gather(at).to_list())
        elif block:
            ledger.insert_entries(session, block)


__all__ = ["Charges", "Walk", "walk", "write_entries", "Decimal"]
