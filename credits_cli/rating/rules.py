"""The rule book of SPEC §6: what a call is, and what it costs. Where a call is priced.

:func:`decide` is the per-call decision as a pure function: from the record,
its user, where its number is and how much the month's pool has left, it
returns an immutable :class:`Decision`. It changes nothing: the caller
(:func:`credits_cli.rating.rate_batch`) takes the pool seconds it names, and for
a decision still to be charged (``status`` None) asks the balance (rule 6).
:func:`decide_export` is the same decision when the import debits the charge
Microsoft reported (``rate-cdrs --charges export``, rule 8).

Per call, in this order:

1. identity (the caller): a call id already seen is a duplicate;
2. kind (:func:`classify`): Direct Routing (``dr_*``, Graph ``Byot*``) and
   Operator Connect (``oc_*``, or a Graph row whose ``operator`` is a carrier
   other than Microsoft) are ``carrier``; ``conf_out`` is Audio Conferencing
   dial-out; ``user_out*`` (``user_out_conf``, a user's own three-way call,
   included) and ``ucap_out`` are outbound; ``*_in`` inbound, toll-free when a
   ``tollfree`` prefix matches the number that received the call, else
   ``free``; anything else is a rejected row. Calls of auto attendants and call
   queues (``ucap_*``, capability ``MCOEV_VIRTUALUSER``) are the tenant's,
   whatever their user columns hold: no user's license or plan applies;
3. what Microsoft leaves unpriced is ``free``: capability ``FREECALL``, and
   emergency calls (an emergency call type, or an emergency number of the
   caller's country). A number too short to be international (fewer than
   :data:`SHORT_DIGITS` digits) is never placed in a country by a guess nor
   priced by a prefix: it is ``unrated`` (``short_number``);
4. price: longest prefix; none -> ``unrated``; billed seconds per the entry;
   a call of 0 seconds bills nothing (``free``, ``zero_duration``);
5. pool: the month's pool covers what it has left of the billed seconds; the
   rest is charged (connection fee + per_minute x charged seconds / 60, the
   fee applying whenever something is charged); a pool that covers
   everything makes the call ``included``;
6. license: something to charge needs the user's license (``unlicensed``); a
   user the tenant does not know is ``unknown_user``; toll-free calls and
   bots' calls are the tenant's and need none;
7. balance (the caller): expiry and auto-recharge before the call; it is
   charged in full when the balance is above zero, else ``no_balance``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from credits_cli import ledger, money, phones
from credits_cli.history import Held, Timeline
from credits_cli.kinds import DOMESTIC_PLANS, CallKind, Plan, Reason, Section, Status
from credits_cli.models import Tenant
from credits_cli.money import ZERO
from credits_cli.rates import Rate, RateBook
from credits_cli.readers.base import CallRecord
from credits_cli.refdata import service

#: Distinct numbers remembered with their country during an import.
PLACED_NUMBERS = 100_000
#: Call types that are Audio Conferencing dial-out. (``user_out_conf`` is not: it is a user's own call
#: to two or more people, a Calling Plan call; the project's own CSV writes dial-out as conf_out.)
DIALOUT_TYPES = frozenset({"conf_out", "dialout"})
#: Call types billed by a carrier, not from credits: Direct Routing and Operator Connect.
CARRIER_PREFIXES = ("dr_", "byot", "oc_")
#: The capability of a resource account (auto attendant, call queue).
VIRTUAL_USER = "MCOEV_VIRTUALUSER"
#: The capability Microsoft gives a call it leaves unpriced.
FREECALL = "FREECALL"
#: Fewer visible digits than this is not an international number: never placed or priced by a guess.
SHORT_DIGITS = 7
#: ``--charges``: price with the rate table, or debit Microsoft's own charge.
CHARGES_TABLE, CHARGES_EXPORT = "table", "export"
#: The pools besides the domestic ones (``domestic:<country>``).
INTERNATIONAL_POOL = "international"
DIALOUT_POOL = "dialout"


# --- kinds ---------------------------------------------------------------------------


class CallClass(NamedTuple):
    """What a call's type (and the record's own marks) make of it (rule 2)."""

    kind: CallKind
    bot: bool  # an auto attendant's or call queue's call: the tenant's
    emergency: bool  # an emergency call type


def classify(record: CallRecord) -> CallClass | None:
    """The call's class, or None for an unknown call type (a rejected row)."""
    carrier_operator = bool(record.operator) and record.operator.strip().lower() != "microsoft"  # type: ignore[union-attr]
    key = (record.call_type, record.direct_routing or carrier_operator, record.capability == VIRTUAL_USER)
    try:
        return _classes[key]
    except KeyError:
        pass
    found = _classify(*key)
    if len(_classes) < 1000:
        _classes[key] = found
    return found


