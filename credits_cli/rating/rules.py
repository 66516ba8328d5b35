"""The rule book of SPEC §6: what a call is, and what it costs. Where a call is priced.

The rules are columnar operations over a chunk of calls in start-time order
(:mod:`credits_cli.rating.chunk`): :func:`prepare` adds what each call alone
decides (its class, place, user, rate and pool: row by row, so an import runs
it a chunk ahead, in another thread), then :func:`accept` and :func:`decide`
turn the chunk's columns into the columns of a decision, and change nothing
but the small state carried from chunk to chunk (how much each month's pool
has used: :class:`Pools`, passed in). The balance (rule 6) is walked by
:mod:`credits_cli.rating.charging` over the calls still to be charged.

Per call, in this order:

1. identity (:func:`accept`): a call id the tenant already has, or one an
   earlier call of the import had, is a duplicate;
2. kind (:func:`classify`, worked out once per distinct call type): Direct
   Routing (``dr_*``, Graph ``Byot*``) and Operator Connect (``oc_*``, or a
   Graph row whose ``operator`` is a carrier other than Microsoft) are
   ``carrier``; ``conf_out`` is Audio Conferencing dial-out; ``user_out*``
   (``user_out_conf``, a user's own three-way call, included) and
   ``ucap_out`` are outbound; ``*_in`` inbound, toll-free when a ``tollfree``
   prefix matches the number that received the call, else ``free``; anything
   else is a rejected row. Calls of auto attendants and call queues
   (``ucap_*``, capability ``MCOEV_VIRTUALUSER``) are the tenant's, whatever
   their user columns hold: no user's license or plan applies;
3. what Microsoft leaves unpriced is ``free``: capability ``FREECALL``, and
   emergency calls (an emergency call type, or an emergency number of the
   caller's country). A number too short to be international (fewer than
   :data:`SHORT_DIGITS` digits) is never placed in a country by a guess nor
   priced by a prefix: it is ``unrated`` (``short_number``);
4. price: longest prefix (one join per prefix length of the section); none ->
   ``unrated``; billed seconds per the entry; a call of 0 seconds bills
   nothing (``free``, ``zero_duration``);
5. pool: the month's pool covers what it has left of the billed seconds (a
   running sum per month and pool, in start order: the call that crosses the
   end is split); the rest is charged, connection fee included;
6. license: a call with something to charge needs the license the user held
   at the call's start, else ``denied`` (``unlicensed``; ``unknown_user`` for a
   UPN the tenant does not know); toll-free calls and bots' calls are the
   tenant's and need none;
7. balance (:mod:`.charging`): expiry and auto-recharge before the call; it is
   charged in full when the balance is above zero, else ``no_balance``.

With ``--charges export`` (rule 8) the amount is Microsoft's own charge and
connection fee (:func:`decide` with ``ctx.charges == "export"``): no pool of
ours is drawn on; a call Microsoft charged nothing for is ``included``.

Money is integers of storage units throughout (prices in int64, rounded half
up in integers); :func:`price` falls back to Python's integers for a product
that could leave int64.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from credits_cli import ledger, money, phones
from credits_cli.history import Held, Timeline
from credits_cli.i18n import _
from credits_cli.kinds import DOMESTIC_PLANS, CallKind, Plan, Reason, Section, Status
from credits_cli.models import Tenant
from credits_cli.rates import Rate, RateBook
from credits_cli.refdata import service

if TYPE_CHECKING:
    import polars as pl

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
#: A product of rate units and seconds above this leaves int64 room for the rounding: priced in Python.
SAFE_PRODUCT = 2**61


# --- kinds ---------------------------------------------------------------------------


class CallClass(NamedTuple):
    """What a call's type (and the record's own marks) make of it (rule 2)."""

    kind: CallKind
    bot: bool  # an auto attendant's or call queue's call: the tenant's
    emergency: bool  # an emergency call type


def call_class(call_type: str, carrier: bool, virtual_user: bool) -> CallClass | None:
    """The class of one distinct (call type, carried by a carrier, resource account); None: unknown."""
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


def classify(frame: pl.DataFrame) -> pl.DataFrame:
    """The chunk with ``kind`` (null: an unknown call type), ``bot`` and ``emergency`` (rule 2),
    worked out once per distinct combination."""
    import polars as pl

    keyed = frame.with_columns(
        (pl.col("direct_routing") | (pl.col("operator").is_not_null()
                                     & (pl.col("operator").str.strip_chars().str.to_lowercase() != "microsoft"))
         .fill_null(False)).alias("_carrier"),
        (pl.col("capability") == VIRTUAL_USER).fill_null(False).alias("_virtual"),
    )
    keys = keyed.select("call_type", "_carrier", "_virtual").unique()
    found = [call_class(t, c, v) for t, c, v in keys.iter_rows()]
    classes = keys.with_columns(
        pl.Series("kind", [f.kind.value if f else None for f in found], dtype=pl.String),
        pl.Series("bot", [f.bot if f else False for f in found], dtype=pl.Boolean),
        pl.Series("emergency", [f.emergency if f else False for f in found], dtype=pl.Boolean),
    )
    return keyed.join(classes, on=["call_type", "_carrier", "_virtual"], how="left", maintain_order="left").drop(
        "_carrier", "_virtual")


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
    #: the balance after the last committed batch of this import (see :class:`ledger.BalanceMark`)
    balance_mark: ledger.BalanceMark | None = None
    #: table: price with the active rate table; export: debit what Microsoft charged (rule 8)
    charges: str = CHARGES_TABLE
    #: the keys of the calls the transaction in progress has written (:class:`credits_cli.rating.store.NewKeys`),
    #: put in the duplicate guard at its end; None: each chunk puts its own
    new_keys: Any = None
    #: the calls the transaction in progress has rated, put in ``calls`` at its end
    #: (:class:`credits_cli.rating.store.StagedCalls`); None: each chunk inserts its own
    staged: Any = None
    #: the users the transaction in progress has written calls of (checked at its end: see
    #: :func:`credits_cli.rating.store.check_references`); None: not kept
    users_named: set[int] | None = None
    #: month -> pool -> seconds, for a month whose pools are not in the books yet (see capacities())
    _capacities: dict[str, dict[str, int]] = field(default_factory=dict)
    _states: Any = None  # the users' states as a frame (see held())
    _rates: Any = None  # the book's entries as a frame (see rates())
    _lookups: dict[str, Any] = field(default_factory=dict)  # section and digits -> the longest-prefix expression
    #: held while one of the parts above is made: an import prepares chunks in its reading thread, and
    #: again in its rating thread a chunk of a transaction that starts over
    _making: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def capacities(self, month: str) -> dict[str, int]:
        """Seconds of each pool of ``month`` (``YYYY-MM``): the users who held the plan (or Audio
        Conferencing) at any moment of that month (SPEC §6.4)."""
        found = self._capacities.get(month)
        if found is None:
            first = datetime(int(month[:4]), int(month[5:7]), 1)
            end = datetime(first.year + first.month // 12, first.month % 12 + 1, 1)
            found = self._capacities[month] = pool_capacities(t.during(first, end) for _, t in self.users.values())
        return found

    def held(self) -> pl.DataFrame:
        """Every state of every user, from when it holds (``since``, the earliest time for the first):
        ``user_upn, user_id, since, u_country, u_plan, u_conferencing, u_licensed``, sorted by ``since``."""
        with self._making:
            if self._states is None:
                import polars as pl

                rows: list[tuple[Any, ...]] = []
                for upn, (user_id, timeline) in self.users.items():
                    for since, state in zip(timeline.starts, timeline.states, strict=True):
                        rows.append((upn, user_id, since or datetime(1, 1, 1), state.country, state.plan,
                                     state.conferencing, state.licensed))
                self._states = pl.DataFrame(rows, orient="row", schema={
                    "user_upn": pl.String, "user_id": pl.Int64, "since": pl.Datetime("us"),
                    "u_country": pl.String, "u_plan": pl.String, "u_conferencing": pl.Boolean,
                    "u_licensed": pl.Boolean,
                }).sort("since")
            return self._states

    def rates(self) -> pl.DataFrame:
        """The book's entries, one row each by ``rate`` (their index in :meth:`RateBook.entries`)."""
        with self._making:
            if self._rates is None:
                import polars as pl

                entries = self.book.entries() if self.book is not None else []
                units = [r.units() for r in entries]
                self._rates = pl.DataFrame({
                    "rate": pl.Series(range(len(entries)), dtype=pl.Int32),
                    "rate_prefix": pl.Series([r.prefix for r in entries], dtype=pl.String),
                    "rate_name": pl.Series([r.name for r in entries], dtype=pl.String),
                    "r_min": pl.Series([r.minimum_seconds for r in entries], dtype=pl.Int64),
                    "r_inc": pl.Series([r.increment_seconds for r in entries], dtype=pl.Int64),
                    "r_pm": pl.Series([u[0] for u in units], dtype=pl.Int64),
                    "r_fee": pl.Series([u[1] for u in units], dtype=pl.Int64),
                    "r_den": pl.Series([60 * 10 ** (u[2] - r.decimals) for r, u in zip(entries, units, strict=True)],
                                       dtype=pl.Int64),
                    "r_up": pl.Series([10 ** (money.SCALE - r.decimals) for r in entries], dtype=pl.Int64),
                })
            return self._rates


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


