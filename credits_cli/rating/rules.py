"""The rule book of SPEC §6: what a call is, and what it costs. Where a call is priced.

:func:`decide` is the per-call decision as a pure function: from the record,
its user, where its number is and how much the month's pool has left, it
returns an immutable :class:`Decision`. It changes nothing: the caller
(:func:`credits_cli.rating.rate_batch`) takes the pool seconds it names, and for
a decision still to be charged (``status`` None) asks the balance (rule 6).

Per call, in this order:

1. identity (the caller): a call id already seen is a duplicate;
2. kind (:func:`kind_of`): ``conf_out`` and ``user_out_conf`` are dial-out
   (checked before the ``user_out*`` prefix); ``user_out*`` and ``ucap_out``
   outbound; ``*_in`` inbound, toll-free when a ``tollfree`` prefix matches the
   number that received the call, else ``free``; Direct Routing is
   ``carrier``; anything else is a rejected row;
3. price: longest prefix; none -> ``unrated``; billed seconds per the entry;
   a call of 0 seconds bills nothing (``free``, ``zero_duration``);
4. pool: the month's pool covers what it has left of the billed seconds; the
   rest is charged (connection fee + per_minute x charged seconds / 60, the
   fee applying whenever something is charged); a pool that covers
   everything makes the call ``included``;
5. license: something to charge needs the user's license (``unlicensed``); a
   user the tenant does not know is ``unknown_user``; toll-free calls and
   calls of bots (auto attendants, call queues: no UPN) are the tenant's and
   need none;
6. balance (the caller): expiry and auto-recharge before the call; it is
   charged in full when the balance is above zero, else ``no_balance``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from credits_cli import ledger, phones
from credits_cli.history import Held, Timeline
from credits_cli.kinds import DOMESTIC_PLANS, CallKind, Plan, Reason, Section, Status
from credits_cli.models import Tenant
from credits_cli.money import ZERO
from credits_cli.rates import Rate, RateBook
from credits_cli.readers.base import CallRecord
from credits_cli.refdata import service

#: Distinct numbers remembered with their country during an import.
PLACED_NUMBERS = 100_000
#: Call types that are Audio Conferencing dial-out (checked before the user_out* prefix).
DIALOUT_TYPES = frozenset({"conf_out", "user_out_conf", "dialout"})
#: The pools besides the domestic ones (``domestic:<country>``).
INTERNATIONAL_POOL = "international"
DIALOUT_POOL = "dialout"


# --- kinds ---------------------------------------------------------------------------


def kind_of(record: CallRecord) -> CallKind | None:
    """outbound | dialout | inbound | carrier, or None for an unknown call type."""
    key = (record.call_type, record.direct_routing)
    try:
        return _kinds[key]
    except KeyError:
        pass
    kind = _kind(*key)
    if len(_kinds) < 1000:
        _kinds[key] = kind
    return kind


_kinds: dict[tuple[str, bool], CallKind | None] = {}


def _kind(call_type: str, direct_routing: bool) -> CallKind | None:
    ct = call_type.strip().lower()
    if direct_routing or ct.startswith("dr_") or ct.startswith("byot"):
        return CallKind.CARRIER
    if ct in DIALOUT_TYPES:  # before user_out*: user_out_conf is dial-out
        return CallKind.DIALOUT
    if ct.startswith("user_out") or ct in ("ucap_out", "outbound"):
        return CallKind.OUTBOUND
    if ct.endswith("_in") or ct == "inbound":
        return CallKind.INBOUND
    return None


# --- what is known during an import -----------------------------------------------------


@dataclass
class Context:
    """Everything rating needs that does not change during an import (loaded by
    :func:`credits_cli.rating.store.load_context`)."""

    tenant: Tenant
    book: RateBook
    users: dict[str, tuple[int, Timeline]]  # upn -> (user id, what they held when: credits_cli.history)
    zone_a: frozenset[str]
    alerts: tuple[int, ...]
    #: number as exported -> (visible digits, country): the same numbers recur across an import
    placed: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: the balance after the last committed batch of this import (see :class:`ledger.BalanceMark`)
    balance_mark: ledger.BalanceMark | None = None
    #: month -> pool -> seconds, for a month whose pools are not in the books yet (see capacities())
    _capacities: dict[str, dict[str, int]] = field(default_factory=dict)

    def place(self, number: str) -> tuple[str, str | None]:
        """Visible digits and country of an exported number, remembered (bounded)."""
        try:
            return self.placed[number]
        except KeyError:
            pass
        if number[:1] == "+" and number[1:].isdigit() and number.isascii():  # the usual form: nothing to clean
            visible = number[1:]
        else:
            visible = phones.visible_digits(phones.normalise(number))
        found = (visible, phones.country_of(visible) if visible else None)
        if len(self.placed) >= PLACED_NUMBERS:
            self.placed.clear()
        self.placed[number] = found
        return found

    def capacities(self, month: str) -> dict[str, int]:
        """Seconds of each pool of ``month`` (``YYYY-MM``): the users who held the plan (or Audio
        Conferencing) at any moment of that month (SPEC §6.4)."""
        found = self._capacities.get(month)
        if found is None:
            first = datetime(int(month[:4]), int(month[5:7]), 1)
            end = datetime(first.year + first.month // 12, first.month % 12 + 1, 1)
            found = self._capacities[month] = pool_capacities(t.during(first, end) for _, t in self.users.values())
        return found


def domestic_pool(country: str) -> str:
    return f"domestic:{service().domestic_pool_for(country)}"


def pool_capacities(held: Iterable[Iterable[Held]]) -> dict[str, int]:
    """Seconds of each pool for a month, from what each user held during it: a user counts once
    toward each pool they qualified for at any moment (SPEC §6.4)."""
    svc = service()
    capacities: dict[str, int] = {INTERNATIONAL_POOL: 0, DIALOUT_POOL: 0}
    for states in held:
        pools: dict[str, int] = {}
        for u in states:
            if u.plan in DOMESTIC_PLANS:
                pools.setdefault(domestic_pool(u.country), svc.domestic_minutes_for(u.country) * 60)
            if u.plan == Plan.DOMESTIC_INTERNATIONAL:
                pools[INTERNATIONAL_POOL] = svc.international_minutes * 60
            if u.conferencing:
                pools[DIALOUT_POOL] = svc.dialout_minutes_per_user * 60
        for pool, seconds in pools.items():
            capacities[pool] = capacities.get(pool, 0) + seconds
    return capacities


# --- the decision ---------------------------------------------------------------------------


class Decision(NamedTuple):
    """What the rules make of one call. ``status`` None: ``amount`` is to be charged when the
    balance allows (rule 6); every other status is final."""

    kind: CallKind
    status: Status | None
    reason: str
    domestic: bool | None
    rate: Rate | None
    billed_seconds: int
    pool: str | None  # the pool that covered part of it
    pool_seconds: int
    charged_seconds: int
    amount: Decimal


_CARRIER = Decision(CallKind.CARRIER, Status.CARRIER, "", None, None, 0, None, 0, 0, ZERO)
_FREE_INBOUND = Decision(CallKind.INBOUND, Status.FREE, "", None, None, 0, None, 0, 0, ZERO)

#: How much a pool has left: (month ``YYYY-MM``, pool name) -> seconds.
PoolLeft = Callable[[str, str], int]


def decide(
    ctx: Context,
    rec: CallRecord,
    kind: CallKind,
    user: Held | None,
    visible: str,
    country: str | None,
    pool_left: PoolLeft,
) -> Decision:
    """Rules 2 to 5 for one call whose kind is known (see the module docstring)."""
    if kind is CallKind.CARRIER:
        return _CARRIER
    domestic: bool | None = None
    lookup = ctx.book.lookup
    if kind is CallKind.INBOUND:
        rate = lookup(Section.TOLLFREE, visible) if visible else None
        if rate is None:
            return _FREE_INBOUND
        kind = CallKind.TOLLFREE
    else:
        rate = lookup(Section.DIALOUT if kind is CallKind.DIALOUT else Section.OUTBOUND, visible) if visible else None
        if country is not None:
            home = user.country if user else (rec.user_country or ctx.tenant.country)
            domestic = service().same_domestic_area(home, country)
        if rate is None:
            reason = Reason.NO_RATE if visible else Reason.NO_NUMBER
            return Decision(kind, Status.UNRATED, reason, domestic, None, 0, None, 0, 0, ZERO)

    billed = rate.billed_seconds(rec.duration_seconds)
    if billed == 0:  # a call of 0 seconds: nothing to bill, nothing taken from a pool
        return Decision(kind, Status.FREE, Reason.ZERO_DURATION, domestic, rate, 0, None, 0, 0, ZERO)

    # Minutes included (§6.4)
    pool = _pool_for(kind, user, domestic, country, ctx.zone_a)
    covered = min(pool_left(f"{rec.start.year:04d}-{rec.start.month:02d}", pool), billed) if pool else 0
    if not covered:
        pool = None
    charged = billed - covered
    if charged == 0:
        return Decision(kind, Status.INCLUDED, "", domestic, rate, billed, pool, covered, 0, ZERO)

    # License (§6.5): toll-free calls and bots' calls are the tenant's
    if kind is not CallKind.TOLLFREE and rec.user_upn:
        denial = Reason.UNKNOWN_USER if user is None else Reason.UNLICENSED if not user.licensed else None
        if denial is not None:
            return Decision(kind, Status.DENIED, denial, domestic, rate, billed, pool, covered, charged, ZERO)
    return Decision(kind, None, "", domestic, rate, billed, pool, covered, charged, rate.price(charged))


def _pool_for(
    kind: CallKind, user: Held | None, domestic: bool | None, country: str | None, zone_a: frozenset[str]
) -> str | None:
    """The pool a call draws on first, if any (§6.4)."""
    if user is None:
        return None
    if kind is CallKind.OUTBOUND and domestic is not None:
        if domestic:
            return domestic_pool(user.country) if user.plan in DOMESTIC_PLANS else None
        return INTERNATIONAL_POOL if user.plan == Plan.DOMESTIC_INTERNATIONAL else None
    if kind is CallKind.DIALOUT and user.conferencing and country in zone_a:
        return DIALOUT_POOL
    return None