_classes: dict[tuple[str, bool, bool], CallClass | None] = {}


def _classify(call_type: str, carrier: bool, virtual_user: bool) -> CallClass | None:
    ct = call_type.strip().lower()
    bot = virtual_user or ct.startswith("ucap") or "_ucap" in ct or "bot" in ct
    emergency = "emergency" in ct
    if carrier or ct.startswith(CARRIER_PREFIXES):
        return CallClass(CallKind.CARRIER, bot, emergency)
    if ct in DIALOUT_TYPES:
        return CallClass(CallKind.DIALOUT, bot, emergency)
    if ct.startswith("user_out") or ct in ("ucap_out", "outbound") or (emergency and not ct.endswith("_in")):
        return CallClass(CallKind.OUTBOUND, bot, emergency)
    if ct.endswith("_in") or ct == "inbound":
        return CallClass(CallKind.INBOUND, bot, emergency)
    return None


# --- what is known during an import -----------------------------------------------------


@dataclass
class Context:
    """Everything rating needs that does not change during an import (loaded by
    :func:`credits_cli.rating.store.load_context`)."""

    tenant: Tenant
    book: RateBook | None  # None: --charges export with no table of the tenant's own
    users: dict[str, tuple[int, Timeline]]  # upn -> (user id, what they held when: credits_cli.history)
    zone_a: frozenset[str]
    alerts: tuple[int, ...]
    #: number as exported -> (visible digits, country): the same numbers recur across an import
    placed: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: the balance after the last committed batch of this import (see :class:`ledger.BalanceMark`)
    balance_mark: ledger.BalanceMark | None = None
    #: table: price with the active rate table; export: debit what Microsoft charged (rule 8)
    charges: str = CHARGES_TABLE
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
        placeable = len(visible) >= SHORT_DIGITS or "*" in number  # a short code is never placed by a guess
        found = (visible, phones.country_of(visible) if visible and placeable else None)
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
    cls: CallClass,
    user: Held | None,
    visible: str,
    country: str | None,
    pool_left: PoolLeft,
) -> Decision:
    """Rules 2 to 6 for one call whose class is known (see the module docstring). ``user`` is what
    the call's user held at its start (None: a user the tenant does not know, or a bot's call)."""
    first = _unpriced(ctx, rec, cls, user, visible, country)
    if first is not None:
        return first
    kind = cls.kind
    domestic: bool | None = None
    lookup = ctx.book.lookup if ctx.book is not None else _no_rate
    if kind is CallKind.INBOUND:
        rate = lookup(Section.TOLLFREE, visible) if visible else None
        if rate is None:
            return _FREE_INBOUND
        kind = CallKind.TOLLFREE
    else:
        rate = lookup(Section.DIALOUT if kind is CallKind.DIALOUT else Section.OUTBOUND, visible) if visible else None
        domestic = _domestic(ctx, rec, user, country)
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

    denial = _license(rec, cls, kind, user)
    if denial is not None:
        return Decision(kind, Status.DENIED, denial, domestic, rate, billed, pool, covered, charged, ZERO)
    return Decision(kind, None, "", domestic, rate, billed, pool, covered, charged, rate.price(charged))


def microsoft_total(rec: CallRecord) -> Decimal | None:
    """What Microsoft charged the tenant for a call: its charge plus its connection fee (the two are
    separate columns of the export, as the dial-out report adds them up), to the ledger's places;
    None when the export says nothing of it."""
    if rec.charge is None:
        return None
    return money.round_money(rec.charge + (rec.connection_fee or ZERO))