# --- identity and what is refused (rules 1, 2, 8) ------------------------------------------


def accept(ctx: Context, frame: pl.DataFrame, existing: set[str]) -> pl.DataFrame:
    """The chunk with ``fate``: ``duplicate`` (an id the tenant has, ``existing``, or that an earlier call
    of the chunk that is not refused has), ``rejected`` (with ``why``), or null for a call to rate; and
    ``other_currency`` (priced by Microsoft in another currency than the tenant's)."""
    import polars as pl

    export = ctx.charges == CHARGES_EXPORT
    currency = ctx.tenant.currency
    other = (pl.col("currency").is_not_null() & (pl.col("currency") != currency)).fill_null(False)
    unknown = frame.filter(pl.col("kind").is_null()).select("call_type").unique()
    # TRANSLATORS: a rejected row; {kind} is the call type as the file has it, in quotes ('xyz_in').
    shown = {t: _("unknown call type {kind}").format(kind=repr(t)) for (t,) in unknown.iter_rows()}
    why: Any = pl.when(pl.col("kind").is_null()).then(
        pl.col("call_type").replace_strict(shown, default=None, return_dtype=pl.String))
    if export:
        why = why.when((pl.col("kind") != CallKind.CARRIER.value) & other).then(
            pl.col("currency").replace_strict(_priced_elsewhere(frame, currency), default=None,
                                              return_dtype=pl.String)
        ).when((pl.col("kind") != CallKind.CARRIER.value) & pl.col("ms_charge").is_null()).then(
            pl.lit(_("the row has no charge of Microsoft's to debit (--charges export)"))
        )
    marked = frame.with_row_index("_pos").with_columns(why.otherwise(None).alias("why"), other.alias("other_currency"))
    # the first call of each id that is not refused (a window, not a join: no copy of the chunk)
    first = pl.when(pl.col("why").is_null()).then(pl.col("_pos")).min().over("external_id")
    duplicate = _among(pl.col("external_id"), existing) | (first < pl.col("_pos")).fill_null(False)
    return marked.with_columns(
        pl.when(duplicate).then(pl.lit("duplicate")).when(pl.col("why").is_not_null()).then(pl.lit("rejected"))
        .otherwise(None).alias("fate")
    ).drop("_pos")


# --- the decision ---------------------------------------------------------------------------


def _among(expr: pl.Expr, values: Iterable[str]) -> pl.Expr:
    """Whether each value of ``expr`` is one of ``values`` (text)."""
    import polars as pl

    return expr.is_in(pl.Series(list(values), dtype=pl.String).implode())


def place(frame: pl.DataFrame) -> pl.DataFrame:
    """``visible`` (the digits before a mask) and ``country`` of each call's number. The country is
    decided by the first digits (:func:`credits_cli.phones.country_key_lengths`): worked out once per key."""
    import polars as pl

    plain = pl.col("number").str.contains(r"^\+[0-9]+$")
    odd = frame.filter(~plain).select("number").unique()
    odd_visible = {n: phones.visible_digits(phones.normalise(n)) for (n,) in odd.iter_rows()}
    out = frame.with_columns(
        pl.when(plain).then(pl.col("number").str.slice(1))
        .otherwise(pl.col("number").replace_strict(odd_visible, default="", return_dtype=pl.String))
        .alias("visible")
    )
    placeable = (pl.col("visible") != "") & (
        (pl.col("visible").str.len_chars() >= SHORT_DIGITS) | pl.col("number").str.contains("*", literal=True))
    out = out.with_columns(pl.when(placeable).then(_country_key(pl.col("visible"))).alias("_key"))
    keys = out.filter(pl.col("_key").is_not_null()).select("_key", "visible").unique(
        "_key", keep="first", maintain_order=True)
    countries = {k: phones.country_of(v) for k, v in keys.iter_rows()}
    return out.with_columns(
        pl.col("_key").replace_strict(countries, default=None, return_dtype=pl.String).alias("country")
    ).drop("_key")