def decide_export(
    ctx: Context, rec: CallRecord, cls: CallClass, user: Held | None, visible: str, country: str | None
) -> Decision:
    """The decision when the import debits what Microsoft charged (``--charges export``, rule 8).

    The kind, the unpriced calls, the license and the balance are ruled as in :func:`decide`; the
    amount is Microsoft's (:func:`microsoft_total`, which the caller has checked is there and in the
    tenant's currency) and no pool of ours is drawn on (Microsoft's charge has its pools in it). A
    call Microsoft charged nothing for is ``included`` (its plan or pool covered it), or ``free``
    when it was a call in to a number that is not toll-free. The active rate table, when there is
    one, only names the destination.
    """
    first = _unpriced(ctx, rec, cls, user, visible, country)
    if first is not None:
        return first
    total = microsoft_total(rec) or ZERO
    kind = cls.kind
    lookup = ctx.book.lookup if ctx.book is not None else _no_rate
    domestic: bool | None = None
    if kind is CallKind.INBOUND:
        rate = lookup(Section.TOLLFREE, visible) if visible else None
        if rate is None and total == 0:
            return _FREE_INBOUND
        kind = CallKind.TOLLFREE  # Microsoft charged a call in: one of the tenant's toll-free numbers
    else:
        rate = lookup(Section.DIALOUT if kind is CallKind.DIALOUT else Section.OUTBOUND, visible) if visible else None
        domestic = _domestic(ctx, rec, user, country)
    billed = rate.billed_seconds(rec.duration_seconds) if rate else rec.duration_seconds
    if total == 0:  # Microsoft's plan or pool covered it (ours are not drawn on in this mode)
        return Decision(kind, Status.INCLUDED, "", domestic, rate, billed, None, 0, 0, ZERO)
    denial = _license(rec, cls, kind, user)
    status = Status.DENIED if denial is not None else None
    return Decision(kind, status, denial or "", domestic, rate, billed, None, 0, billed,
                    ZERO if denial is not None else total)


def _unpriced(
    ctx: Context, rec: CallRecord, cls: CallClass, user: Held | None, visible: str, country: str | None
) -> Decision | None:
    """Calls the rules settle before any price: carrier, FREECALL, emergency, too short to place."""
    kind = cls.kind
    if kind is CallKind.CARRIER:
        return _CARRIER
    if rec.capability == FREECALL:
        return Decision(kind, Status.FREE, Reason.FREECALL, None, None, 0, None, 0, 0, ZERO)
    if kind is CallKind.INBOUND:
        return None
    if cls.emergency or (visible and len(visible) < SHORT_DIGITS and _emergency(ctx, rec, user, visible)):
        return Decision(kind, Status.FREE, Reason.EMERGENCY, None, None, 0, None, 0, 0, ZERO)
    if visible and len(visible) < SHORT_DIGITS and "*" not in rec.number:
        return Decision(kind, Status.UNRATED, Reason.SHORT_NUMBER, None, None, 0, None, 0, 0, ZERO)
    return None


def _emergency(ctx: Context, rec: CallRecord, user: Held | None, visible: str) -> bool:
    home = user.country if user else (rec.user_country or ctx.tenant.country)
    return phones.is_emergency(visible, home)


def _domestic(ctx: Context, rec: CallRecord, user: Held | None, country: str | None) -> bool | None:
    if country is None:
        return None
    home = user.country if user else (rec.user_country or ctx.tenant.country)
    return service().same_domestic_area(home, country)


def _license(rec: CallRecord, cls: CallClass, kind: CallKind, user: Held | None) -> Reason | None:
    """Rule 6: something to charge needs the user's license; toll-free calls and bots' calls are the tenant's."""
    if kind is CallKind.TOLLFREE or cls.bot or not rec.user_upn:
        return None
    if user is None:
        return Reason.UNKNOWN_USER
    return None if user.licensed else Reason.UNLICENSED


def _no_rate(section: str, digits: str) -> Rate | None:
    return None


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