def _country_key(visible: pl.Expr) -> pl.Expr:
    """Each number's deciding digits (:func:`credits_cli.phones.country_key_lengths`), by its first three."""
    import polars as pl

    n = visible.str.slice(0, 3).replace_strict(phones.country_key_lengths(), default=0, return_dtype=pl.Int64)
    return pl.when(n > 0).then(visible.str.slice(0, n)).otherwise(visible)


def users_at(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """What each call's user held at its start (``user_id`` and ``u_*``; null: a bot's call, no user, or a
    UPN the tenant does not know). The chunk is in start order: one as-of join."""
    import polars as pl

    states = ctx.held()
    out = frame.with_columns(
        pl.when(pl.col("bot") | (pl.col("user_upn") == "")).then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("user_upn")).alias("_upn")
    )
    joined = out.join_asof(states.rename({"user_upn": "_upn"}), left_on="start", right_on="since", by="_upn",
                           strategy="backward", check_sortedness=False)
    return joined.drop("_upn", "since")


def _lookup(ctx: Context, section: str, digits: pl.Expr) -> pl.Expr:
    """The index of the entry with the longest prefix of ``digits`` in ``section`` (one mapping per prefix
    length, longest first); dial-out falls back to outbound."""
    key = f"{section}\x00{digits}"
    with ctx._making:
        found = ctx._lookups.get(key)
        if found is None:  # the same for every chunk of the import: made once
            found = ctx._lookups[key] = _prefix_lookup(ctx, section, digits)
    return found


def _prefix_lookup(ctx: Context, section: str, digits: pl.Expr) -> pl.Expr:
    import polars as pl

    book = ctx.book
    if book is None:
        return pl.lit(None, dtype=pl.Int32)
    index = book.index()
    tries: list[pl.Expr] = []
    for sec in ((section, Section.OUTBOUND.value) if section == Section.DIALOUT else (section,)):
        for length in book.lengths[sec]:
            mapping = {p: index[(sec, p)] for p in book.sections[sec] if len(p) == length}
            tries.append(digits.str.slice(0, length).replace_strict(mapping, default=None, return_dtype=pl.Int32))
    return pl.coalesce(tries) if tries else pl.lit(None, dtype=pl.Int32)


def _emergency_numbers(frame: pl.DataFrame) -> set[tuple[str, str]]:
    """(visible, home) of the short numbers that are an emergency number of the caller's country."""
    import polars as pl

    short = frame.filter((pl.col("visible") != "") & (pl.col("visible").str.len_chars() < SHORT_DIGITS))
    pairs = short.select("visible", "home").unique()
    return {(v, h) for v, h in pairs.iter_rows() if phones.is_emergency(v, h)}


def _domestic(frame: pl.DataFrame) -> pl.Expr:
    import polars as pl

    pairs = frame.filter(pl.col("country").is_not_null()).select("home", "country").unique()
    svc = service()
    same = [f"{h}\x00{c}" for h, c in pairs.iter_rows() if svc.same_domestic_area(h, c)]
    return (
        pl.when(pl.col("country").is_null()).then(pl.lit(None, dtype=pl.Boolean))
        .otherwise(pl.concat_str("home", pl.lit("\x00"), "country").pipe(_among, same))
    )


#: The column a chunk that :func:`prepare` has been through has (and a chunk as read has not).
PREPARED = "_settled"


def prepare(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """Rules 2 to 4 as far as each call alone decides them: the chunk (as read) with its class
    (:func:`classify`), its number placed (:func:`place`), what its user held at its start
    (:func:`users_at`), ``home``, ``month``, what leaves it unpriced (``_u_status``, ``_u_reason`` and
    :data:`PREPARED`), its ``rate`` (the longest prefix) with the entry's columns, ``domestic``, and the
    pool it would draw on (``_pool``, :func:`_pool_of`).

    Row by row, from nothing but the row and ``ctx`` (which an import does not change): a row comes out
    the same whichever rows are with it, and an import prepares a chunk in its reading thread while the
    chunk before is rated (:func:`credits_cli.rating.rate_records`). What depends on the calls before
    (identity, pools, the balance) is :func:`accept`'s, :func:`decide`'s and :mod:`.charging`'s."""
    import polars as pl

    tenant_country = ctx.tenant.country
    f = users_at(ctx, place(classify(frame)))
    f = f.with_columns(
        pl.coalesce("u_country", pl.col("user_country").replace("", None), pl.lit(tenant_country)).alias("home"),
        pl.format("{}-{}", pl.col("start").dt.year().cast(pl.String).str.zfill(4),
                  pl.col("start").dt.month().cast(pl.String).str.zfill(2)).alias("month"),
    )
    emergency_pairs = [f"{v}\x00{h}" for v, h in _emergency_numbers(f)]
    kind, visible = pl.col("kind"), pl.col("visible")
    short = (visible != "") & (visible.str.len_chars() < SHORT_DIGITS)
    emergency = pl.col("emergency") | (short & _among(pl.concat_str(visible, pl.lit("\x00"), "home"),
                                                      emergency_pairs))
    inbound = kind == CallKind.INBOUND.value
    carrier = kind == CallKind.CARRIER.value
    unpriced_status = (
        pl.when(carrier).then(pl.lit(Status.CARRIER.value))
        .when(pl.col("capability") == FREECALL).then(pl.lit(Status.FREE.value))
        .when(inbound).then(None)
        .when(emergency).then(pl.lit(Status.FREE.value))
        .when(short & ~pl.col("number").str.contains("*", literal=True)).then(pl.lit(Status.UNRATED.value))
        .otherwise(None)
    )
    unpriced_reason = (
        pl.when(carrier).then(pl.lit(""))
        .when(pl.col("capability") == FREECALL).then(pl.lit(Reason.FREECALL.value))
        .when(inbound).then(None)
        .when(emergency).then(pl.lit(Reason.EMERGENCY.value))
        .when(short & ~pl.col("number").str.contains("*", literal=True)).then(pl.lit(Reason.SHORT_NUMBER.value))
        .otherwise(None)
    )
    has_number = visible != ""
    f = f.with_columns(
        unpriced_status.fill_null(pl.lit("")).alias("_u_status"),
        unpriced_reason.alias("_u_reason"),
        pl.when(~has_number).then(None)
        .when(inbound).then(_lookup(ctx, Section.TOLLFREE.value, visible))
        .when(kind == CallKind.DIALOUT.value).then(_lookup(ctx, Section.DIALOUT.value, visible))
        .otherwise(_lookup(ctx, Section.OUTBOUND.value, visible)).alias("rate"),
    ).with_columns(
        (pl.col("_u_status") != "").alias(PREPARED),
    )
    f = f.with_columns(
        pl.when(pl.col(PREPARED) | inbound).then(pl.lit(None, dtype=pl.Boolean)).otherwise(_domestic(f))
        .alias("domestic")
    ).join(ctx.rates(), on="rate", how="left", maintain_order="left")
    return f.with_columns(_pool_of(ctx, f).alias("_pool"))


def decide(ctx: Context, frame: pl.DataFrame, pools: Any) -> pl.DataFrame:
    """Rules 2 to 6 (8 with ``--charges export``) for the calls of a chunk to rate, in start order
    (``frame``: calls :func:`prepare` has been through, duplicates and rejected rows taken out): the
    chunk with the decision's columns ``kind`` (final), ``status`` (null: to be charged when the balance
    allows), ``reason``, ``domestic``, ``country`` (to store), ``rate_prefix``, ``rate_name``,
    ``billed_seconds``, ``pool``, ``pool_seconds``, ``charged_seconds``, ``amount`` (storage units) and
    ``user_id``. ``pools`` (:class:`credits_cli.rating.store.Pools`) gives what each month's pool has
    left, and takes what the chunk used (:func:`draw`)."""
    import polars as pl

    export = ctx.charges == CHARGES_EXPORT
    f = frame
    kind, visible = pl.col("kind"), pl.col("visible")
    inbound = kind == CallKind.INBOUND.value
    has_number = visible != ""
    settled = pl.col(PREPARED)  # left unpriced by the call alone (prepare)
    d = pl.col("duration_seconds")
    billed_by_rate = (
        pl.when(pl.col("rate").is_null() | (d <= 0)).then(0)
        .otherwise(pl.max_horizontal(((d + pl.col("r_inc") - 1) // pl.col("r_inc")) * pl.col("r_inc"),
                                     pl.col("r_min")))
    )
    total = pl.col("ms_total").fill_null(0)
    if export:
        billed = pl.when(pl.col("rate").is_null()).then(d).otherwise(billed_by_rate)
    else:
        billed = billed_by_rate
    f = f.with_columns(billed.alias("billed_seconds"))
    # Where each call stands before its pool: settled, or priced with something to bill.
    tollfree = inbound & (pl.col("rate").is_not_null() | (pl.lit(export) & (total != 0)))
    final_kind = pl.when(settled).then(kind).when(tollfree).then(pl.lit(CallKind.TOLLFREE.value)).otherwise(
        kind)
    if export:
        status = (
            pl.when(settled).then(pl.col("_u_status"))
            .when(inbound & ~tollfree).then(pl.lit(Status.FREE.value))
            .when(total == 0).then(pl.lit(Status.INCLUDED.value))
            .otherwise(None)
        )
        reason = pl.when(settled).then(pl.col("_u_reason")).otherwise(pl.lit(""))
    else:
        status = (
            pl.when(settled).then(pl.col("_u_status"))
            .when(inbound & ~tollfree).then(pl.lit(Status.FREE.value))
            .when(pl.col("rate").is_null()).then(pl.lit(Status.UNRATED.value))
            .when(pl.col("billed_seconds") == 0).then(pl.lit(Status.FREE.value))
            .otherwise(None)
        )
        reason = (
            pl.when(settled).then(pl.col("_u_reason"))
            .when(inbound & ~tollfree).then(pl.lit(""))
            .when(pl.col("rate").is_null()).then(
                pl.when(has_number).then(pl.lit(Reason.NO_RATE.value)).otherwise(pl.lit(Reason.NO_NUMBER.value)))
            .when(pl.col("billed_seconds") == 0).then(pl.lit(Reason.ZERO_DURATION.value))
            .otherwise(pl.lit(""))
        )
    f = f.with_columns(final_kind.alias("kind"), status.alias("status"), reason.alias("reason"))
    # A settled call, and a free call in, shows no rate and bills nothing.
    no_rate = settled | (inbound & ~tollfree)
    f = f.with_columns(
        pl.when(no_rate).then(None).otherwise(pl.col("rate")).alias("rate"),
        pl.when(no_rate).then(0).otherwise(pl.col("billed_seconds")).alias("billed_seconds"),
    )
    f = _pools(ctx, f, pools, export)
    pending = pl.col("status").is_null()
    charged = pl.col("billed_seconds") - pl.col("pool_seconds")
    f = f.with_columns(
        pl.when(pending & (charged == 0) & pl.lit(not export)).then(pl.lit(Status.INCLUDED.value))
        .otherwise(pl.col("status")).alias("status"),
        pl.when(pending & ((charged != 0) | pl.lit(export))).then(charged).otherwise(0).alias("charged_seconds"),
    )
    pending = pl.col("status").is_null()
    denial = (
        pl.when((kind == CallKind.TOLLFREE.value) | pl.col("bot") | (pl.col("user_upn") == "")).then(None)
        .when(pl.col("user_id").is_null()).then(pl.lit(Reason.UNKNOWN_USER.value))
        .when(~pl.col("u_licensed")).then(pl.lit(Reason.UNLICENSED.value))
        .otherwise(None)
    )
    f = f.with_columns(denial.alias("_denial"))
    f = f.with_columns(
        pl.when(pending & pl.col("_denial").is_not_null()).then(pl.lit(Status.DENIED.value))
        .otherwise(pl.col("status")).alias("status"),
        pl.when(pending & pl.col("_denial").is_not_null()).then(pl.col("_denial"))
        .otherwise(pl.col("reason")).alias("reason"),
    )
    f = f.with_columns(
        pl.when(pl.col("status").is_null()).then(total if export else price(f)).otherwise(0).alias("amount"),
        pl.when(pl.col("reason") == Reason.EMERGENCY.value).then(None).otherwise(pl.col("country")).alias("country"),
        pl.when(pl.col("bot") | (pl.col("user_upn") == "")).then(None).otherwise(pl.col("user_id")).alias("user_id"),
    )
    f = f.with_columns(
        pl.when(pl.col("rate").is_null()).then(None).otherwise(pl.col("rate_prefix")).alias("rate_prefix"),
        pl.when(pl.col("rate").is_null()).then(None).otherwise(pl.col("rate_name")).alias("rate_name"),
    )
    return f


def price(f: pl.DataFrame) -> pl.Expr | pl.Series:
    """connection fee + per_minute x charged seconds / 60, rounded once, half up, to the table's decimals,
    in storage units (SPEC §4), for each call's rate: in int64, whose room is checked first; a chunk whose
    products could leave it is priced with Python's integers."""
    import polars as pl

    charged = pl.col("billed_seconds") - pl.col("pool_seconds")
    widest = f.select(
        (pl.col("r_pm").abs().max().fill_null(0), charged.abs().max().fill_null(0), pl.col("r_fee").abs().max()
         .fill_null(0))
    ).row(0)
    if widest[0] * widest[1] + widest[2] * 60 < SAFE_PRODUCT:
        numerator = pl.col("r_fee") * 60 + pl.col("r_pm") * charged
        den = pl.col("r_den")
        return pl.when(charged <= 0).then(0).otherwise((2 * numerator + den) // (2 * den) * pl.col("r_up"))
    rows = f.select("r_fee", "r_pm", "r_den", "r_up", charged.alias("c")).iter_rows()
    return pl.Series("amount", [0 if c is None or c <= 0 or pm is None
                                else (2 * (fee * 60 + pm * c) + den) // (2 * den) * up
                                for fee, pm, den, up, c in rows], dtype=pl.Int64)


def _pools(ctx: Context, f: pl.DataFrame, pools: Any, export: bool) -> pl.DataFrame:
    """Rule 4, minutes included: the pool each call to charge draws on, and what it covers (a running
    sum per month and pool); the pools (``pools``) take the seconds used."""
    import polars as pl

    if export:  # Microsoft's charge has its pools in it: none of ours is drawn on
        return f.with_columns(pl.lit(None, dtype=pl.String).alias("pool"), pl.lit(0, dtype=pl.Int64)
                              .alias("pool_seconds"))
    name = pl.when(pl.col("status").is_null()).then(pl.col("_pool"))  # (a call settled draws on none)
    f = f.with_row_index("_pos").with_columns(name.alias("pool"))
    drawing = f.filter(pl.col("pool").is_not_null()).select("_pos", "month", "pool", "billed_seconds", "start")
    if drawing.height == 0:
        return f.drop("_pos").with_columns(pl.lit(0, dtype=pl.Int64).alias("pool_seconds"),
                                           pl.lit(None, dtype=pl.String).alias("pool"))
    groups = drawing.select("month", "pool").unique(maintain_order=True)
    left = {(m, p): pools.left(m, p) for m, p in groups.iter_rows()}
    drawing = drawing.with_columns(
        (pl.col("billed_seconds").cum_sum().over("month", "pool") - pl.col("billed_seconds")).alias("_before"),
        pl.concat_str("month", pl.lit("\x00"), "pool").replace_strict(
            {f"{m}\x00{p}": v for (m, p), v in left.items()}, return_dtype=pl.Int64).alias("_left"),
    ).with_columns(
        pl.min_horizontal(pl.col("billed_seconds"), pl.max_horizontal(pl.col("_left") - pl.col("_before"), 0))
        .alias("pool_seconds")
    )
    pools.draw(drawing.filter(pl.col("pool_seconds") > 0).select("_pos", "month", "pool", "pool_seconds", "start"))
    # each drawing call's seconds put at its place (not a join: no copy of the chunk)
    seconds = pl.zeros(f.height, dtype=pl.Int64, eager=True).scatter(drawing["_pos"], drawing["pool_seconds"])
    return f.drop("_pos").with_columns(
        seconds.alias("pool_seconds"),
        pl.when(seconds > 0).then(pl.col("pool")).otherwise(None).alias("pool"),
    )



def _pool_of(ctx: Context, f: pl.DataFrame) -> pl.Expr:
    """The pool each call of ``f`` (:func:`prepare`'s columns) draws on if it has something to charge
    (rule 5; null: none): a user's domestic call their country's domestic pool when their plan has one,
    an international call the international pool with the international plan, a dial-out to a Zone A
    country the dial-out pool with Audio Conferencing. A bot's call, or one of no known user, none."""
    import polars as pl

    homes = f.filter(pl.col("u_country").is_not_null()).select("u_country").unique()
    domestic_names = {c: domestic_pool(c) for (c,) in homes.iter_rows()}
    zone_a = sorted(ctx.zone_a)
    kind = pl.col("kind")
    return (
        pl.when(pl.col("user_id").is_null() | pl.col("bot") | (pl.col("user_upn") == "")).then(None)
        .when((kind == CallKind.OUTBOUND.value) & pl.col("domestic").is_not_null()).then(
            pl.when(pl.col("domestic")).then(
                pl.when(_among(pl.col("u_plan"), [p.value for p in DOMESTIC_PLANS]))
                .then(pl.col("u_country").replace_strict(domestic_names, default=None, return_dtype=pl.String))
                .otherwise(None))
            .otherwise(pl.when(pl.col("u_plan") == Plan.DOMESTIC_INTERNATIONAL.value)
                       .then(pl.lit(INTERNATIONAL_POOL)).otherwise(None)))
        .when((kind == CallKind.DIALOUT.value) & pl.col("u_conferencing") & _among(pl.col("country"), zone_a))
        .then(pl.lit(DIALOUT_POOL))
        .otherwise(None)
    )


def _priced_elsewhere(frame: Any, currency: str) -> dict[str, str]:
    """Why a row priced in another currency is refused (--charges export), per currency of the chunk."""
    import polars as pl

    found = frame.filter(pl.col("currency").is_not_null()).select("currency").unique()
    # TRANSLATORS: a rejected row; {currency} and {tenant_currency} are ISO 4217 codes (EUR, USD).
    return {code: _("priced by Microsoft in {currency}; the tenant keeps {tenant_currency}").format(
        currency=code, tenant_currency=currency) for (code,) in found.iter_rows()}

__all__ = ["CHARGES_EXPORT", "CHARGES_TABLE", "PREPARED", "Context", "Rate", "accept", "classify", "decide", "prepare"]
